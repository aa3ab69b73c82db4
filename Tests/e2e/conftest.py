"""Fixtures for Encore's end-to-end tests.

bin/test starts the test stack (PostgreSQL on .data/test, the pool with ENCORE_TEST_ROUTES=1,
nginx on 127.0.0.1:8081) and runs `python3 -m pytest Tests/e2e` with these variables:

    ENCORE_BASE_URL         http://127.0.0.1:8081
    ENCORE_SOCKET_PATH      the pool's unix socket
    ENCORE_PID_FILE_PATH    the supervisor's pid file
    ENCORE_LOG_FILE         the pool's log (JSON lines)
    ENCORE_NGINX_PREFIX     nginx's prefix folder (logs/access.log, logs/error.log)
    ENCORE_PGDATA, ENCORE_PG_CTL, ENCORE_PG_LOG, ENCORE_PG_USER
                            the test cluster's data folder, pg_ctl, its log, and the OS user
                            pg_ctl must run as ("postgres" when root, empty otherwise)
    ENCORE_BINARY           .build/release/encore
    DATABASE_URL            the test database (encore_test)

Without them (pytest run by hand) the defaults point at the test stack's usual paths.

Fixtures: base_url, http (a requests session taking paths), stack (the paths above),
pool (status, supervisor and worker pids, health), fastcgi (a FastCGI client straight to the
pool's socket, for raw and malformed records), pg (stop/start the test cluster), log and
access_log (read what was logged since the test began), load (a bounded background load on
loopback), browser (headless Chromium via Selenium), wait_until, restarts (declare the main
pool's workers a test kills), figures (figures a test reports at the end of the run).

Across the whole run, the main stack's pool must restart no worker that no test declared it
killed (`restarts.expect(n)`): the `/status` counter is read at the start and at the end.
Tests marked `run_last` run after all others (the fuzzing, which fills the database).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
TEST_DATA = ROOT / ".data" / "test"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


# --------------------------------------------------------------------------------- waiting
def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
               message: str = "condition") -> Any:
    """Calls predicate until it returns something truthy (returned) or timeout passes
    (AssertionError). Exceptions from the predicate count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - retried until the deadline
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {message}{detail}")
        time.sleep(interval)


# --------------------------------------------------------------------------------- the stack
@dataclass(frozen=True)
class Stack:
    base_url: str
    socket: Path
    pid_file: Path
    log_file: Path
    nginx_prefix: Path
    pgdata: Path
    pg_ctl: str
    pg_log: Path
    pg_user: str
    binary: Path
    database_url: str
    config_file: Path

    @classmethod
    def from_env(cls) -> "Stack":
        pg_ctl = _env("ENCORE_PG_CTL", "")
        if not pg_ctl:
            try:
                bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True,
                                        text=True, check=True).stdout.strip()
            except (OSError, subprocess.CalledProcessError):
                bindir = "/usr/lib/postgresql/15/bin"
            pg_ctl = f"{bindir}/pg_ctl"
        default_user = "postgres" if os.geteuid() == 0 else ""
        return cls(
            base_url=_env("ENCORE_BASE_URL", "http://127.0.0.1:8081").rstrip("/"),
            socket=Path(_env("ENCORE_SOCKET_PATH", str(TEST_DATA / "run" / "encore.sock"))),
            pid_file=Path(_env("ENCORE_PID_FILE_PATH", str(TEST_DATA / "run" / "encore.pid"))),
            log_file=Path(_env("ENCORE_LOG_FILE", str(TEST_DATA / "log" / "encore.log"))),
            nginx_prefix=Path(_env("ENCORE_NGINX_PREFIX", str(TEST_DATA / "nginx"))),
            pgdata=Path(_env("ENCORE_PGDATA", str(TEST_DATA / "postgres" / "data"))),
            pg_ctl=pg_ctl,
            pg_log=Path(_env("ENCORE_PG_LOG", str(TEST_DATA / "postgres" / "postgres.log"))),
            pg_user=os.environ.get("ENCORE_PG_USER", default_user),
            binary=Path(_env("ENCORE_BINARY", str(ROOT / ".build" / "release" / "encore"))),
            database_url=os.environ.get("DATABASE_URL", ""),
            config_file=Path(_env("ENCORE_CONFIG", str(TEST_DATA / "encore.conf"))),
        )


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack.from_env()


