"""What bench/checkins.py and bench/payments.py share: signing in, buying through the API and
localstripe (the set-up, not measured), and sending a batch of whole requests through
`encore-bench http-fire` (the measured steps), with the figures of its answers.

The HTTP client of the flash sale (bench/flash-sale/flash.py) is reused for small batches.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "flash-sale"))
import flash  # noqa: E402  (bench/flash-sale/flash.py)

log = flash.log
percentile = flash.percentile
ORGANISER = "organiser@encore.test"
DEMO_PASSWORD = "encore-demo-2026"


def sign_in(base: str, email: str = ORGANISER, password: str = DEMO_PASSWORD) -> str:
    return flash.one(base, "POST", "/api/sessions", {"email": email, "password": password})["token"]


def stripe(stripe_base: str, method: str, path: str, **form) -> dict:
    """A call to localstripe with a secret key; the JSON answer (raises on an error status)."""
    response = requests.request(method, stripe_base + path, data=form, timeout=30,
                                headers={"Authorization": "Bearer sk_test_encore_bench"})
    response.raise_for_status()
    return response.json()


def payment_method(stripe_base: str, number: str = "4242424242424242") -> str:
    """A card PaymentMethod, as Stripe.js makes one in the customer's browser."""
    return stripe(stripe_base, "POST", "/v1/payment_methods", **{
        "type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034",
        "card[cvc]": "123"})["id"]


def raw(method: str, path: str, host: str, body: bytes | None = None, headers: tuple = ()) -> bytes:
    """A whole HTTP/1.1 request, as http-fire sends it."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: encore-bench"]
    lines.extend(headers)
    if body is not None:
        lines.append("Content-Type: application/json")
    lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def json_body(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def fire(sender: str, base: str, requests_: list[bytes], concurrency: int, drop_body_of=(201,),
         pid_file: str | None = None):
    """Sends every request once over `concurrency` keep-alive connections with http-fire
    (whose pid goes to `pid_file`, for the sampler: what was made before is not the sender's).

    Returns (results, sender CPU seconds, wall clock of the first request in Unix ns); a
    result is (status, start ns, end ns from the first request, body or None)."""
    url = urllib.parse.urlsplit(base)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "requests")
        with open(path, "w") as f:
            f.write("".join(base64.b64encode(r).decode() + "\n" for r in requests_))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [sender, "http-fire", "--host", url.hostname, "--port", str(url.port or 80),
                   "--concurrency", str(concurrency), "--requests", path, "--out", os.path.join(tmp, "answers"),
                   "--clock-out", os.path.join(tmp, "clock")]
        for status in drop_body_of or (999,):  # none given: http-fire's default drops 201s
            command += ["--drop-body-of", str(status)]
        process = subprocess.Popen(command)
        if pid_file:
            with open(pid_file, "w") as f:
                f.write(f"{process.pid}\n")
        if process.wait() != 0:
            raise SystemExit(f"error: http-fire exited with {process.returncode}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        results = []
        for line in open(os.path.join(tmp, "answers")):
            status, t0, t1, body = (line.rstrip("\n").split(" ") + [""])[:4]
            results.append((int(status), int(t0), int(t1), base64.b64decode(body) if body else None))
        wall = int(open(os.path.join(tmp, "clock")).read().strip())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return results, cpu, wall


def figures(results) -> dict:
    """Rate, latencies and statuses of a batch of answers (times from the first request)."""
    statuses = collections.Counter(r[0] for r in results)
    latencies = sorted((r[2] - r[1]) / 1e6 for r in results)
    elapsed = max((r[2] for r in results), default=0) / 1e9
    return {
        "requests": len(results),
        "elapsed_s": round(elapsed, 3),
        "per_s": round(len(results) / elapsed, 1) if elapsed > 0 else 0,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else 0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def error_codes(results) -> dict:
    """The error codes of the answers that carry one, counted ("-" for none)."""
    codes = collections.Counter()
    for status, _, _, body in results:
        if status < 400:
            continue
        try:
            codes[f"{status} {json.loads(body)['error']['code']}"] += 1
        except Exception:
            codes[f"{status} -"] += 1
    return dict(codes)


# ----------------------------------------------------------------------------- buying

class Shopper:
    """One customer's keep-alive session with Encore (requests), for the set-up."""

    def __init__(self, base: str, token: str, email: str):
        self.base = base
        self.email = email
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None, expected=(200, 201)) -> dict:
        for attempt in range(5):
            response = self.session.request(method, self.base + path, json=body, timeout=60)
            if response.status_code in (502, 503) and attempt < 4:  # a worker recycled: try again
                time.sleep(0.2)
                continue
            if response.status_code not in expected:
                raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:400]}")
            return response.json() if response.content else {}
        raise AssertionError("unreachable")

    def checkout(self, items: list[tuple[str, str, int]], delivery: dict) -> dict:
        """Fills the cart and confirms it: the checkout (held, its payment's intent made)."""
        for concert_id, level_id, quantity in items:
            self.call("POST", "/api/cart/items", {"concertId": concert_id, "ticketLevelId": level_id,
                                                  "quantity": quantity})
        self.call("PUT", "/api/cart/delivery", delivery)
        return self.call("POST", "/api/cart/confirm")["checkout"]

    def pay(self, checkout_id: str, payment_method_id: str) -> dict:
        paid = self.call("POST", f"/api/checkouts/{checkout_id}/pay", {"paymentMethod": payment_method_id})
        if paid["outcome"]["status"] != "paid":
            raise RuntimeError(f"checkout {checkout_id} not paid: {paid['outcome']}")
        return paid["checkout"]


