#!/usr/bin/env python3
"""Load generator and set-up for bench/flash-sale/run.sh (issue 6).

Everything goes through nginx over HTTP/1.1 keep-alive connections. The client is a small
callback-driven asyncio protocol (no coroutine or future per request): a connection that gets
a complete response records it and sends its next request at once, so the generator spends a
few tens of microseconds of CPU per request. `calibrate` measures that against wrk.

Subcommands (run.sh calls them; each prints one JSON object on stdout, progress on stderr):
  customers  register N customers through POST /api/users and sign them in (POST /api/sessions)
  concert    create the stadium concert as the demo organiser and wait for its shards
  carts      give every customer a cart of 1-4 tickets and an online delivery
  fire       POST /api/cart/confirm once per customer over C connections (the measured step)
  calibrate  the generator's own rate on one path, to compare with wrk on the same path

With --sender ENCORE_BENCH, fire and calibrate send through `encore-bench http-fire` (an
epoll loop per thread, as wrk) and only read its answers here: the CPU both use is the
generator's share.
"""

import argparse
import asyncio
import collections
import gc
import json
import os
import random
import socket
import sys
import time
import urllib.parse


def log(message):
    print(f"    {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- HTTP client

class Request:
    __slots__ = ("index", "data")

    def __init__(self, index, data):
        self.index = index
        self.data = data


def encode(method, path, host, body=None, token=None, extra=()):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: encore-flash-sale"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    payload = b""
    if body is not None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        lines.append("Content-Type: application/json")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(payload)}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Batch:
    """Sends `requests` over `concurrency` keep-alive connections, each request once.

    results[i] = (status, start_ns, end_ns, body or None). Status 0: the connection failed
    before a response came (the request is not retried: confirms are not idempotent)."""

    def __init__(self, loop, host, port, requests, concurrency, keep_body, sources=None):
        self.loop = loop
        self.host = host
        self.port = port
        self.queue = collections.deque(requests)
        self.total = len(requests)
        self.results = [None] * self.total
        self.keep_body = keep_body  # callable(status) -> bool
        self.concurrency = min(concurrency, max(1, self.total))
        self.sources = sources or [None]
        self.open = 0
        self.done = 0
        self.finished = loop.create_future()
        self.reconnects = 0

    async def run(self):
        if self.total == 0:
            return self.results
        for n in range(self.concurrency):
            await self.connect(n)
        await self.finished
        return self.results

    async def connect(self, n):
        source = self.sources[n % len(self.sources)]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        if source:
            sock.bind((source, 0))
        await self.loop.sock_connect(sock, (self.host, self.port))
        self.open += 1
        await self.loop.create_connection(lambda: Connection(self, n), sock=sock)

    def next_request(self):
        return self.queue.popleft() if self.queue else None

    def record(self, request, status, start, end, body):
        self.results[request.index] = (status, start, end, body if self.keep_body(status) else None)
        self.done += 1
        if self.done == self.total and not self.finished.done():
            self.finished.set_result(None)

    def lost(self, n):
        self.open -= 1
        if self.queue:
            self.reconnects += 1
            self.loop.create_task(self.connect(n))
        elif self.open == 0 and not self.finished.done():
            self.finished.set_result(None)


class Connection(asyncio.Protocol):
    def __init__(self, batch, n):
        self.batch = batch
        self.n = n
        self.buffer = bytearray()
        self.current = None
        self.start = 0
        self.transport = None
        self.closing = False

    def connection_made(self, transport):
        self.transport = transport
        self.send_next()

    def send_next(self):
        request = self.batch.next_request()
        if request is None:
            self.closing = True
            self.transport.close()
            return
        self.current = request
        self.start = time.perf_counter_ns()
        self.transport.write(request.data)

    def data_received(self, data):
        self.buffer += data
        while self.current is not None:
            parsed = parse_response(self.buffer)
            if parsed is None:
                return
            status, body, used, close = parsed
            end = time.perf_counter_ns()
            del self.buffer[:used]
            request, self.current = self.current, None
            self.batch.record(request, status, self.start, end, body)
            if close:
                self.closing = True
                self.transport.close()
                return
            self.send_next()

    def connection_lost(self, exc):
        if self.current is not None:
            self.batch.record(self.current, 0, self.start, time.perf_counter_ns(), str(exc or "closed").encode())
            self.current = None
        self.batch.lost(self.n)