@pytest.fixture(scope="session")
def base_url(stack: Stack) -> str:
    return stack.base_url


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connects from a given local address: another loopback address (127.0.0.2...) is
    another client to nginx and the app (`REMOTE_ADDR`), for the per-client sign-in throttle."""

    def __init__(self, source: str, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):  # type: ignore[override]
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class EncoreSession(requests.Session):
    """A requests session that takes paths ("/healthz") as well as full URLs and has a
    default timeout, so a hung server fails a test instead of hanging the run. `source`: the
    loopback address it connects from (another client), default 127.0.0.1."""

    def __init__(self, base_url: str, timeout: float = 15.0, source: str | None = None):
        super().__init__()
        self.base_url = base_url
        self.default_timeout = timeout
        if source:
            self.mount("http://", SourceAddressAdapter(source))

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.default_timeout)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def http(base_url: str):
    with EncoreSession(base_url) as session:
        yield session


# --------------------------------------------------------------------------------- processes
def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        return _proc_stat(pid)[0] != "Z"
    except OSError:
        return False


def _proc_stat(pid: int) -> tuple[str, int]:
    """(state, parent pid) of a process, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    after_name = text[text.rindex(")") + 2:].split()
    return after_name[0], int(after_name[1])


def children_of(pid: int) -> list[int]:
    """Live child processes of pid, sorted."""
    result = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = _proc_stat(int(entry.name))
        except (OSError, ValueError):
            continue
        if ppid == pid and state != "Z":
            result.append(int(entry.name))
    return sorted(result)


class Pool:
    """The FastCGI worker pool under test: its supervisor, workers and figures."""

    def __init__(self, stack: Stack, base_url: str):
        self.stack = stack
        self.base_url = base_url

    def supervisor_pid(self) -> int:
        return int(self.stack.pid_file.read_text().strip())

    def worker_pids(self) -> list[int]:
        """The supervisor's live child processes (its workers), from /proc."""
        return children_of(self.supervisor_pid())

    def status(self) -> dict:
        """GET /status through nginx (loopback), as JSON."""
        response = requests.get(self.base_url + "/status", timeout=10)
        response.raise_for_status()
        return response.json()

    def healthz(self) -> int:
        try:
            return requests.get(self.base_url + "/healthz", timeout=5).status_code
        except requests.RequestException:
            return 0

    def wait_healthy(self, timeout: float = 30.0) -> None:
        wait_until(lambda: self.healthz() == 200, timeout, 0.1, "/healthz to answer 200")

    def signal(self, signum: int) -> None:
        os.kill(self.supervisor_pid(), signum)

    def reload(self) -> None:
        self.signal(signal.SIGHUP)

    def reload_and_wait(self) -> None:
        """SIGHUP, then wait until a new generation of workers serves and the old one has left."""
        old = set(self.worker_pids())
        self.reload()
        wait_until(lambda: not (set(self.worker_pids()) & old), 60, 0.1, "the old generation to leave")
        self.wait_healthy()

    @contextmanager
    def settings(self, **values: str):
        """The pool runs with these settings (`key = value` in its config file, then a reload)
        until the block ends; then with the file as it was."""
        path = self.stack.config_file
        assert path.exists(), f"{path}: the test pool reads no config file (bin/test writes one)"
        before = path.read_text()
        path.write_text(before + "".join(f"\n{key} = {value}" for key, value in values.items()) + "\n")
        try:
            self.reload_and_wait()
            yield
        finally:
            path.write_text(before)
            self.reload_and_wait()


@pytest.fixture
def pool(stack: Stack, base_url: str) -> Pool:
    return Pool(stack, base_url)


