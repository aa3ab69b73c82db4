"""Faults under load on the main test stack: bin/test's own pool, nginx and PostgreSQL (the
shape bin/up runs), where test_pool.py tries the same on pools of its own.

- kill -9 of a worker under load: no GET fails (nginx passes a GET that was in flight on a
  kept connection of the dead worker to a new connection, so to a live worker), and a POST
  that got no answer, retried with its Idempotency-Key, takes effect once;
- SIGHUP under load: no request fails;
- PostgreSQL restarted under load: 503 with `Retry-After` while it is down (every one of them,
  for the API, the pages and an idempotent POST), then service again, and no worker restarts.

The tests assert outcomes; the figures (failed GETs during kill -9, failed requests during
SIGHUP, the 503 window) are printed, and written with the run's other figures.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
import requests

from conftest import Database, EncoreSession, Pool, wait_until
from test_hostile_input import effects, post_with_key, serving_worker


@dataclass
class Outcome:
    method: str
    path: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer
    retry_after: str | None = None
    worker: int | None = None
    error: str = ""


@dataclass
class Traffic:
    """Clients repeating requests through nginx until stop() (or max_seconds, a hard bound),
    each on its own keep-alive session; every outcome is kept."""

    base_url: str
    requests: list[tuple[str, str]]  # (method, path) in turn; a POST gets a new Idempotency-Key each time
    clients: int = 4
    max_seconds: float = 90.0
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]

    def _client(self, index: int) -> None:
        deadline = time.monotonic() + self.max_seconds
        turn = index
        with EncoreSession(self.base_url, timeout=20) as http:
            while not self._stop.is_set() and time.monotonic() < deadline:
                method, path = self.requests[turn % len(self.requests)]
                turn += 1
                headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
                started = time.monotonic()
                try:
                    response = http.request(method, path, headers=headers, json={} if method == "POST" else None)
                    worker = response.headers.get("X-Encore-Worker")
                    outcome = Outcome(method, path, started, time.monotonic(), response.status_code,
                                      response.headers.get("Retry-After"), int(worker) if worker else None)
                except requests.RequestException as error:
                    outcome = Outcome(method, path, started, time.monotonic(), None, error=repr(error))
                with self._lock:
                    self.outcomes.append(outcome)

    def start(self) -> "Traffic":
        for thread in self._threads:
            thread.start()
        return self

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        wait_until(lambda: len(self.snapshot()) >= count, timeout, 0.01, f"{count} requests under load")

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        assert not any(t.is_alive() for t in self._threads), "a load client hung"
        return self.outcomes


@pytest.fixture
def concert_id(http) -> str:
    concerts = http.get("/api/concerts").json()["concerts"]
    assert concerts, "no concert on the test stack (encore seed makes three)"
    return concerts[0]["id"]


def running_http_workers(pool: Pool) -> set[int]:
    return {w["pid"] for w in pool.status()["workers"] if w["kind"] == "http" and w["state"] == "running"}


def test_kill_9_of_a_worker_under_load_fails_no_get_and_a_retried_post_takes_effect_once(
        base_url, db: Database, pool: Pool, restarts, figures, concert_id):
    before = running_http_workers(pool)
    assert len(before) >= 2, "the test stack runs two workers"
    traffic = Traffic(base_url, [("GET", f"/api/concerts/{concert_id}"), ("GET", "/healthz"),
                                 ("GET", f"/concerts/{concert_id}")]).start()
    effect_id, key = uuid.uuid4().hex, uuid.uuid4().hex
    path = f"/api/_test/effects?id={effect_id}&seconds=3"
    posted: dict[str, object] = {}

    def post() -> None:
        try:
            with EncoreSession(base_url, timeout=30) as http:
                posted["response"] = http.post(path, json={}, headers={"Idempotency-Key": key})
        except requests.RequestException as error:
            posted["response"] = error
    try:
        traffic.wait_for(200)
        poster = threading.Thread(target=post)
        poster.start()
        victim = serving_worker(db)
        restarts.expect(1, "test_faults: kill -9 of a worker under load")
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        poster.join(30)
        replacement = wait_until(lambda: running_http_workers(pool) - before, 10, 0.01, "a replacement worker")
        replaced_ms = (time.monotonic() - killed_at) * 1000
        count = len(traffic.snapshot())
        traffic.wait_for(count + 200)
    finally:
        outcomes = traffic.stop()

    failed = [o for o in outcomes if o.status != 200]
    in_flight = [o for o in outcomes if o.started <= killed_at <= o.ended]
    next_second = [o for o in outcomes if killed_at < o.started <= killed_at + 1]
    figures.report("kill -9 under load (main stack)", gets=len(outcomes), failed_gets=len(failed),
                   in_flight_at_the_kill=len(in_flight), gets_in_the_next_second=len(next_second),
                   replacement_running_ms=round(replaced_ms))
    assert failed == [], failed[:10]
    assert victim not in running_http_workers(pool) and len(replacement) == 1

    # The POST got no answer (nginx never passes a POST twice); the client retries with its key.
    answer = posted["response"]
    assert isinstance(answer, BaseException) or answer.status_code == 502, answer
    with EncoreSession(base_url, timeout=30) as http:
        retried = post_with_key(http, path, key)
        assert retried.status_code == 201, retried.text
        replay = http.post(path, json={}, headers={"Idempotency-Key": key})
        assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == retried.json()
    assert effects(db, effect_id) == 1


def test_sighup_under_load_fails_no_request(base_url, pool: Pool, figures, concert_id):
    status = pool.status()
    old = {w["pid"] for w in status["workers"] if w["kind"] == "http"}
    traffic = Traffic(base_url, [("GET", f"/api/concerts/{concert_id}"), ("GET", "/healthz"),
                                 ("POST", f"/api/_test/effects?id=sighup-{uuid.uuid4().hex}&seconds=0")]).start()
    try:
        traffic.wait_for(150)
        pool.reload()
        wait_until(lambda: pool.status()["generation"] == status["generation"] + 1, 15, 0.05, "a new generation")
        wait_until(lambda: not (running_http_workers(pool) & old) and len(running_http_workers(pool)) == len(old),
                   60, 0.05, "the old workers to leave")
        count = len(traffic.snapshot())
        traffic.wait_for(count + 150)
    finally:
        outcomes = traffic.stop()
    failed = [o for o in outcomes if o.status is None or o.status >= 400]
    figures.report("SIGHUP under load (main stack)", requests=len(outcomes), failed=len(failed))
    assert failed == [], failed[:10]
    after = pool.status()
    assert after["restarts"] == status["restarts"]


def test_postgresql_restarted_under_load_answers_503_with_retry_after_then_serves(
        base_url, pool: Pool, pg, figures, concert_id):
    before = pool.status()
    workers = running_http_workers(pool)
    traffic = Traffic(base_url, [("GET", f"/api/concerts/{concert_id}"), ("GET", "/healthz"),
                                 ("GET", f"/concerts/{concert_id}"), ("GET", "/cart"),
                                 ("POST", f"/api/_test/effects?id=pg-{uuid.uuid4().hex}&seconds=0")]).start()
    try:
        traffic.wait_for(100)
        stopped_at = time.monotonic()
        pg.stop("fast")
        wait_until(lambda: sum(o.status == 503 for o in traffic.snapshot()) >= 20, 30, 0.01, "503s while it is down")
        pg.start()
        started_at = time.monotonic()
        wait_until(lambda: any(o.status == 200 and o.started > started_at and o.path.startswith("/api/concerts")
                               for o in traffic.snapshot()), 30, 0.01, "service again")
        count = len(traffic.snapshot())
        traffic.wait_for(count + 100)
    finally:
        outcomes = traffic.stop()

    unavailable = [o for o in outcomes if o.status == 503]
    other = [o for o in outcomes if o.status not in (200, 201, 303, 503)]
    assert other == [], other[:10]
    assert unavailable, "no request saw PostgreSQL down"
    assert [o for o in unavailable if not (o.retry_after or "").isdigit() or int(o.retry_after) < 1] == []
    window_ms = (max(o.ended for o in unavailable) - min(o.started for o in unavailable)) * 1000
    back_ms = (min(o.ended for o in outcomes if o.started > started_at and o.status == 200) - started_at) * 1000
    figures.report("PostgreSQL restarted under load (main stack)", requests=len(outcomes),
                   answered_503=len(unavailable), window_503_ms=round(window_ms),
                   down_ms=round((started_at - stopped_at) * 1000), service_after_start_ms=round(back_ms),
                   other_failures=len(other))
    # Once PostgreSQL is back, everything is served again, by the same workers.
    late = [o for o in outcomes if o.started > started_at]
    assert len(late) >= 100 and [o for o in late if o.status not in (200, 201, 303)] == []
    assert running_http_workers(pool) == workers
    assert pool.status()["restarts"] == before["restarts"]