def parse_response(buffer):
    """(status, body, bytes used, server closes) for a complete response at the start of
    buffer, or None when more bytes are needed. nginx's own header spelling is the fast path."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end])
    status = int(head[9:12])
    start = head_end + 4
    at = head.find(b"\r\nContent-Length: ")
    if at >= 0 and b"\r\nConnection: close" not in head:
        end = head.find(b"\r\n", at + 18)
        length = int(head[at + 18 : end if end >= 0 else len(head)])
        if len(buffer) < start + length:
            return None
        return status, bytes(buffer[start : start + length]), start + length, False
    length = None
    chunked = False
    close = False
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if chunked:
        body = bytearray()
        pos = start
        while True:
            line_end = buffer.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buffer[pos:line_end]).split(b";")[0], 16)
            if len(buffer) < line_end + 2 + size + 2:
                return None
            body += buffer[line_end + 2 : line_end + 2 + size]
            pos = line_end + 2 + size + 2
            if size == 0:
                return status, bytes(body), pos, close
    length = length or 0
    if len(buffer) < start + length:
        return None
    return status, bytes(buffer[start : start + length]), start + length, close


def run_batch(base, requests, concurrency, keep_body=lambda status: True, sources=None):
    url = urllib.parse.urlsplit(base)
    loop = asyncio.new_event_loop()
    try:
        batch = Batch(loop, url.hostname, url.port or 80, requests, concurrency, keep_body, sources)
        results = loop.run_until_complete(batch.run())
    finally:
        loop.close()
    return results


def run_sender(sender, base, method, path, tokens, concurrency, keep_body):
    """Sends one request per token with `encore-bench http-fire` (an epoll loop per thread,
    about a fifth of this asyncio client's CPU per request). Returns results as
    run_batch does, times from the sender's first request, and the sender's CPU seconds."""
    import base64
    import resource
    import subprocess
    import tempfile
    url = urllib.parse.urlsplit(base)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "tokens"), "w") as f:
            f.write("".join(f"{t}\n" for t in tokens))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sender, "http-fire", "--host", url.hostname, "--port", str(url.port or 80),
                        "--concurrency", str(concurrency), "--method", method, "--path", path,
                        "--tokens", os.path.join(tmp, "tokens"), "--out", os.path.join(tmp, "answers")], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        results = []
        for line in open(os.path.join(tmp, "answers")):
            status, t0, t1, body = (line.rstrip("\n").split(" ") + [""])[:4]
            status = int(status)
            results.append((status, int(t0), int(t1), base64.b64decode(body) if keep_body(status) else None))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return results, cpu


def host_of(base):
    return urllib.parse.urlsplit(base).netloc


def check_all(results, what, expected=(200, 201)):
    bad = [(i, r) for i, r in enumerate(results) if r is None or r[0] not in expected]
    if bad:
        i, r = bad[0]
        detail = "no answer" if r is None else f"{r[0]} {(r[3] or b'')[:300]!r}"
        sys.exit(f"error: {len(bad)} of {len(results)} {what} failed; first (#{i}): {detail}")


def one(base, method, path, body=None, token=None, expected=(200, 201)):
    request = Request(0, encode(method, path, host_of(base), body, token))
    [result] = run_batch(base, [request], 1)
    if result[0] not in expected:
        sys.exit(f"error: {method} {path} answered {result[0]}: {(result[3] or b'')[:500]!r}")
    return json.loads(result[3] or b"null")


# ----------------------------------------------------------------------------- subcommands

def cmd_customers(args):
    """Registers and signs in args.count customers; writes {email: token} lines to args.out."""
    host = host_of(args.base)
    tag = args.tag
    emails = [f"fan-{tag}-{i:05d}@flash.test" for i in range(args.count)]
    password = f"flash-{tag}-pass"
    t0 = time.monotonic()
    requests = [
        Request(i, encode("POST", "/api/users", host, {"email": e, "password": password, "name": f"Fan {i}"}))
        for i, e in enumerate(emails)
    ]
    results = run_batch(args.base, requests, args.concurrency)
    check_all(results, "registrations")
    t1 = time.monotonic()
    log(f"registered {len(emails)} customers in {t1 - t0:.1f} s")
    # nginx limits POST /api/sessions to 10/s per client address (burst 20): sign in from
    # many loopback addresses, as a real crowd would come from many.
    sources = [f"127.0.{1 + n // 250}.{1 + n % 250}" for n in range(args.sources)]
    requests = [
        Request(i, encode("POST", "/api/sessions", host, {"email": e, "password": password}))
        for i, e in enumerate(emails)
    ]
    results = run_batch(args.base, requests, args.concurrency, sources=sources)
    check_all(results, "sign-ins")
    t2 = time.monotonic()
    log(f"signed in {len(emails)} customers in {t2 - t1:.1f} s")
    with open(args.out, "w") as out:
        for email, result in zip(emails, results):
            out.write(json.dumps({"email": email, "token": json.loads(result[3])["token"]}) + "\n")
    print(json.dumps({"customers": len(emails), "register_s": round(t1 - t0, 1), "signin_s": round(t2 - t1, 1)}))


def cmd_concert(args):
    session = one(args.base, "POST", "/api/sessions", {"email": args.organiser, "password": args.password})
    token = session["token"]
    levels = [
        {"id": "golden-circle", "name": "Golden circle", "capacity": args.golden, "price": 79900},
        {"id": "regular", "name": "Regular", "capacity": args.regular, "price": 34900},
    ]
    body = {
        "artist": f"Flash Sale {args.tag}", "title": "Stadium tour", "venue": "National Stadium",
        "city": "Warsaw", "startsAt": "2027-07-01T19:00:00Z", "currency": "PLN", "ticketLevels": levels,
    }
    t0 = time.monotonic()
    concert = one(args.base, "POST", "/api/concerts", body, token)["concert"]
    cid = concert["id"]
    # The availability shards come from the projection daemon's reactor a moment later.
    while True:
        c = one(args.base, "GET", f"/api/concerts/{urllib.parse.quote(cid)}")["concert"]
        available = {lvl["id"]: lvl.get("available") for lvl in c["ticketLevels"]}
        if all(available.get(lvl["id"]) == lvl["capacity"] for lvl in levels):
            break
        if time.monotonic() - t0 > 60:
            sys.exit(f"error: the shards of concert {cid} did not appear within 60 s: {available}")
        time.sleep(0.1)
    log(f"concert {cid}: shards ready {time.monotonic() - t0:.2f} s after creation")
    print(json.dumps({"concert": cid, "levels": {lvl["id"]: lvl["capacity"] for lvl in levels}}))


def plan_carts(count, seed, both_share, golden_share):
    """Per customer: {level: quantity}, 1-4 tickets; some carts hold both levels."""
    rng = random.Random(seed)
    carts = []
    for _ in range(count):
        quantity = rng.randint(1, 4)
        if quantity >= 2 and rng.random() < both_share:
            golden = rng.randint(1, quantity - 1)
            carts.append({"golden-circle": golden, "regular": quantity - golden})
        else:
            level = "golden-circle" if rng.random() < golden_share else "regular"
            carts.append({level: quantity})
    return carts


def cmd_carts(args):
    host = host_of(args.base)
    customers = [json.loads(line) for line in open(args.customers)]
    carts = plan_carts(len(customers), args.seed, args.both_share, args.golden_share)
    t0 = time.monotonic()
    if args.reset:
        # A customer whose confirm was refused in an earlier round still has that cart open:
        # empty it, so this round's cart holds this concert's tickets only.
        requests = [Request(i, encode("POST", "/api/cart/cancel", host, None, c["token"])) for i, c in enumerate(customers)]
        check_all(run_batch(args.base, requests, args.concurrency), "POST /api/cart/cancel")
    # Items in level order, one phase per level so that one customer's requests never overlap.
    for level in ("golden-circle", "regular"):
        requests = []
        for i, (customer, cart) in enumerate(zip(customers, carts)):
            if level in cart:
                body = {"concertId": args.concert, "ticketLevelId": level, "quantity": cart[level]}
                requests.append(
                    Request(len(requests), encode("POST", "/api/cart/items", host, body, customer["token"])))
        check_all(run_batch(args.base, requests, args.concurrency), f"POST /api/cart/items ({level})")
    requests = [
        Request(i, encode("PUT", "/api/cart/delivery", host, {"method": "online", "email": c["email"]}, c["token"]))
        for i, c in enumerate(customers)
    ]
    check_all(run_batch(args.base, requests, args.concurrency), "PUT /api/cart/delivery")
    with open(args.out, "w") as out:
        for customer, cart in zip(customers, carts):
            out.write(json.dumps({"token": customer["token"], "cart": cart}) + "\n")
    demand = collections.Counter()
    for cart in carts:
        demand.update(cart)
    log(f"{len(carts)} carts ready in {time.monotonic() - t0:.1f} s; demand per level: {dict(demand)}")
    print(json.dumps({
        "carts": len(carts), "setup_s": round(time.monotonic() - t0, 1), "demand": dict(demand),
        "both_levels": sum(1 for c in carts if len(c) == 2),
    }))


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def cmd_fire(args):
    host = host_of(args.base)
    entries = [json.loads(line) for line in open(args.carts)]
    order = list(range(len(entries)))
    random.Random(args.seed + 1).shuffle(order)
    requests = [] if args.sender else [
        Request(k, encode("POST", "/api/cart/confirm", host, None, entries[i]["token"]))
        for k, i in enumerate(order)
    ]
    gc.collect()
    gc.disable()
    cpu0 = time.process_time()
    start = time.perf_counter_ns()
    if args.sender:
        results, sender_cpu = run_sender(
            args.sender, args.base, "POST", "/api/cart/confirm", [entries[i]["token"] for i in order],
            args.concurrency, keep_body=lambda status: status != 201)
        start, end = 0, max((r[2] for r in results), default=0)
    else:
        results = run_batch(args.base, requests, args.concurrency, keep_body=lambda status: status != 201)
        end = time.perf_counter_ns()
        sender_cpu = 0
    cpu = time.process_time() - cpu0 + sender_cpu
    gc.enable()

    statuses = collections.Counter()
    codes = collections.Counter()
    reserved = collections.Counter()
    latencies = []
    last_201 = start
    latencies_201 = []
    samples = []  # the first few answers other than 201, for the report
    for k, (status, t0, t1, body) in enumerate(results):
        if status != 201 and len(samples) < 5:
            samples.append({"at_ms": round((t1 - start) / 1e6), "status": status,
                            "cart": entries[order[k]]["cart"], "body": (body or b"")[:400].decode("utf-8", "replace")})
        statuses[status] += 1
        latencies.append((t1 - t0) / 1e6)
        if status == 201:
            reserved.update(entries[order[k]]["cart"])
            last_201 = max(last_201, t1)
            latencies_201.append((t1 - t0) / 1e6)
        elif status == 409:
            try:
                error = json.loads(body)["error"]
                code = error.get("code")
                codes[code] += 1
                if code == "not_enough_tickets" and not all(
                    k in error or k in error.get("details", {}) for k in ("concertId", "ticketLevelId", "available")
                ):
                    codes["409 without concertId/ticketLevelId/available"] += 1
            except Exception:
                codes["unparsable 409"] += 1
        else:
            codes[f"{status}: {(body or b'')[:200]!r}"] += 1
    latencies.sort()
    latencies_201.sort()
    sellout_s = (last_201 - start) / 1e9
    total_s = (end - start) / 1e9
    out = {
        "confirms": len(results),
        "concurrency": args.concurrency,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "codes": dict(codes),
        "ok": statuses[201],
        "sold_out_s": round(sellout_s, 3),
        "all_answered_s": round(total_s, 3),
        "ok_per_s": round(statuses[201] / sellout_s, 1) if sellout_s > 0 else 0,
        "answers_per_s": round(len(results) / total_s, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else 0,
        "p50_201_ms": round(percentile(latencies_201, 50), 2),
        "p99_201_ms": round(percentile(latencies_201, 99), 2),
        "reserved_by_201": dict(reserved),
        "first_other_answers": samples,
        "generator_cpu_s": round(cpu, 3),
        "generator_cpu_us_per_request": round(cpu / max(1, len(results)) * 1e6, 1),
    }
    if args.timeline:
        with open(args.timeline, "w") as f:
            for k, (status, t0, t1, _) in enumerate(results):
                f.write(f"{(t0 - start) / 1e6:.3f} {(t1 - start) / 1e6:.3f} {status}\n")
    print(json.dumps(out))


def cmd_calibrate(args):
    host = host_of(args.base)
    data = encode("GET", args.path, host)
    requests = [Request(i, data) for i in range(args.requests)]
    gc.disable()
    cpu0 = time.process_time()
    start = time.perf_counter_ns()
    if args.sender:
        results, sender_cpu = run_sender(
            args.sender, args.base, "GET", args.path, ["-"] * args.requests, args.concurrency,
            keep_body=lambda status: False)
        elapsed = max(r[2] for r in results) / 1e9
    else:
        results = run_batch(args.base, requests, args.concurrency, keep_body=lambda status: False)
        elapsed = (time.perf_counter_ns() - start) / 1e9
        sender_cpu = 0
    cpu = time.process_time() - cpu0 + sender_cpu
    latencies = sorted((r[2] - r[1]) / 1e6 for r in results)
    bad = sum(1 for r in results if r[0] != 200)
    print(json.dumps({
        "path": args.path, "requests": len(results), "errors": bad, "rps": round(len(results) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
        "cpu_us_per_request": round(cpu / len(results) * 1e6, 1),
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=os.environ.get("FLASH_BASE_URL", "http://127.0.0.1:8180"))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("customers")
    p.add_argument("--count", type=int, default=8000)
    p.add_argument("--tag", required=True, help="makes this run's e-mail addresses unique")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--sources", type=int, default=64, help="loopback source addresses for sign-ins")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_customers)

    p = sub.add_parser("concert")
    p.add_argument("--tag", required=True)
    p.add_argument("--organiser", default="organiser@encore.test")
    p.add_argument("--password", default="encore-demo-2026")
    p.add_argument("--golden", type=int, default=2000)
    p.add_argument("--regular", type=int, default=8000)
    p.set_defaults(func=cmd_concert)

    p = sub.add_parser("carts")
    p.add_argument("--customers", required=True)
    p.add_argument("--concert", required=True)
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--both-share", type=float, default=0.2, help="share of carts of 2+ tickets with both levels")
    p.add_argument("--golden-share", type=float, default=0.3, help="share of one-level carts in golden circle")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--reset", action="store_true", help="cancel every customer's open cart first")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_carts)

    p = sub.add_parser("fire")
    p.add_argument("--carts", required=True)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--timeline", help="write 'start_ms end_ms status' per confirm")
    p.add_argument("--sender", help="encore-bench binary: send with its http-fire instead of asyncio")
    p.set_defaults(func=cmd_fire)

    p = sub.add_parser("calibrate")
    p.add_argument("--path", default="/healthz")
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--sender", help="encore-bench binary: send with its http-fire instead of asyncio")
    p.set_defaults(func=cmd_calibrate)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