# --------------------------------------------------------------------------------- FastCGI
FCGI_BEGIN_REQUEST = 1
FCGI_ABORT_REQUEST = 2
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_DATA = 8
FCGI_GET_VALUES = 9
FCGI_GET_VALUES_RESULT = 10
FCGI_UNKNOWN_TYPE = 11
FCGI_RESPONDER = 1
FCGI_KEEP_CONN = 1
FCGI_REQUEST_COMPLETE = 0
FCGI_MAX_CONTENT = 65535


def fcgi_record(rtype: int, content: bytes = b"", request_id: int = 1, version: int = 1,
                padding: int | None = None, content_length: int | None = None) -> bytes:
    """One FastCGI record. content_length may lie about the content (malformed records)."""
    if padding is None:
        padding = (-len(content)) % 8
    length = len(content) if content_length is None else content_length
    return (struct.pack("!BBHHBB", version, rtype, request_id, length, padding, 0)
            + content + b"\0" * padding)


def fcgi_begin_request(request_id: int = 1, role: int = FCGI_RESPONDER, flags: int = 0) -> bytes:
    return fcgi_record(FCGI_BEGIN_REQUEST, struct.pack("!HB5x", role, flags), request_id)


def fcgi_stream(rtype: int, data: bytes, request_id: int = 1, chunk: int = 32768) -> bytes:
    """A stream (PARAMS, STDIN): records of at most `chunk` bytes and the empty closing one."""
    out = [fcgi_record(rtype, data[i:i + chunk], request_id) for i in range(0, len(data), chunk)]
    out.append(fcgi_record(rtype, b"", request_id))
    return b"".join(out)


def fcgi_encode_params(params: dict[str, str]) -> bytes:
    def length(n: int) -> bytes:
        return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
    out = bytearray()
    for name, value in params.items():
        k, v = name.encode("latin-1"), str(value).encode("latin-1")
        out += length(len(k)) + length(len(v)) + k + v
    return bytes(out)


def fcgi_parse_records(data: bytes) -> tuple[list[tuple[int, int, bytes]], bytes]:
    """Splits bytes into (type, request id, content) records; returns the unparsed rest."""
    records, i = [], 0
    while len(data) - i >= 8:
        _version, rtype, rid, length, padding, _ = struct.unpack("!BBHHBB", data[i:i + 8])
        if len(data) - i < 8 + length + padding:
            break
        records.append((rtype, rid, data[i + 8:i + 8 + length]))
        i += 8 + length + padding
    return records, data[i:]


@dataclass
class FastCGIResponse:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stdout: bytes = b""
    stderr: bytes = b""
    app_status: int | None = None
    protocol_status: int | None = None
    ended: bool = False           # an END_REQUEST record arrived
    bytes_sent: int = 0           # how much of the request the pool accepted before answering
    send_error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


def _parse_cgi(stdout: bytes, response: FastCGIResponse) -> None:
    head, sep, body = stdout.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = stdout.partition(b"\n\n")
    if not sep:
        response.body = stdout
        return
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        response.headers[name.strip().lower()] = value.strip()
    response.status = int(response.headers.get("status", "200").split()[0])
    response.body = body


