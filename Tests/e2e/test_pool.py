"""End-to-end tests of the FastCGI worker pool (`encore serve`): crashes, reloads, database
loss, body limits, malformed records, slow log and timeouts, recycling, graceful stop, crash
back-off, /status and /metrics.

Every test starts its own pool (own socket, pid file and settings in a temporary folder,
ENCORE_TEST_ROUTES=1) and, where the path through nginx matters, its own nginx rendered from
the repository's nginx/nginx.conf on a free loopback port. Nothing here touches the stack
bin/test or bin/up runs.

    ENCORE_BIN    the encore binary (default .build/release/encore if built, else .build/debug/encore)
    DATABASE_URL  the database the pools use (default: encore_e2e_dev on the dev server at
                  .data/dev/sock, port 5490). The PostgreSQL stop/start test makes a cluster
                  of its own in a temporary folder and never stops a shared server.

    python3 -m pytest Tests/e2e/test_pool.py -q
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

import fastcgi_client as fcgi

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"postgresql://postgres@/encore_e2e_dev?host={ROOT}/.data/dev/sock&port=5490"


def encore_binary() -> Path:
    for name in ("ENCORE_BIN", "ENCORE_BINARY"):
        if os.environ.get(name):
            return Path(os.environ[name])
    release = ROOT / ".build" / "release" / "encore"
    return release if release.exists() else ROOT / ".build" / "debug" / "encore"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


# ------------------------------------------------------------------------------- helpers
def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
             what: str = "condition") -> Any:
    """Calls predicate until it returns something truthy (returned); AssertionError after
    timeout. Exceptions from the predicate count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - retried until the deadline
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f" (last error: {last!r})" if last else ""))
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


def session_processes(sid: int) -> list[int]:
    """Live processes whose session id is sid (a pool started with setsid)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return sorted(pids)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def short_tmpdir(prefix: str) -> Path:
    """A folder under /tmp with a short path (unix socket paths are limited to 107 bytes),
    traversable by nginx's and PostgreSQL's unprivileged users."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def _no_core_dumps() -> None:
    # The crash tests abort() workers; core files would only slow them down.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# ------------------------------------------------------------------------------- the pool
