"""The fuzz stage: schemathesis against the test stack's own `GET /api/openapi.json`.

Five runs, each with a fixed seed (a failure repeats) and a bound on the examples per operation:
the JSON API as a customer and as an organiser (bearer tokens); the pages and their forms as a
customer and as an organiser (the session cookie, and the CSRF token in `X-CSRF-Token`); and the
sign-in and registration forms as a visitor (the double-submit `encore_csrf` cookie and token).
Checks: `not_a_server_error` (no 5xx) and `response_schema_conformance` (every documented
response's body matches its schema). Left out: what would end the fuzzer's own session
(DELETE /api/sessions/current, DELETE /api/me/sessions, /signout, /account/signout-everywhere;
/signin and /register with a session: a success replaces it).

Real data, so that the fuzzer gets past "no such concert": a concert of the organiser's made
for it, a cart with an item (what an added quantity adds to), a held reservation and its
checkout; their ids are dictionaries (schemathesis.toml written for the run) that path and body
parameters draw from most of the time, random values the rest.

The fuzzer connects from its own loopback address (fuzz_hooks.py), so the sign-in throttle it
trips slows only itself. It runs after every other test (it fills the database with what it
makes). Its figures: cases run, 5xx (schemathesis' and the pool's own count), schema
violations, worker restarts during it.

    ENCORE_FUZZ_EXAMPLES   examples per operation and run (default 40)
    ENCORE_FUZZ_SEED       the seed (default 20261206)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import EncoreSession

pytestmark = pytest.mark.run_last

HERE = Path(__file__).resolve().parent
PASSWORD = "encore-demo-2026"
CSRF_INPUT = re.compile(r'<input type="hidden" name="_csrf" value="([^"]+)"')
EXAMPLES = int(os.environ.get("ENCORE_FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("ENCORE_FUZZ_SEED", "20261206"))
SESSION_ENDING = ["--exclude-path", "/api/sessions/current", "--exclude-path", "/api/me/sessions",
                  "--exclude-path", "/signout", "--exclude-path", "/account/signout-everywhere"]
SIGN_IN_FORMS = ["--exclude-path", "/signin", "--exclude-path", "/register"]


def schemathesis() -> list[str]:
    found = shutil.which("schemathesis") or shutil.which("st")
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no _csrf field in the page"
    return match.group(1)


def bearer_token(base_url: str, email: str) -> str:
    response = requests.post(base_url + "/api/sessions", json={"email": email, "password": PASSWORD}, timeout=15)
    assert response.status_code == 201, response.text
    return response.json()["token"]


def cookie_session(base_url: str, email: str) -> tuple[str, str]:
    """(Cookie header, CSRF token) of a session signed in through the form."""
    with EncoreSession(base_url) as http:
        token = csrf_of(http.get("/signin").text)
        response = http.post("/signin", data={"email": email, "password": PASSWORD, "_csrf": token})
        assert response.status_code == 303, response.text[:300]
        csrf = csrf_of(http.get("/account").text)
        return f"encore_session={http.cookies['encore_session']}", csrf


def visitor(base_url: str) -> tuple[str, str]:
    """(Cookie header, token) of the double-submit pair a visitor's sign-in page sets."""
    with EncoreSession(base_url) as http:
        token = csrf_of(http.get("/signin").text)
        return f"encore_csrf={http.cookies['encore_csrf']}", token


def pool_figures(base_url: str) -> tuple[int, int]:
    """(restarts, 5xx the pool answered so far), from /status and /metrics."""
    restarts = requests.get(base_url + "/status", timeout=10).json()["restarts"]
    text = requests.get(base_url + "/metrics", timeout=10).text
    server_errors = sum(int(float(m.group(1))) for m in re.finditer(
        r'^encore_http_request_duration_seconds_count\{[^}]*status="5xx"[^}]*\} (\S+)$', text, re.M))
    return restarts, server_errors


def fuzz_data(base_url: str, customer: str, organiser: str) -> dict[str, list[str]]:
    """A concert for the fuzzer, the customer's held reservation of it and a cart with an item."""
    with EncoreSession(base_url) as org, EncoreSession(base_url) as cust:
        org.headers["Authorization"] = f"Bearer {bearer_token(base_url, organiser)}"
        cust.headers["Authorization"] = f"Bearer {bearer_token(base_url, customer)}"
        created = org.post("/api/concerts", json={
            "artist": "Fuzz Arena", "title": "Hypothesis Tour", "venue": "Hala", "city": "Gdańsk",
            "startsAt": "2031-09-01T19:00:00Z", "currency": "PLN",
            "ticketLevels": [{"id": "floor", "name": "Floor", "capacity": 5000, "price": 15000},
                             {"id": "balcony", "name": "Balcony", "capacity": 5000, "price": 9000}]})
        assert created.status_code == 201, created.text
        concert = created.json()["concert"]["id"]
        reservation = checkout = None
        for _ in range(100):  # the shards are made by the projection daemon a moment later
            cust.post("/api/cart/cancel")
            cust.post("/api/cart/items", json={"concertId": concert, "ticketLevelId": "balcony", "quantity": 1})
            cust.put("/api/cart/delivery", json={"method": "online", "email": "fuzz@example.test"})
            confirmed = cust.post("/api/cart/confirm")
            if confirmed.status_code == 201:
                checkout = confirmed.json()["checkout"]
                reservation = checkout["reservations"][0]["id"]
                break
            time.sleep(0.1)
        assert reservation, confirmed.text
        assert cust.post("/api/cart/items", json={"concertId": concert, "ticketLevelId": "floor",
                                                  "quantity": 2}).status_code == 201
        users = [org.get("/api/me").json()["user"]["id"], cust.get("/api/me").json()["user"]["id"]]
    return {"concerts": [concert], "levels": ["floor", "balcony"], "reservations": [reservation],
            "checkouts": [checkout["id"]], "users": users}