class FastCGIClient:
    """Talks FastCGI straight to the pool's socket, bypassing nginx."""

    def __init__(self, socket_path: Path | str):
        self.socket_path = str(socket_path)

    def connect(self, timeout: float = 10.0) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(self.socket_path)
        return sock

    @staticmethod
    def params_for(method: str, uri: str, body_length: int | None, headers: dict[str, str] | None,
                   content_type: str | None) -> dict[str, str]:
        parts = urlsplit(uri)
        params = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": "encore-e2e",
            "REQUEST_METHOD": method,
            "REQUEST_URI": uri,
            "DOCUMENT_URI": parts.path,
            "SCRIPT_NAME": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_SCHEME": "http",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "40000",
            "SERVER_ADDR": "127.0.0.1",
            "SERVER_PORT": "8081",
            "SERVER_NAME": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8081",
            "CONTENT_TYPE": content_type or "",
            "CONTENT_LENGTH": "" if body_length is None else str(body_length),
        }
        for name, value in (headers or {}).items():
            params["HTTP_" + name.upper().replace("-", "_")] = value
        return params

    def request(self, method: str = "GET", uri: str = "/healthz", body: bytes = b"",
                headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                content_type: str | None = None, content_length: int | None = None,
                request_id: int = 1, keep_conn: bool = False, timeout: float = 15.0) -> FastCGIResponse:
        """One request. params override the generated ones; content_length overrides
        CONTENT_LENGTH (default: len(body), or empty for a bodiless GET). The body is sent
        from a thread while the answer is read, so a pool that answers early (413) and
        closes is seen as such: bytes_sent and send_error tell how far the upload got."""
        if content_length is None and (body or method not in ("GET", "HEAD")):
            content_length = len(body)
        all_params = self.params_for(method, uri, content_length, headers, content_type)
        all_params.update(params or {})
        head = (fcgi_begin_request(request_id, flags=FCGI_KEEP_CONN if keep_conn else 0)
                + fcgi_stream(FCGI_PARAMS, fcgi_encode_params(all_params), request_id))
        return self.exchange(head, fcgi_stream(FCGI_STDIN, body, request_id), request_id, timeout)

    def exchange(self, head: bytes, tail: bytes = b"", request_id: int = 1,
                 timeout: float = 15.0) -> FastCGIResponse:
        """Sends head, then tail from a thread, and reads records until END_REQUEST, EOF or
        timeout (socket.timeout is raised then)."""
        response = FastCGIResponse()
        sock = self.connect(timeout)
        sent = [0]

        def send() -> None:
            try:
                for data in (head, tail):
                    view = memoryview(data)
                    while view:
                        n = sock.send(view[:65536])
                        sent[0] += n
                        view = view[n:]
            except OSError as error:  # the pool answered early and closed: expected for 413
                response.send_error = type(error).__name__

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        buffer, stdout, stderr = b"", bytearray(), bytearray()
        try:
            while not response.ended:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                records, buffer = fcgi_parse_records(buffer + chunk)
                for rtype, rid, content in records:
                    if rtype == FCGI_STDOUT and rid == request_id:
                        stdout += content
                    elif rtype == FCGI_STDERR and rid == request_id:
                        stderr += content
                    elif rtype == FCGI_END_REQUEST and rid == request_id:
                        response.app_status, response.protocol_status = struct.unpack("!IB3x", content[:8])
                        response.ended = True
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            sender.join(timeout=5)
        response.bytes_sent = sent[0]
        response.stdout, response.stderr = bytes(stdout), bytes(stderr)
        _parse_cgi(response.stdout, response)
        return response

    def send_raw(self, data: bytes, timeout: float = 5.0, close_write: bool = True) -> tuple[bytes, bool]:
        """Sends arbitrary bytes; returns (everything received, whether the pool closed the
        connection) after EOF or `timeout` seconds of silence."""
        sock = self.connect(timeout)
        received = bytearray()
        closed = False
        try:
            try:
                sock.sendall(data)
                if close_write:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                except OSError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                received += chunk
        finally:
            sock.close()
        return bytes(received), closed


@pytest.fixture
def fastcgi(stack: Stack) -> FastCGIClient:
    return FastCGIClient(stack.socket)