class Pool:
    """One `encore serve` with its own socket, pid file and log in a temporary folder."""

    def __init__(self, directory: Path, **settings: Any):
        self.directory = directory
        self.socket = str(directory / "encore.sock")
        self.pid_file = directory / "encore.pid"
        self.log_file = directory / "encore.log"
        self.settings = {"workers": 2, "threads": 2, "database_url": database_url(), **settings}
        self.process: subprocess.Popen | None = None
        self.exit_code: int | None = None

    # -- lifecycle
    def start(self, timeout: float = 30.0) -> "Pool":
        binary = encore_binary()
        if not binary.exists():
            pytest.fail(f"no encore binary at {binary} (swift build, or set ENCORE_BIN)")
        args = [str(binary), "serve", "--socket", self.socket, "--pid-file", str(self.pid_file)]
        for key, value in self.settings.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        # Only what we set: no ENCORE_* or DATABASE_URL from the caller's environment, and an
        # empty config file so no encore.conf is picked up.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORE_") and k != "DATABASE_URL"}
        empty_config = self.directory / "empty.conf"
        empty_config.write_text("")
        # `encore serve` refuses to start without a ticket signing key (since the tickets, a75b5ec).
        env.update(ENCORE_TEST_ROUTES="1", ENCORE_CONFIG=str(empty_config),
                   ENCORE_TICKET_SIGNING_KEYS="test-pool-" + "k" * 32)
        self._log = self.log_file.open("ab")
        self.process = subprocess.Popen(args, cwd=self.directory, env=env, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=_no_core_dumps)
        workers = int(self.settings["workers"])

        def ready() -> bool:
            if self.process.poll() is not None:
                raise PoolExited(f"encore serve exited with {self.process.returncode}:\n{self.log_tail()}")
            status = self.status()
            running = [w for w in status["workers"] if w["kind"] == "http" and w["state"] == "running"]
            return len(running) == workers
        try:
            wait_for(ready, timeout, 0.05, "the pool's workers to run")
        except PoolExited as error:
            pytest.fail(str(error))
        except AssertionError:
            pytest.fail(f"the pool did not start in {timeout}s:\n{self.log_tail()}")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait; SIGKILL for everything in the pool's session if it hangs."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
                self.exit_code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        else:
            self.exit_code = self.process.returncode
        for pid in session_processes(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self._log.close()
        return self.exit_code

    # -- requests straight to the socket
    def request(self, method: str, path: str, query: str = "", **kwargs: Any) -> fcgi.Response:
        return fcgi.request(self.socket, method, path, query, **kwargs)

    def get(self, path: str, query: str = "", **kwargs: Any) -> fcgi.Response:
        return self.request("GET", path, query, **kwargs)

    def status(self, timeout: float = 10.0) -> dict:
        response = self.get("/status", timeout=timeout)
        assert response.status == 200, response
        return response.json()

    def http_workers(self, status: dict | None = None) -> list[dict]:
        status = status or self.status()
        return [w for w in status["workers"] if w["kind"] == "http"]

    def worker_pids(self) -> set[int]:
        return {w["pid"] for w in self.http_workers()}

    # -- log
    def log_entries(self) -> list[dict]:
        entries = []
        for line in self.log_file.read_bytes().splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                entries.append(value)
        return entries

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_for_log(self, predicate: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        try:
            return wait_for(lambda: next((e for e in self.log_entries() if predicate(e)), None),
                            timeout, 0.05, "a log line")
        except AssertionError:
            raise AssertionError(f"no matching log line within {timeout}s; log:\n{self.log_tail()}")


class PoolExited(Exception):
    pass


@pytest.fixture
def workdir():
    path = short_tmpdir("encore-e2e-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_pool(workdir: Path):
    """start_pool(workers=2, threads=2, request_timeout=..., ...) -> a running Pool.
    Stopped (and every process of it killed) after the test; its log is printed on failure."""
    pools: list[Pool] = []

    def start(**settings: Any) -> Pool:
        directory = workdir / f"pool{len(pools)}"
        directory.mkdir()
        directory.chmod(0o755)
        pool = Pool(directory, **settings)
        pools.append(pool)
        return pool.start()
    yield start
    for pool in pools:
        pool.stop()
        print(f"--- log of the pool in {pool.directory} ---\n{pool.log_tail(60)}")


# ------------------------------------------------------------------------------- nginx
class Nginx:
    """nginx rendered from the repository's template, in its own prefix, on a free port,
    passing to one pool's socket."""

    PLACEHOLDER = re.compile(r"@([A-Z_]+)@")

    def __init__(self, prefix: Path, socket_path: str, body_limit: str = "1m", upstream_timeout: int = 35):
        self.prefix = prefix
        self.port = free_port()
        self.conf = prefix / "nginx.conf"
        for sub in ("logs", "temp"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        values = {
            # A throw-away test instance: when root, its workers stay root so they can reach
            # the socket and the repository wherever they are.
            "USER_DIRECTIVE": "user root root;" if os.geteuid() == 0 else "",
            "WORKERS": "1",
            "PREFIX": str(prefix),
            "PUBLIC": str(ROOT / "public"),
            "ERRORS": str(ROOT / "nginx" / "errors"),
            "LISTEN": f"127.0.0.1:{self.port}",
            "SOCKET": socket_path,
            "BODY_LIMIT": body_limit,
            "UPSTREAM_TIMEOUT": str(upstream_timeout),
        }
        lines = []
        for line in (ROOT / "nginx" / "nginx.conf").read_text().splitlines():
            if not line.lstrip().startswith("#"):
                line = self.PLACEHOLDER.sub(lambda m: values[m.group(1)], line)
            lines.append(line)
        self.conf.write_text("\n".join(lines) + "\n")

    def _command(self, *args: str) -> list[str]:
        return ["nginx", "-p", f"{self.prefix}/", "-e", str(self.prefix / "logs" / "error.log"),
                "-c", str(self.conf), *args]

    def start(self) -> "Nginx":
        result = subprocess.run(self._command(), capture_output=True, text=True, timeout=30,
                                start_new_session=True)
        if result.returncode != 0:
            pytest.fail(f"nginx did not start: {result.stderr}")
        wait_for(self._answers, 10, 0.05, "nginx to listen")
        return self

    def _answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stop(self) -> None:
        pid_file = self.prefix / "nginx.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        try:
            wait_for(lambda: not pid_alive(pid), 10, 0.05, "nginx to quit")
        except AssertionError:
            os.kill(pid, signal.SIGKILL)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 15.0) -> "HTTPResult":
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return HTTPResult(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> "HTTPResult":
        return self.request("GET", path, **kwargs)


@dataclass
class HTTPResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def worker(self) -> int | None:
        value = self.headers.get("x-encore-worker")
        return int(value) if value else None


@pytest.fixture
def start_nginx(workdir: Path):
    """start_nginx(pool, body_limit="1m", upstream_timeout=35) -> a running Nginx."""
    if not (ROOT / "nginx" / "nginx.conf").exists():
        pytest.skip("no nginx/nginx.conf in the repository")
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    started: list[Nginx] = []

    def start(pool: Pool, **options: Any) -> Nginx:
        instance = Nginx(workdir / f"nginx{len(started)}", pool.socket, **options)
        started.append(instance)
        return instance.start()
    yield start
    for instance in started:
        instance.stop()
        error_log = instance.prefix / "logs" / "error.log"
        if error_log.exists():
            print(f"--- {error_log} ---\n" + "\n".join(error_log.read_text(errors="replace").splitlines()[-20:]))


# ------------------------------------------------------------------------------- load
@dataclass
class Outcome:
    started: float
    ended: float
    status: int | None  # None: the request failed without an HTTP answer
    worker: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


class Load:
    """`clients` threads repeating GET path through nginx (one keep-alive connection each,
    re-opened after an error) until stop(); every request's outcome is kept."""

    def __init__(self, nginx: Nginx, path: str = "/healthz", clients: int = 4):
        self.nginx, self.path, self.clients = nginx, path, clients
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def _client(self) -> None:
        connection = None
        while not self._stop.is_set():
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=15)
            started = time.monotonic()
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                response.read()
                worker = response.getheader("X-Encore-Worker")
                outcome = Outcome(started, time.monotonic(), response.status, int(worker) if worker else None)
            except (OSError, http.client.HTTPException) as error:
                outcome = Outcome(started, time.monotonic(), None, None, repr(error))
                connection.close()
                connection = None
            with self._lock:
                self.outcomes.append(outcome)
        if connection is not None:
            connection.close()

    def start(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        assert not any(t.is_alive() for t in self._threads), "a load client hung"
        return self.outcomes

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        wait_for(lambda: len(self.snapshot()) >= count, timeout, 0.01, f"{count} requests under load")


def run_concurrently(count: int, function: Callable[[int], Any]) -> list[Any]:
    """Runs function(0..count-1) in threads at once; returns results (or exceptions) in order."""
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = function(index)
        except Exception as error:  # noqa: BLE001 - returned to the caller
            results[index] = error
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def assert_same_workers(pool: Pool, before: dict) -> dict:
    """The pool's worker pids and restarts are what they were (nothing died)."""
    after = pool.status()
    assert pool.worker_pids() == {w["pid"] for w in pool.http_workers(before)}, (before, after)
    assert {w["pid"] for w in pool.http_workers(after)} == {w["pid"] for w in pool.http_workers(before)}
    assert after["restarts"] == before["restarts"], (before, after)
    for worker in pool.http_workers(after):
        assert pid_alive(worker["pid"])
        assert worker["state"] == "running", worker
    return after


# =============================================================================== 1. kill -9
def test_kill_9_of_a_worker_under_load(start_pool, start_nginx):
    """Only the killed worker's in-flight requests fail; a replacement serves within a second."""
    pool = start_pool(workers=2, threads=3)
    nginx = start_nginx(pool)
    before = pool.status()
    victim = pool.http_workers(before)[0]
    load = Load(nginx, "/healthz", clients=4).start()
    try:
        load.wait_for_requests(200)
        wait_for(lambda: {o.worker for o in load.snapshot() if o.ok} >= pool.worker_pids(), 5,
                 what="both workers serving under load")
        killed_at = time.monotonic()
        os.kill(victim["pid"], signal.SIGKILL)

        # A replacement appears in /status, running, and serves requests of the load.
        def replacement() -> int | None:
            fresh = [w for w in pool.http_workers() if w["pid"] not in {x["pid"] for x in before["workers"]}
                     and w["state"] == "running"]
            return fresh[0]["pid"] if fresh else None
        new_pid = wait_for(replacement, 5, 0.01, "a replacement worker in /status")
        serving = wait_for(lambda: next((o.ended for o in load.snapshot() if o.worker == new_pid), None),
                           5, 0.01, "the replacement to serve a request")
        time.sleep(0.5)  # more load with the replacement in place
    finally:
        outcomes = load.stop()

    assert serving - killed_at < 1.0, f"the replacement served {serving - killed_at:.3f}s after the kill"
    failures = [o for o in outcomes if not o.ok]
    assert len(failures) <= victim["threads"], failures
    for failure in failures:
        # Only requests that were in flight when the worker died may fail, and nginx says 502.
        assert failure.started <= killed_at + 0.05, failure
        assert failure.status in (502, None), failure
    assert sum(o.ok for o in outcomes) >= 200
    assert all(o.worker != victim["pid"] for o in outcomes if o.ok and o.started > killed_at + 0.05)

    after = pool.status()
    assert after["restarts"] == before["restarts"] + 1
    assert not pid_alive(victim["pid"])
    assert len([w for w in pool.http_workers(after) if w["state"] == "running"]) == 2
    pool.wait_for_log(lambda e: e.get("msg") == "process died; replacing it" and e.get("pid") == str(victim["pid"]))


# =============================================================================== 2. SIGHUP
def test_sighup_under_load_fails_no_request(start_pool, start_nginx):
    pool = start_pool(workers=2, threads=2)
    nginx = start_nginx(pool)
    before = pool.status()
    old = {w["pid"] for w in pool.http_workers(before)}
    assert before["generation"] == 1
    load = Load(nginx, "/healthz", clients=4).start()
    try:
        load.wait_for_requests(100)
        os.kill(pool.pid, signal.SIGHUP)
        wait_for(lambda: pool.status()["generation"] == 2, 10, what="generation 2")
        wait_for(lambda: not any(pid_alive(p) for p in old), 15, 0.05, "the old workers to leave")
        new = wait_for(lambda: (pids := pool.worker_pids()) and not pids & old and len(pids) == 2 and pids,
                       10, 0.05, "two new workers")
        count = len(load.snapshot())
        load.wait_for_requests(count + 100)
        # nginx keeps its upstream connections and moves to a new one every 100 requests or
        # after 2 s idle, so the second new worker may get its first request a little later.
        wait_for(lambda: new <= {o.worker for o in load.snapshot()}, 10, 0.05, "each new worker to serve")
    finally:
        outcomes = load.stop()

    failures = [o for o in outcomes if not o.ok]
    assert failures == [], failures
    after = pool.status()
    assert after["generation"] == 2
    assert after["supervisorPID"] == pool.pid
    assert after["restarts"] == before["restarts"]
    assert all(w["generation"] == 2 and w["state"] == "running" for w in pool.http_workers(after))
    served_by = {o.worker for o in outcomes}
    assert new <= served_by, "every new worker served part of the load"
    assert not any(pid_alive(p) for p in old)
    pool.wait_for_log(lambda e: str(e.get("msg", "")).startswith("reload: generation 2 is serving"))


# =============================================================================== 3. PostgreSQL down and up
class OwnCluster:
    """A PostgreSQL cluster in a temporary folder, for this test alone (trust auth on a unix
    socket in the folder, no TCP). Run as the postgres user when we are root."""

    def __init__(self, directory: Path):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        if not bindir or not Path(bindir, "initdb").exists():
            candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
            bindir = str(candidates[-1]) if candidates else ""
        if not bindir or not Path(bindir, "initdb").exists():
            pytest.skip("PostgreSQL server binaries (initdb) not found")
        self.bin = Path(bindir)
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(directory, "postgres", "postgres")
        self.url = f"postgresql://postgres@/postgres?host={directory}&port={self.port}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=timeout,
                                start_new_session=True)
        assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "-N")
        settings = (f"listen_addresses = ''\nport = {self.port}\nunix_socket_directories = '{self.directory}'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 50\n")
        self._run("sh", "-c", f"cat >> '{self.data}/postgresql.conf' <<'EOF'\n{settings}EOF")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "postgres.log"),
                  "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
                              capture_output=True).returncode == 0