def config_file(path: Path, data: dict[str, list[str]]) -> Path:
    """schemathesis.toml: the dictionaries, and which parameters draw from them (0.8 of the time)."""
    def binding(name: str) -> str:
        return f'{{ dictionary = "{name}", probability = 0.8 }}'
    lines = []
    for name, values in data.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines += ["[parameters]",
              f'"path.concertId" = {binding("concerts")}', f'"body.concertId" = {binding("concerts")}',
              f'"path.ticketLevelId" = {binding("levels")}', f'"body.ticketLevelId" = {binding("levels")}', ""]
    for regex, dictionary in (("concerts/[{]id[}]", "concerts"), ("users/[{]id[}]", "users"),
                              ("reservations/[{]id[}]", "reservations"), ("checkout/[{]id[}]", "checkouts")):
        lines += ["[[operations]]", f"include-path-regex = '{regex}'",
                  f'parameters = {{ "path.id" = {binding(dictionary)} }}', ""]
    path.write_text("\n".join(lines))
    return path


def run(base_url: str, name: str, headers: list[str], selection: list[str], report_dir: Path,
        config: Path) -> dict:
    """One schemathesis run; returns its JSON report (and prints its output)."""
    out = report_dir / name
    args = [*schemathesis(), "--config-file", str(config), "run", f"{base_url}/api/openapi.json", "--url", base_url,
            "--checks", "not_a_server_error,response_schema_conformance",
            "--phases", "examples,coverage,fuzzing", "--max-examples", str(EXAMPLES), "--seed", str(SEED),
            "--generation-database", "none", "--generation-with-security-parameters", "false",
            "--workers", "2", "--request-timeout", "30", "--max-failures", "50", "--no-color",
            "--suppress-health-check", "all", "--report", "json", "--report-json-path", str(out / "report.json")]
    for header in headers:
        args += ["--header", header]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz_hooks",
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(args + selection, capture_output=True, text=True, env=env, timeout=900, cwd=report_dir)
    failed = result.returncode != 0
    tail = "\n".join(result.stdout.splitlines()[-(400 if failed else 40):])
    print(f"--- schemathesis, {name} (exit {result.returncode}) ---\n{tail}\n{result.stderr[-3000:]}")
    report = json.loads((out / "report.json").read_text())
    report["output"] = tail
    return report


def count(report: dict, word: str) -> int:
    return sum(group["count"] for group in report["failures"] if word in (group["code"] or group["type"] or ""))


def test_fuzzing_the_documented_api_and_page_forms_finds_no_5xx_and_no_schema_violation(
        base_url, tmp_path, figures):
    customer, organiser = "customer@encore.test", "organiser@encore.test"
    config = config_file(tmp_path / "schemathesis.toml", fuzz_data(base_url, customer, organiser))
    # The customer's runs first: the organiser's may cancel the fuzzer's concert.
    runs = []
    for role, email in (("customer", customer), ("organiser", organiser)):
        runs.append((f"api as {role}", [f"Authorization: Bearer {bearer_token(base_url, email)}"],
                     ["--exclude-tag", "pages", *SESSION_ENDING]))
        cookie, csrf = cookie_session(base_url, email)
        runs.append((f"pages as {role}", [f"Cookie: {cookie}", f"X-CSRF-Token: {csrf}"],
                     ["--include-tag", "pages", *SESSION_ENDING, *SIGN_IN_FORMS]))
    cookie, token = visitor(base_url)
    runs.append(("sign-in forms as a visitor", [f"Cookie: {cookie}", f"X-CSRF-Token: {token}"],
                 ["--include-operation-id", "signInForm", "--include-operation-id", "registerForm"]))

    restarts_before, errors_before = pool_figures(base_url)
    reports = {name: run(base_url, name, headers, selection, tmp_path, config) for name, headers, selection in runs}
    restarts_after, errors_after = pool_figures(base_url)

    cases = {name: r["test_cases"]["generated"] for name, r in reports.items()}
    server_errors = sum(count(r, "server_error") for r in reports.values())
    violations = sum(count(r, "schema") for r in reports.values())
    others = [(name, g["title"], g["count"]) for name, r in reports.items() for g in r["failures"]
              if "server_error" not in (g["code"] or "") and "schema" not in (g["code"] or "")]
    errors = [(name, e["title"], e["count"]) for name, r in reports.items() for e in r["errors"]]
    operations = sum(r["operations"]["tested"] for r in reports.values())
    figures.report("fuzz stage (schemathesis)", seed=SEED, examples_per_operation=EXAMPLES,
                   operations_tested=operations, cases=sum(cases.values()), server_errors_5xx=server_errors,
                   pool_5xx=errors_after - errors_before, schema_violations=violations,
                   worker_restarts=restarts_after - restarts_before,
                   seconds=round(sum(r["running_time"] or 0 for r in reports.values())))
    for name, r in reports.items():
        figures.report(f"fuzz run: {name}", cases=cases[name], operations=r["operations"]["tested"],
                       failures=sum(g["count"] for g in r["failures"]))

    assert all(r["complete"] for r in reports.values()), {n: r["stop_reason"] for n, r in reports.items()}
    assert errors == [], errors
    assert server_errors == 0 and errors_after == errors_before, "5xx found: see the runs' output above"
    assert violations == 0 and others == [], others or "schema violations: see the runs' output above"
    assert restarts_after == restarts_before
    assert all(cases.values()), cases