# --------------------------------------------------------------------------------- PostgreSQL
class Postgres:
    """Stops and starts the test cluster with pg_ctl (as the postgres user when root)."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [self.stack.pg_ctl, "-D", str(self.stack.pgdata), *args]
        if self.stack.pg_user and os.geteuid() == 0:
            command = ["runuser", "-u", self.stack.pg_user, "--", *command]
        # A new session: the server must not belong to pytest's process group.
        return subprocess.run(command, capture_output=True, text=True, check=check,
                              start_new_session=True, timeout=90)

    def running(self) -> bool:
        return self._ctl("status", check=False).returncode == 0

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._ctl("-m", mode, "-w", "-t", "60", "stop")

    def start(self) -> None:
        if not self.running():
            self._ctl("-l", str(self.stack.pg_log), "-w", "-t", "60", "start")


@pytest.fixture
def pg(stack: Stack, pool: Pool):
    """The test cluster. Whatever a test does, it is running again afterwards and the
    pool answers /healthz with 200 before the next test starts."""
    postgres = Postgres(stack)
    yield postgres
    if not postgres.running():
        postgres.start()
    pool.wait_healthy(timeout=30)


# --------------------------------------------------------------------------------- logs
class LogReader:
    """Reads what a log file gained since the reader was made (or last read)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def lines(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            if self.path.stat().st_size < self.offset:  # truncated or replaced
                self.offset = 0
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in complete]

    def entries(self) -> list[dict]:
        """New lines that are JSON objects (the pool logs JSON lines)."""
        out = []
        for line in self.lines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        """The first new JSON entry for which predicate is true."""
        seen: list[dict] = []

        def find() -> dict | None:
            for entry in self.entries():
                seen.append(entry)
                if predicate(entry):
                    return entry
            return None
        try:
            return wait_until(find, timeout, 0.1, "a matching log entry")
        except AssertionError:
            tail = "\n".join(json.dumps(e) for e in seen[-20:])
            raise AssertionError(f"no matching entry in {self.path} within {timeout}s; last entries:\n{tail}")


@pytest.fixture
def log(stack: Stack) -> LogReader:
    """The pool's log from the start of the test on."""
    return LogReader(stack.log_file)


@pytest.fixture
def access_log(stack: Stack) -> LogReader:
    """nginx's access log (JSON lines, flushed every second) from the start of the test on."""
    return LogReader(stack.nginx_prefix / "logs" / "access.log")


