"""A small FastCGI client for the end-to-end tests: talks to the pool's unix socket directly.

It builds well-formed requests the way nginx does (BEGIN_REQUEST, PARAMS, STDIN, one
connection per request) and also lets a test send arbitrary bytes (malformed records).

    response = request(socket_path, "GET", "/healthz")
    response.status, response.headers["content-type"], response.json()

Only the standard library is used.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import dataclass, field

VERSION_1 = 1
BEGIN_REQUEST = 1
ABORT_REQUEST = 2
END_REQUEST = 3
PARAMS = 4
STDIN = 5
STDOUT = 6
STDERR = 7
DATA = 8
GET_VALUES = 9
GET_VALUES_RESULT = 10
UNKNOWN_TYPE = 11

RESPONDER = 1
MAX_CONTENT = 65535
HEADER = struct.Struct(">BBHHBx")


class ConnectionClosed(Exception):
    """The pool closed the connection before END_REQUEST (no complete response)."""

    def __init__(self, message: str, stdout: bytes = b""):
        super().__init__(message)
        self.stdout = stdout


def record(rtype: int, content: bytes = b"", request_id: int = 1, version: int = VERSION_1,
           padding: int | None = None) -> bytes:
    """One record; content up to 65535 bytes, padded to a multiple of 8 unless told otherwise."""
    if len(content) > MAX_CONTENT:
        raise ValueError("a record carries at most 65535 bytes")
    if padding is None:
        padding = -len(content) % 8
    return HEADER.pack(version, rtype, request_id, len(content), padding) + content + b"\0" * padding


def header(rtype: int, content_length: int, request_id: int = 1, version: int = VERSION_1,
           padding: int = 0) -> bytes:
    """Just a record header (to declare a length and then send something else)."""
    return HEADER.pack(version, rtype, request_id, content_length, padding)


def begin_request(request_id: int = 1, role: int = RESPONDER, keep_conn: bool = False) -> bytes:
    return record(BEGIN_REQUEST, struct.pack(">HB5x", role, 1 if keep_conn else 0), request_id)


def _length(n: int) -> bytes:
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_pair(name: bytes, value: bytes) -> bytes:
    return _length(len(name)) + _length(len(value)) + name + value


def stream(rtype: int, data: bytes, request_id: int = 1, chunk: int = 32768) -> bytes:
    """A stream (PARAMS or STDIN): the data in records, then the empty record that ends it."""
    out = bytearray()
    for start in range(0, len(data), chunk):
        out += record(rtype, data[start:start + chunk], request_id)
    out += record(rtype, b"", request_id)
    return bytes(out)


def cgi_params(method: str, path: str, query: str = "", headers: dict[str, str] | None = None,
               content_length: int | None = None) -> dict[str, str]:
    """The parameters nginx's configuration sends for a request."""
    uri = path + ("?" + query if query else "")
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "encore-e2e",
        "REQUEST_METHOD": method,
        "REQUEST_URI": uri,
        "QUERY_STRING": query,
        "SCRIPT_NAME": path,
        "DOCUMENT_URI": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_SCHEME": "http",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_NAME": "localhost",
        "HTTP_HOST": "localhost",
        "HTTP_ACCEPT": "application/json",
    }
    if content_length is not None:
        params["CONTENT_LENGTH"] = str(content_length)
        params["CONTENT_TYPE"] = "application/octet-stream"
    for name, value in (headers or {}).items():
        params["HTTP_" + name.upper().replace("-", "_")] = value
    return params


def encode_request(params: dict[str, str], body: bytes = b"", request_id: int = 1) -> bytes:
    encoded = b"".join(encode_pair(k.encode(), v.encode()) for k, v in params.items())
    return begin_request(request_id) + stream(PARAMS, encoded, request_id) + stream(STDIN, body, request_id)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    stderr: bytes = b""
    app_status: int = 0
    protocol_status: int = 0
    records: list[tuple[int, int]] = field(default_factory=list)  # (type, request id) received

    def json(self):
        return json.loads(self.body)

    @property
    def worker(self) -> int | None:
        value = self.headers.get("x-encore-worker")
        return int(value) if value else None


def connect(socket_path: str, timeout: float = 10.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(socket_path)
    return sock


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None if not data else bytes(data)
        data += chunk
    return bytes(data)


def read_records(sock: socket.socket):
    """Yields (type, request id, content) until END_REQUEST or end of file."""
    while True:
        head = _recv_exact(sock, HEADER.size)
        if head is None or len(head) < HEADER.size:
            return
        _version, rtype, request_id, length, padding = HEADER.unpack(head)
        content = _recv_exact(sock, length + padding) if length + padding else b""
        if content is None or len(content) < length + padding:
            return
        yield rtype, request_id, content[:length]
        if rtype == END_REQUEST:
            return


def _send_all(sock: socket.socket, data: bytes, errors: list) -> None:
    try:
        view = memoryview(data)
        while view:
            sent = sock.send(view[:262144])
            view = view[sent:]
    except (BrokenPipeError, ConnectionResetError) as error:
        errors.append(error)  # the pool stopped reading (a refused body): expected
    except OSError as error:  # a timeout, for instance
        errors.append(error)


def exchange(socket_path: str, payload: bytes, timeout: float = 10.0) -> Response:
    """Sends `payload` (written by a separate thread, so a pool that answers before reading
    everything cannot deadlock us) and reads the response records."""
    with connect(socket_path, timeout) as sock:
        errors: list = []
        sender = threading.Thread(target=_send_all, args=(sock, payload, errors), daemon=True)
        sender.start()
        stdout, stderr, received = bytearray(), bytearray(), []
        end = None
        for rtype, request_id, content in read_records(sock):
            received.append((rtype, request_id))
            if rtype == STDOUT:
                stdout += content
            elif rtype == STDERR:
                stderr += content
            elif rtype == END_REQUEST:
                end = struct.unpack(">IB3x", content[:8])
        sender.join(timeout)
    if end is None:
        raise ConnectionClosed(f"connection closed before END_REQUEST ({len(stdout)} bytes of stdout)", bytes(stdout))
    status, headers, body = parse_cgi(bytes(stdout))
    return Response(status, headers, body, bytes(stderr), end[0], end[1], received)


def parse_cgi(stdout: bytes) -> tuple[int, dict[str, str], bytes]:
    head, sep, body = stdout.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = stdout.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


def request(socket_path: str, method: str, path: str, query: str = "", body: bytes = b"",
            headers: dict[str, str] | None = None, content_length: int | None | str = "auto",
            timeout: float = 10.0) -> Response:
    """One request. content_length: "auto" declares len(body) when there is a body, None
    declares none, an int declares that number whatever the body is."""
    if content_length == "auto":
        content_length = len(body) if body or method in ("POST", "PUT", "PATCH") else None
    params = cgi_params(method, path, query, headers, content_length)  # type: ignore[arg-type]
    return exchange(socket_path, encode_request(params, body), timeout)


def send_raw(socket_path: str, data: bytes, wait: float = 1.0, close_write: bool = True) -> bytes:
    """Sends arbitrary bytes, then reads whatever comes back until the pool closes the
    connection or `wait` seconds pass; returns what was read."""
    with connect(socket_path, timeout=wait) as sock:
        try:
            sock.sendall(data)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        received = bytearray()
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return bytes(received)
