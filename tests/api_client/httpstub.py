"""A real HTTP server for the API client's tests, run in a thread on a free loopback port.

It serves three things, each scriptable per test:
- ``/files/<name>``: GET with Range support (206), PUT (stores the body); faults: drop the connection after
  N bytes, ignore Range, answer 403 "Request has expired" to old signatures, 5xx/429 a number of times.
- ``/graphql``: POST; answers come from ``graphql_handler(payload, headers) -> (status, headers, body)``.
- ``/ugc/file/download``: the share-code exchange.
Every request is recorded (method, path, headers, body length).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body_length: int


@dataclass
class StubState:
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    # fault injection for /files
    drop_after: list[int] = field(default_factory=list)  # per GET, bytes to send before dropping
    ignore_range: bool = False
    valid_signature: str | None = None  # when set, GETs need ?sig=<this> or get 403 expired
    fail_statuses: list[int] = field(default_factory=list)  # answered (then removed) before real work
    retry_after: str | None = None
    short_body: list[int] = field(default_factory=list)  # announce full length but send this many bytes
    discard_uploads: bool = False  # read PUT bodies in chunks and keep only their length
    graphql_handler: Callable[[dict[str, Any], dict[str, str]], tuple[int, dict[str, str], bytes]] | None = None
    share_codes: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    @property
    def state(self) -> StubState:
        return self.server.state

    def _record(self, body_length: int) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        with self.state.lock:
            self.state.requests.append(
                Recorded(self.command, parts.path, query, {k: v for k, v in self.headers.items()}, body_length)
            )
        return parts.path, query

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _pop_failure(self) -> bool:
        with self.state.lock:
            status = self.state.fail_statuses.pop(0) if self.state.fail_statuses else None
        if status is None:
            return False
        headers = {"Retry-After": self.state.retry_after} if status == 429 and self.state.retry_after else {}
        self._send(status, b"try again", headers)
        return True

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_PUT(self) -> None:
        if self.state.discard_uploads:
            left = int(self.headers.get("Content-Length") or 0)
            total = 0
            while left:
                got = len(self.rfile.read(min(left, 1 << 20)))
                if not got:
                    break
                total += got
                left -= got
            self._record(total)
            self._send(200, b"")
            return
        body = self._read_body()
        path, _ = self._record(len(body))
        if self._pop_failure():
            return
        with self.state.lock:
            self.state.uploads[path.rsplit("/", 1)[-1]] = body
        self._send(200, b"", {"ETag": '"stub"'})

    def do_POST(self) -> None:
        body = self._read_body()
        path, _ = self._record(len(body))
        if path == "/graphql":
            if self._pop_failure():
                return
            handler = self.state.graphql_handler
            assert handler is not None, "the test set no graphql_handler"
            payload = json.loads(body or b"{}")
            status, headers, answer = handler(payload, dict(self.headers.items()))
            if status == 0:  # simulate a lost answer: close without responding
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(status, answer, {"Content-Type": "application/json", **headers})
            return
        self._send(404, b"no such endpoint")

    def do_GET(self) -> None:
        path, query = self._record(0)
        if path == "/ugc/file/download":
            code = (query.get("code") or [""])[0]
            url = self.state.share_codes.get(code)
            if url is None:
                self._send(404, b'{"message": "code not found"}', {"Content-Type": "application/json"})
            else:
                self._send(200, json.dumps({"url": url}).encode(), {"Content-Type": "application/json"})
            return
        if not path.startswith("/files/"):
            self._send(404, b"no such endpoint")
            return
        if self._pop_failure():
            return
        sig = self.state.valid_signature
        if sig is not None and (query.get("sig") or [""])[0] != sig:
            self._send(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                       {"Content-Type": "application/xml"})
            return
        name = path[len("/files/"):]
        data = self.state.files.get(name)
        if data is None:
            self._send(404, b"<Error><Code>NoSuchKey</Code></Error>")
            return
        total = len(data)
        start = 0
        status = 200
        headers = {"ETag": '"v1"', "Accept-Ranges": "bytes"}
        range_header = self.headers.get("Range")
        if range_header and not self.state.ignore_range:
            start = int(range_header.split("=", 1)[1].split("-", 1)[0])
            if start >= total:
                self._send(416, b"", {"Content-Range": f"bytes */{total}"})
                return
            status = 206
            headers["Content-Range"] = f"bytes {start}-{total - 1}/{total}"
        payload = data[start:]
        with self.state.lock:
            drop = self.state.drop_after.pop(0) if self.state.drop_after else None
            short = self.state.short_body.pop(0) if self.state.short_body else None
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if drop is not None or short is not None:
            cut = drop if drop is not None else short
            assert cut is not None
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: StubState

    def handle_error(self, request: Any, client_address: Any) -> None:  # clients hanging up on purpose
        pass


class StubServer:
    """Context manager: ``with StubServer() as stub: stub.url("/files/x")``."""

    def __init__(self) -> None:
        self.state = StubState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        return [r for r in self.state.requests if r.path == path and (method is None or r.method == method)]

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