@pytest.fixture
def own_cluster():
    directory = short_tmpdir("encore-pg-")
    cluster = OwnCluster(directory)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists() and cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


def test_postgresql_stopped_and_started_healthz_503_then_200_and_no_worker_crashes(start_pool, own_cluster):
    pool = start_pool(workers=2, threads=2, database_url=own_cluster.url)
    threads = sum(w["threads"] for w in pool.http_workers())
    # Every thread opens its connection: as many concurrent requests as threads, each
    # holding its thread for a moment.
    results = run_concurrently(threads, lambda _: pool.get("/_test/sleep", "seconds=0.3"))
    assert all(isinstance(r, fcgi.Response) and r.status == 200 for r in results), results
    assert pool.get("/healthz").status == 200
    before = pool.status()

    own_cluster.stop("fast")
    during = []
    for _ in range(3):  # several rounds of as many concurrent requests as threads
        during += run_concurrently(threads * 2, lambda _: pool.get("/healthz"))
    for response in during:
        assert isinstance(response, fcgi.Response), response
        assert response.status == 503, response
        assert response.json()["error"]["code"] == "database_unavailable"
    assert_same_workers(pool, before)

    own_cluster.start()
    wait_for(lambda: pool.get("/healthz").status == 200, 15, 0.1, "/healthz to answer 200 again")
    after = []
    for _ in range(3):
        after += run_concurrently(threads * 2, lambda _: pool.get("/healthz"))
    assert [r.status if isinstance(r, fcgi.Response) else r for r in after] == [200] * len(after)
    assert all(r.json() == {"status": "ok"} for r in after)
    assert_same_workers(pool, before)
    assert not any(e.get("msg") == "process died; replacing it" for e in pool.log_entries())