# --------------------------------------------------------------------------------- database
class Database:
    """SQL through psql against the stack's DATABASE_URL (the pool's own database). `params`
    become psql variables, so a query names them as :'name' and never pastes them in."""

    def __init__(self, url: str):
        self.url = url

    def rows(self, query: str, **params: str) -> list[list[str]]:
        args = ["psql", self.url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-F", "\x1f"]
        for name, value in params.items():
            args += ["-v", f"{name}={value}"]
        # Variables are interpolated from a script (-f -), not from -c.
        result = subprocess.run(args + ["-f", "-"], input=query, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return [line.split("\x1f") for line in result.stdout.splitlines() if line != ""]

    def value(self, query: str, **params: str) -> str:
        rows = self.rows(query, **params)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return rows[0][0]

    def count(self, query: str, **params: str) -> int:
        return int(self.value(query, **params))

    def execute(self, statement: str, **params: str) -> None:
        self.rows(statement, **params)


@pytest.fixture(scope="module")
def db(stack) -> Database:
    if not stack.database_url:
        pytest.skip("DATABASE_URL is not set (bin/test sets it)")
    if not shutil.which("psql"):
        pytest.skip("psql is not installed")
    return Database(stack.database_url)


# --------------------------------------------------------------------------------- load
@dataclass
class LoadResult:
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def failed(self) -> int:
        return len(self.errors) + sum(n for s, n in self.statuses.items() if s >= 500)


class Load:
    """Background HTTP load on loopback: `threads` clients repeat GET path until stop()
    or max_seconds (a hard bound). Connection errors and 5xx count as failures."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.result = LoadResult()

    def start(self, path: str = "/healthz", threads: int = 8, max_seconds: float = 60.0) -> "Load":
        deadline = time.monotonic() + max_seconds

        def client() -> None:
            with requests.Session() as session:
                while not self._stop.is_set() and time.monotonic() < deadline:
                    try:
                        status = session.get(self.base_url + path, timeout=10).status_code
                        with self._lock:
                            self.result.requests += 1
                            self.result.statuses[status] = self.result.statuses.get(status, 0) + 1
                    except requests.RequestException as error:
                        with self._lock:
                            self.result.requests += 1
                            self.result.errors.append(repr(error))
        self._threads = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)
        return self.result


@pytest.fixture
def load(base_url: str):
    loads: list[Load] = []

    def make() -> Load:
        loads.append(Load(base_url))
        return loads[-1]
    yield make
    for item in loads:
        item.stop()


# --------------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's chromium + chromium-driver) through Selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900"):
        options.add_argument(arg)
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    service = Service("/usr/bin/chromedriver") if Path("/usr/bin/chromedriver").exists() else Service()
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


# Swift's rendering of a missing value, which a page must never show.
LEAKED_NIL = re.compile(r"\bnil\b")


def assert_shows_no_nil(browser) -> None:
    """The page in the browser shows no "nil" and no "Optional(" (a missing value rendered as
    text), neither in its visible text nor in its form fields' values."""
    from selenium.webdriver.common.by import By

    text = browser.find_element(By.TAG_NAME, "body").text
    source = browser.page_source
    where = browser.current_url
    assert not LEAKED_NIL.search(text), f"{where} shows 'nil': {text[:500]}"
    assert "Optional(" not in source, f"{where} has 'Optional(' in its HTML"
    assert 'value="nil"' not in source, f"{where} has a field whose value is 'nil'"


@pytest.fixture(name="wait_until")
def wait_until_fixture():
    return wait_until


# --------------------------------------------------------------------------------- run order
def pytest_configure(config):
    config.addinivalue_line("markers", "run_last: runs after every other test (it fills the database)")


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)


# --------------------------------------------------------------------------------- figures
FIGURES: dict[str, dict[str, Any]] = {}


class Figures:
    """Figures a test reports (printed, never asserted): shown at the end of the run under
    "Encore figures" and written to $ENCORE_E2E_FIGURES (JSON), which bench/hostile.sh turns
    into its section of bench/RESULTS.md."""

    def report(self, group: str, **values: Any) -> None:
        FIGURES.setdefault(group, {}).update(values)
        print(f"{group}: " + ", ".join(f"{k} {v}" for k, v in values.items()))


@pytest.fixture(scope="session")
def figures() -> Figures:
    return Figures()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FIGURES:
        return
    terminalreporter.section("Encore figures")
    for group, values in FIGURES.items():
        terminalreporter.write_line(f"{group}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    target = os.environ.get("ENCORE_E2E_FIGURES")
    if target:
        Path(target).write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------- restarts
class Restarts:
    """The main stack's worker restarts that tests caused on purpose (kill -9 of a worker)."""

    def __init__(self) -> None:
        self.declared = 0
        self.reasons: list[str] = []

    def expect(self, count: int, why: str) -> None:
        self.declared += count
        self.reasons.append(f"{count}: {why}")


_RESTARTS = Restarts()


@pytest.fixture(scope="session")
def restarts() -> Restarts:
    return _RESTARTS


@pytest.fixture(scope="session", autouse=True)
def no_undeclared_worker_restarts(stack: Stack, figures: Figures):
    """Fails the run when the main stack's pool restarted workers (or background processes)
    that no test declared it killed. test_pool.py's own pools are not this pool."""
    def read() -> dict | None:
        try:
            response = requests.get(stack.base_url + "/status", timeout=10)
            return response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    before = read()
    yield
    if before is None:
        return  # no stack of bin/test's to watch (pytest run by hand against nothing)
    after = wait_until(read, 30, 0.5, "/status at the end of the run")
    restarted = after["restarts"] - before["restarts"]
    by_cause = {cause: after.get("restartsByCause", {}).get(cause, 0) - n
                for cause, n in before.get("restartsByCause", {}).items()}
    figures.report("worker restarts (main stack, whole e2e run)", restarts=restarted,
                   declared=_RESTARTS.declared, by_cause=by_cause)
    assert restarted == _RESTARTS.declared, (
        f"the pool restarted {restarted} workers during the run, tests declared {_RESTARTS.declared} "
        f"({'; '.join(_RESTARTS.reasons) or 'none'}); by cause: {by_cause}. See {stack.log_file} "
        "for 'process died; replacing it'.")