def in_parallel(shoppers: list[Shopper], jobs: list, work, concurrency: int, what: str) -> list:
    """Runs work(shopper, job) for every job, each shopper doing one job at a time, at most
    `concurrency` at once; the results in the jobs' order. Progress every 10 s."""
    results = [None] * len(jobs)
    todo: queue.Queue = queue.Queue()
    for i, job in enumerate(jobs):
        todo.put((i, job))
    free: queue.Queue = queue.Queue()
    for shopper in shoppers:
        free.put(shopper)
    errors = []
    done = [0]
    lock = threading.Lock()

    def worker():
        while not errors:
            try:
                i, job = todo.get_nowait()
            except queue.Empty:
                return
            shopper = free.get()
            try:
                results[i] = work(shopper, job)
            except Exception as error:  # noqa: BLE001  (reported below, the set-up stops)
                errors.append(f"{what} #{i}: {error}")
            finally:
                free.put(shopper)
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(concurrency, len(shoppers)))]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    last = t0
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            log(f"{what}: {done[0]}/{len(jobs)} after {last - t0:.0f} s")
    if errors:
        sys.exit(f"error: {len(errors)} failed; first: {errors[0]}")
    return results


def shoppers_from(base: str, customers_file: str) -> list[Shopper]:
    """The customers flash.py registered and signed in (one JSON line each: email, token)."""
    return [Shopper(base, c["token"], c["email"]) for c in map(json.loads, open(customers_file))]


def create_concert(base: str, token: str, artist: str, levels: list[dict]) -> str:
    body = {"artist": artist, "title": "Benchmark night", "venue": "National Stadium", "city": "Warsaw",
            "startsAt": "2027-08-01T19:00:00Z", "currency": "PLN", "ticketLevels": levels}
    request = flash.Request(0, flash.encode("POST", "/api/concerts", flash.host_of(base), body, token))
    [result] = flash.run_batch(base, [request], 1)
    if result[0] != 201:
        sys.exit(f"error: POST /api/concerts answered {result[0]}: {result[3][:400]!r}")
    concert_id = json.loads(result[3])["concert"]["id"]
    t0 = time.monotonic()
    while True:  # the availability shards come from a reactor a moment later
        concert = flash.one(base, "GET", f"/api/concerts/{urllib.parse.quote(concert_id)}")["concert"]
        if all(level.get("available") == level["capacity"] for level in concert["ticketLevels"]):
            return concert_id
        if time.monotonic() - t0 > 120:
            sys.exit(f"error: the shards of concert {concert_id} did not appear within 120 s")
        time.sleep(0.2)