def test_after_a_postgresql_restart_idle_threads_do_not_fail_their_next_request(start_pool, own_cluster):
    pool = start_pool(workers=2, threads=2, database_url=own_cluster.url)
    threads = sum(w["threads"] for w in pool.http_workers())
    # Every thread holds a connection (each concurrent request keeps its thread busy a moment).
    warm = run_concurrently(threads, lambda _: pool.get("/_test/sleep", "seconds=0.3"))
    assert [r.status for r in warm] == [200] * threads
    own_cluster.stop("fast")
    assert pool.get("/healthz").status == 503  # one thread notices; the others stay idle
    own_cluster.start()
    wait_for(lambda: pool.get("/healthz").status == 200, 15, 0.1, "/healthz to answer 200 again")
    # The database is up: every thread's next request succeeds.
    after = run_concurrently(threads, lambda _: pool.get("/_test/sleep", "seconds=0.3"))
    assert [r.status if isinstance(r, fcgi.Response) else r for r in after] == [200] * threads


# =============================================================================== 4. bodies
TWENTY_MB = 20 * 1024 * 1024


def raw_http(port: int, head: bytes, body_chunks, timeout: float = 20.0) -> tuple[int, dict[str, str], bytes, int]:
    """Sends an HTTP request head, then body chunks from a thread, while reading the answer
    (nginx answers 413 before the body is sent and may close). Returns status, headers, body
    and how many body bytes were sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sent = [0]

    def send() -> None:
        try:
            sock.sendall(head)
            for chunk in body_chunks:
                sock.sendall(chunk)
                sent[0] += len(chunk)
        except OSError:
            pass  # nginx closed after answering
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = bytearray()
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head_bytes, _, rest = bytes(data).partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = bytearray(rest)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, bytes(body[:length]), sent[0]
    finally:
        sock.close()
        sender.join(10)


def test_20_mb_body_gets_413_from_nginx(start_pool, start_nginx):
    pool = start_pool(workers=1, threads=2)
    nginx = start_nginx(pool, body_limit="1m")
    chunk = b"x" * (1024 * 1024)

    # Declared Content-Length: refused on the headers, before the body.
    head = (f"POST /_test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {TWENTY_MB}\r\nConnection: close\r\n\r\n").encode()
    status, headers, body, sent = raw_http(nginx.port, head, (chunk for _ in range(20)))
    assert status == 413
    assert "x-encore-worker" not in headers  # nginx's answer, not the pool's
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "payload_too_large"

    # No Content-Length (chunked): refused once more than 1m has arrived.
    head = (b"POST /_test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    chunks = (b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(20))
    status, headers, body, sent = raw_http(nginx.port, head, chunks)
    assert status == 413
    assert "x-encore-worker" not in headers
    assert json.loads(body)["error"]["code"] == "payload_too_large"

    # The pool never saw either; just under nginx's limit goes through to the pool.
    under = nginx.request("POST", "/_test/echo", body=b"y" * (1024 * 1024 - 1),
                          headers={"Content-Type": "application/octet-stream"})
    assert under.status == 200, under
    assert under.json() == {"bytes": 1024 * 1024 - 1}
    assert under.worker in pool.worker_pids()
    # The access line is written after the answer is sent: wait for it, then count them all.
    is_echo = lambda e: e.get("logger") == "encore.access" and e.get("path") == "/_test/echo"
    pool.wait_for_log(is_echo)
    echoes = [e for e in pool.log_entries() if is_echo(e)]
    assert [e["status"] for e in echoes] == ["200"]
    assert pool.status()["rejectedBodies"] == 0


def test_body_over_the_pools_limit_gets_413_from_the_pool(start_pool):
    limit = 100_000
    pool = start_pool(workers=1, threads=2, body_limit=limit)
    before = pool.status()
    over = b"z" * (limit + 1)
    cases = {
        "declared, over the limit": dict(body=over),
        "declared over the limit, short body": dict(body=b"z" * 10, content_length=limit + 1),
        "declared small, body longer than declared": dict(body=over, content_length=10),
        "no CONTENT_LENGTH": dict(body=over, content_length=None),
        "no CONTENT_LENGTH, 2 MB": dict(body=b"z" * (2 * 1024 * 1024), content_length=None),
    }
    for name, kwargs in cases.items():
        response = pool.request("POST", "/_test/echo", **kwargs)
        assert response.status == 413, (name, response)
        assert response.headers["content-type"].startswith("application/json"), name
        assert response.json()["error"]["code"] == "payload_too_large", name
    for body, declared in ((b"z" * limit, "auto"), (b"z" * (limit - 1), "auto"), (b"z" * limit, None)):
        response = pool.request("POST", "/_test/echo", body=body, content_length=declared)
        assert response.status == 200, response
        assert response.json() == {"bytes": len(body)}
    after = assert_same_workers(pool, before)
    assert after["rejectedBodies"] == before["rejectedBodies"] + len(cases)


# =============================================================================== 5. malformed records
def _params(method: str, path: str, **kwargs: Any) -> bytes:
    return b"".join(fcgi.encode_pair(k.encode(), v.encode()) for k, v in fcgi.cgi_params(method, path, **kwargs).items())


def test_malformed_fastcgi_records_do_not_take_a_worker_down(start_pool):
    pool = start_pool(workers=2, threads=2)
    before = pool.status()
    rng = random.Random(2)
    healthz = _params("GET", "/healthz")
    big_value = b"v" * (65535 - 1 - 4 - len(b"HTTP_X_BIG"))
    cases = {
        "garbage": bytes(rng.randrange(256) for _ in range(4096)),
        "truncated header": fcgi.header(fcgi.BEGIN_REQUEST, 8)[:5],
        "header only, content missing": fcgi.header(fcgi.BEGIN_REQUEST, 8),
        "bogus version": fcgi.record(fcgi.BEGIN_REQUEST, struct.pack(">HB5x", 1, 0), version=9)
        + fcgi.stream(fcgi.PARAMS, healthz) + fcgi.stream(fcgi.STDIN, b""),
        "bogus type, management record": fcgi.record(99, b"12345678", request_id=0),
        "bogus type before BEGIN_REQUEST": fcgi.record(77, b"abcdefgh") + fcgi.begin_request()
        + fcgi.stream(fcgi.PARAMS, healthz) + fcgi.record(fcgi.STDIN, b"", request_id=1)[:3],
        "bogus role": fcgi.record(fcgi.BEGIN_REQUEST, struct.pack(">HB5x", 99, 0))
        + fcgi.stream(fcgi.PARAMS, healthz) + fcgi.stream(fcgi.STDIN, b""),
        "oversized params record (65535 bytes, one pair)": fcgi.begin_request()
        + fcgi.record(fcgi.PARAMS, fcgi.encode_pair(b"HTTP_X_BIG", big_value)),
        "params pair longer than its record": fcgi.begin_request()
        + fcgi.record(fcgi.PARAMS, struct.pack(">II", 0x80010000, 0x80000010) + b"abc")
        + fcgi.stream(fcgi.PARAMS, b"") + fcgi.stream(fcgi.STDIN, b""),
        "content length larger than sent": fcgi.begin_request() + fcgi.header(fcgi.PARAMS, 65535) + healthz,
        "half a request": fcgi.encode_request(fcgi.cgi_params("GET", "/healthz"))[:40],
        "STDIN before PARAMS end": fcgi.begin_request() + fcgi.record(fcgi.STDIN, b"body"),
    }
    for name, payload in cases.items():
        received = fcgi.send_raw(pool.socket, payload, wait=5)
        # Whatever came back is a FastCGI answer, never a crash: a management reply or nothing.
        for rtype, _rid, _content in _records(received):
            assert rtype in (fcgi.UNKNOWN_TYPE, fcgi.STDOUT, fcgi.END_REQUEST), (name, received[:100])
        status = pool.get("/healthz")
        assert status.status == 200, (name, status)

    # The oversized-but-legal params record is a well-formed request: it is served.
    big = fcgi.exchange(pool.socket, fcgi.begin_request()
                        + fcgi.record(fcgi.PARAMS, fcgi.encode_pair(b"HTTP_X_BIG", big_value))
                        + fcgi.stream(fcgi.PARAMS, healthz) + fcgi.stream(fcgi.STDIN, b""))
    assert big.status == 200 and big.json() == {"status": "ok"}

    # A client that opens connections and goes away without a byte.
    for _ in range(5):
        fcgi.connect(pool.socket).close()

    assert_same_workers(pool, before)
    # No thread is left stuck on a half-read connection: every thread is idle but ours.
    wait_for(lambda: pool.status()["activeThreads"] == 1, 5, 0.05, "every thread idle")
    results = run_concurrently(8, lambda _: pool.get("/healthz"))
    assert all(isinstance(r, fcgi.Response) and r.status == 200 for r in results), results


@pytest.mark.parametrize("name_length, value_length", [
    (0x7FFFFFFF, 0x7FFFFFFF),  # the largest lengths the encoding allows (CVE-2025-23016's pair)
    (0x7FFFFFFF, 3),
    (0x40000000, 0x40000000),
    (0x3FFFFFF0, 0x3FFFFFF0),
])
def test_params_declaring_absurd_lengths_do_not_take_a_worker_down(start_pool, name_length, value_length):
    """A name-value pair whose 4-byte lengths claim gigabytes (far beyond the record)."""
    pool = start_pool(workers=1, threads=2)
    before = pool.status()
    payload = (fcgi.begin_request()
               + fcgi.record(fcgi.PARAMS, struct.pack(">II", name_length | 0x80000000, value_length | 0x80000000)
                             + b"abcdefgh" * 8)
               + fcgi.stream(fcgi.PARAMS, b"") + fcgi.stream(fcgi.STDIN, b""))
    fcgi.send_raw(pool.socket, payload, wait=5)
    assert pool.get("/healthz").status == 200
    assert_same_workers(pool, before)


def _records(data: bytes):
    offset = 0
    while len(data) - offset >= 8:
        _v, rtype, rid, length, padding = fcgi.HEADER.unpack(data[offset:offset + 8])
        yield rtype, rid, data[offset + 8:offset + 8 + length]
        offset += 8 + length + padding


def test_a_request_cut_short_is_not_served(start_pool):
    """A connection that closes in the middle of the body (or of the parameters) is not a
    request: the handler must not run with what arrived so far."""
    pool = start_pool(workers=1, threads=2)
    before = pool.status()
    declared = _params("POST", "/_test/echo", content_length=1000)
    cut_body = fcgi.begin_request() + fcgi.stream(fcgi.PARAMS, declared) + fcgi.record(fcgi.STDIN, b"z" * 500)
    cut_params = fcgi.begin_request() + fcgi.record(fcgi.PARAMS, declared)
    for name, payload in (("body cut short", cut_body), ("params not ended", cut_params)):
        received = fcgi.send_raw(pool.socket, payload, wait=5)
        stdout = b"".join(c for t, _r, c in _records(received) if t == fcgi.STDOUT)
        assert b"Status: 200" not in stdout, (name, stdout)
    echoes = [e for e in pool.log_entries()
              if e.get("logger") == "encore.access" and e.get("path") == "/_test/echo" and e.get("status") == "200"]
    assert echoes == []
    assert_same_workers(pool, before)
    assert pool.request("POST", "/_test/echo", body=b"z" * 1000).json() == {"bytes": 1000}


# =============================================================================== 6. slow log and timeouts
def test_slow_request_is_logged_and_counted(start_pool):
    pool = start_pool(workers=1, threads=2, slow_request=0.3, request_timeout=5)
    before = pool.status()
    response = pool.get("/_test/sleep", "seconds=0.6")
    assert response.status == 200, response
    line = pool.wait_for_log(lambda e: e.get("slow_log") == "true")
    assert line["path"] == "/_test/sleep"
    assert line.get("method") == "GET"
    after = assert_same_workers(pool, before)
    assert after["slowRequests"] == before["slowRequests"] + 1
    assert after["timedOutRequests"] == 0
    # A quick request is not slow-logged.
    assert pool.get("/healthz").status == 200
    time.sleep(0.5)
    assert len([e for e in pool.log_entries() if e.get("slow_log") == "true"]) == 1


def test_request_timeout_ends_a_database_wait_with_503_and_the_worker_stays(start_pool):
    pool = start_pool(workers=1, threads=2, request_timeout=1, slow_request=0.5)
    before = pool.status()
    started = time.monotonic()
    response = pool.get("/_test/sleep", "seconds=3")
    elapsed = time.monotonic() - started
    assert response.status == 503, response
    assert response.json()["error"]["code"] == "request_timeout"
    assert elapsed < 2.5, f"answered after {elapsed:.2f}s: the 3 s sleep was not cut short"
    after = assert_same_workers(pool, before)
    assert after["timedOutRequests"] == before["timedOutRequests"]
    assert pool.get("/healthz").status == 200  # the thread's connection still works


def test_request_timeout_ends_a_busy_request_and_replaces_the_worker(start_pool, start_nginx):
    pool = start_pool(workers=1, threads=2, request_timeout=1, slow_request=0.5, stop_timeout=10)
    nginx = start_nginx(pool, upstream_timeout=6)
    before = pool.status()
    victim = pool.http_workers(before)[0]["pid"]
    started = time.monotonic()
    try:
        response = nginx.get("/_test/spin?seconds=3")
        outcome: int | str = response.status
    except (OSError, http.client.HTTPException) as error:
        outcome = repr(error)
    elapsed = time.monotonic() - started
    assert outcome in (502, 504) or isinstance(outcome, str), outcome
    assert elapsed < 2.5, f"ended after {elapsed:.2f}s: the 3 s request was not cut short"
    pool.wait_for_log(lambda e: str(e.get("msg", "")).startswith("request timed out")
                      and e.get("path") == "/_test/spin")
    # The worker retires once its spinning thread is done, and a new one takes its place.
    wait_for(lambda: victim not in pool.worker_pids() and len(pool.worker_pids()) == 1, 10, 0.05,
             "the worker to be replaced")
    wait_for(lambda: not pid_alive(victim), 5, 0.05, "the old worker to exit")
    after = pool.status()
    assert after["timedOutRequests"] == before["timedOutRequests"] + 1
    assert nginx.get("/healthz").status == 200


# =============================================================================== 7. recycling
def test_workers_are_recycled_after_max_requests_without_failures(start_pool):
    pool = start_pool(workers=2, threads=2, max_requests=20)
    initial = pool.worker_pids()
    outcomes: list[Any] = []
    lock = threading.Lock()

    def client(_: int) -> None:
        for _ in range(25):
            try:
                response = pool.get("/healthz")
                result: Any = (response.status, response.worker)
            except Exception as error:  # noqa: BLE001
                result = (repr(error), None)
            with lock:
                outcomes.append(result)
    run_concurrently(4, client)
    assert len(outcomes) == 100
    assert [o for o in outcomes if o[0] != 200] == []
    served_by = {w for _, w in outcomes}
    assert len(served_by) > len(initial)
    wait_for(lambda: len(pool.worker_pids()) == 2 and not pool.worker_pids() & initial, 10, 0.05,
             "the initial workers to be replaced")
    status = pool.status()
    assert status["restarts"] == 0  # recycling is not a crash
    assert not any(pid_alive(p) for p in initial)
    assert sum(1 for e in pool.log_entries() if e.get("msg") == "process recycled") >= 4


# =============================================================================== 8. graceful stop
def test_sigterm_finishes_the_request_in_flight_and_leaves_nothing(start_pool):
    pool = start_pool(workers=2, threads=2, stop_timeout=10)
    workers = pool.worker_pids()
    result: dict[str, Any] = {}

    def slow() -> None:
        try:
            result["response"] = pool.get("/_test/sleep", "seconds=1", timeout=15)
        except Exception as error:  # noqa: BLE001
            result["error"] = error
    thread = threading.Thread(target=slow)
    thread.start()
    wait_for(lambda: pool.status()["activeThreads"] >= 2, 5, 0.01, "the sleep request to be in flight")
    os.kill(pool.pid, signal.SIGTERM)
    thread.join(15)
    code = pool.process.wait(20)

    assert "error" not in result, result
    assert result["response"].status == 200, result["response"]
    assert result["response"].body.startswith(b"slept")
    assert code == 0
    assert not Path(pool.socket).exists()
    assert not pool.pid_file.exists()
    assert session_processes(pool.pid) == []
    assert not any(pid_alive(p) for p in workers | {pool.pid})
    assert any(e.get("msg") == "pool stopped" for e in pool.log_entries())


# =============================================================================== 9. crash loop
def test_crash_loop_backs_off_and_recovers(start_pool):
    pool = start_pool(workers=1, threads=2)
    crashes = 0
    deadline = time.monotonic() + 20

    def backing_off() -> bool:
        return any(e.get("msg") == "processes keep crashing; backing off before the next start"
                   for e in pool.log_entries())
    while not backing_off():
        assert time.monotonic() < deadline, f"no back-off after {crashes} crashes:\n{pool.log_tail()}"
        with pytest.raises(fcgi.ConnectionClosed):
            pool.request("POST", "/_test/crash", body=b"{}", timeout=20)
        crashes += 1
        # The crashed worker is gone before the next crash request is sent.
        wait_for(lambda: backing_off() or sum(e.get("msg") == "process died; replacing it"
                                              for e in pool.log_entries()) >= crashes, 5, 0.01,
                 "the crash to be noticed")
    assert crashes >= 5
    line = next(e for e in pool.log_entries() if e.get("msg", "").startswith("processes keep crashing"))
    assert int(line["backoff_ms"]) > 0
    status = pool.status(timeout=40)  # waits in the backlog while no worker runs
    assert status["crashLoopBackoffMs"] > 0
    assert status["restarts"] >= 5
    # It recovers: a worker runs again and serves.
    wait_for(lambda: pool.get("/healthz").status == 200, 40, 0.1, "a request to succeed after the back-off")
    assert len(pool.worker_pids()) == 1


# =============================================================================== 10. /status and /metrics
STATUS_FIELDS = {
    "supervisorPID": int, "startedAt": int, "generation": int, "acceptedRequests": int,
    "activeThreads": int, "idleThreads": int, "restarts": int, "slowRequests": int,
    "timedOutRequests": int, "rejectedBodies": int, "crashLoopBackoffMs": int, "workers": list,
    "restartsByCause": dict,
}
WORKER_FIELDS = {
    "slot": int, "pid": int, "kind": str, "state": str, "generation": int, "startedAt": int,
    "requestsServed": int, "activeThreads": int, "threads": int,
}
METRICS = {
    "encore_pool_accepted_requests_total": "counter", "encore_pool_active_threads": "gauge",
    "encore_pool_idle_threads": "gauge", "encore_pool_restarts_total": "counter",
    "encore_pool_slow_requests_total": "counter", "encore_pool_timed_out_requests_total": "counter",
    "encore_pool_rejected_bodies_total": "counter", "encore_worker_requests_served": "gauge",
    "encore_pool_restarts_by_cause_total": "counter", "encore_http_request_duration_seconds": "histogram",
}


def test_status_and_metrics_shape_through_nginx_from_loopback(start_pool, start_nginx):
    pool = start_pool(workers=2, threads=3)
    nginx = start_nginx(pool)
    for _ in range(10):
        assert nginx.get("/healthz").status == 200

    response = nginx.get("/status")
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    status = response.json()
    assert set(status) == set(STATUS_FIELDS)
    for key, kind in STATUS_FIELDS.items():
        assert isinstance(status[key], kind), key
    assert status["supervisorPID"] == pool.pid
    assert status["generation"] == 1
    assert status["acceptedRequests"] >= 10
    assert status["restarts"] == 0 and status["crashLoopBackoffMs"] == 0
    assert status["restartsByCause"] == {"crash": 0, "killed": 0, "exit": 0}
    workers = [w for w in status["workers"] if w["kind"] == "http"]
    assert len(workers) == 2
    for worker in status["workers"]:
        assert set(worker) == set(WORKER_FIELDS)
        for key, kind in WORKER_FIELDS.items():
            assert isinstance(worker[key], kind), key
        assert worker["kind"] in ("http", "background")
        assert pid_alive(worker["pid"])
    for worker in workers:
        assert worker["threads"] == 3 and worker["state"] == "running" and worker["generation"] == 1
    assert sum(w["requestsServed"] for w in workers) == status["acceptedRequests"]
    assert status["activeThreads"] + status["idleThreads"] == 6
    assert status["activeThreads"] >= 1  # this very request

    response = nginx.get("/metrics")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.body.decode()
    for name, kind in METRICS.items():
        assert f"# TYPE {name} {kind}" in text, name
        assert f"# HELP {name} " in text, name
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = re.fullmatch(r'([a-z_]+)(\{[^}]*\})? (-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)', line)
            assert match, line
            values[(match.group(1), match.group(2) or "")] = float(match.group(3))
    assert values[("encore_pool_accepted_requests_total", "")] >= status["acceptedRequests"]
    per_worker = {k[1] for k in values if k[0] == "encore_worker_requests_served"}
    assert per_worker == {f'{{pid="{w["pid"]}",slot="{w["slot"]}"}}' for w in workers}

    # The same figures straight from the socket (what nginx lets only loopback reach).
    assert pool.status()["supervisorPID"] == pool.pid
