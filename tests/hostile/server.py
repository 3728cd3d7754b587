"""A small, deliberately hostile Move-compatible server for tests: a real HTTP server on a loopback port.

It speaks just enough of the Move UGC API for the add-on's pipeline (createFile + PUT, createSingleCamTake,
createSingleCamJob, getJob, listJobs, listTakes) and serves outputs from ``/out/<name>``, and every answer
can be made hostile through ``Behaviour``: crafted ids, keys, formats and URLs, redirects, late creates,
trickled / huge / deeply nested answers, Retry-After values, key echoes, states going backwards, endless
RUNNING, outputs whose body lies about its size. It counts what was created (``created``), so a test can
prove there was no second job. Test-only code: nothing here ships.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

API_KEY = "hostile-test-key-6f1d2c9a8b7e4f30"
SIGNATURE = "5ecret5ignature0f0ur5erver9d8c7b6a"


@dataclass
class Behaviour:
    """What the server does wrong. Defaults: a well-behaved server producing one BVH output."""

    job_id: str | None = None                       # the id given to created jobs
    create_delay: dict[str, float] = field(default_factory=dict)   # operation -> seconds before acting
    states: list[str] = field(default_factory=lambda: ["RUNNING", "FINISHED"])  # getJob answers, last repeats
    job_error: str = ""                             # metadata.error of a FAILED job
    outputs: list[dict[str, Any]] | None = None     # [{"key", "format", "name"} or {"url": ...}] (None: one BVH)
    output_body: bytes | None = None                # served for /out/* (None: the test's BVH)
    output_length: int | None = None                # Content-Length to announce (a lie when != len(body))
    output_headers: dict[str, str] = field(default_factory=dict)
    redirect_download: str | None = None            # /out/* answers 302 to this URL ({base} is replaced)
    trickle: dict[str, float] = field(default_factory=dict)  # "download" | "upload" | operation -> s per byte
    graphql_raw: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)  # op -> answer
    raw_count: dict[str, int] = field(default_factory=dict)  # how many times graphql_raw applies (default all)
    echo_key_in_errors: bool = False                # a failed job's error repeats the Authorization header


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostileServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ------------------------------------------------------------------------------------------ helpers

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, *,
              trickle: float = 0.0, length: int | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        try:
            if trickle > 0:
                for i in range(len(body)):
                    if self.server.stopping.is_set():
                        return
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)
            else:
                self.wfile.write(body)
        except OSError:
            pass
        if length is not None and length != len(body):
            self.close_connection = True

    def _body(self, trickle: float = 0.0) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        b = trickle
        if b > 0:  # read the upload one byte at a time
            out = bytearray()
            for _ in range(n):
                if self.server.stopping.is_set():
                    break
                got = self.rfile.read(1)
                if not got:
                    break
                out += got
                time.sleep(b)
            return bytes(out)
        return self.rfile.read(n) if n else b""

    @property
    def behaviour(self) -> Behaviour:
        return self.server.behaviour

    # ------------------------------------------------------------------------------------------ routes

    def do_PUT(self) -> None:
        with self.server.lock:
            self.server.started["upload"] += 1
        data = self._body(self.behaviour.trickle.get("upload", 0.0))
        name = urlsplit(self.path).path.rsplit("/", 1)[-1]
        with self.server.lock:
            self.server.uploads[name] = len(data)
        self._send(200, b"")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/ugc/file/download":  # the share-code exchange: a redirect or a trickled answer
            b = self.behaviour
            if b.redirect_download and "redirected" not in self.path:
                self._send(302, b"", {"Location": b.redirect_download.replace("{base}", self.server.base)})
                return
            body = json.dumps({"url": self.server.base + "/out/shared.bvh"}).encode()
            self._send(200, body, trickle=b.trickle.get("share", 0.0))
            return
        if not path.startswith("/out/"):
            self._send(404, b"no such thing")
            return
        with self.server.lock:
            self.server.downloads += 1
            self.server.started["download"] += 1
        b = self.behaviour
        if b.redirect_download and "redirected" not in self.path:
            self._send(302, b"", {"Location": b.redirect_download.replace("{base}", self.server.base)})
            return
        body = self.server.output_body()
        self._send(200, body, {"Content-Type": "application/octet-stream", **b.output_headers},
                   trickle=b.trickle.get("download", 0.0), length=b.output_length)

    def do_POST(self) -> None:
        raw = self._body()
        if urlsplit(self.path).path != "/graphql":
            self._send(404, b"")
            return
        if self.headers.get("Authorization") != API_KEY:
            self._send(401, b'{"errors":[{"errorType":"UnauthorizedException","message":"no"}]}')
            return
        payload = json.loads(raw or b"{}")
        op = payload.get("operationName") or ""
        with self.server.lock:
            self.server.calls[op] += 1
            self.server.started[{"createSingleCamTake": "take", "getJob": "processing"}.get(op, op)] += 1
            n_raw = self.server.raw_used[op]
            use_raw = op in self.behaviour.graphql_raw and n_raw < self.behaviour.raw_count.get(op, 10 ** 9)
            if use_raw:
                self.server.raw_used[op] += 1
        trickle = self.behaviour.trickle.get(op, 0.0)
        if use_raw:
            status, headers, body = self.behaviour.graphql_raw[op]
            self._send(status, body, headers, trickle=trickle)
            return
        delay = self.behaviour.create_delay.get(op, 0.0)
        if delay:
            time.sleep(delay)
        data = self.server.answer(op, payload.get("variables") or {}, self.headers.get("Authorization", ""))
        self._send(200, json.dumps({"data": {op: data}}).encode(), trickle=trickle)


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: Behaviour | None = None, output_body: bytes = b"") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour or Behaviour()
        self.default_body = output_body
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.created: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.started: Counter[str] = Counter()  # requests begun per route: "upload", "take", "processing", ...
        self.raw_used: Counter[str] = Counter()
        self.uploads: dict[str, int] = {}
        self.downloads = 0
        self.takes: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []
        self.polls = 0
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self.base + "/graphql"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def output_body(self) -> bytes:
        return self.default_body if self.behaviour.output_body is None else self.behaviour.output_body

    # -------------------------------------------------------------------------------------------- API

    def _signed(self, path: str) -> str:
        return f"{self.base}{path}?X-Amz-Expires=600&X-Amz-Signature={SIGNATURE}"

    def _outputs(self) -> list[dict[str, Any]]:
        spec = self.behaviour.outputs
        if spec is None:
            spec = [{"key": "MOTION_DATA", "format": "bvh", "name": "motion.bvh"}]
        out = []
        for o in spec:
            url = o.get("url") or self._signed(f"/out/{o.get('name', 'x')}")
            out.append({"key": o.get("key"), "format": o.get("format"),
                        "file": {"id": uuid.uuid4().hex, "presignedUrl": url.replace("{base}", self.base)}})
        return out

    def _job(self, job: dict[str, Any], auth: str) -> dict[str, Any]:
        states = self.behaviour.states
        with self.lock:
            i = job["polls"]
            job["polls"] += 1
        state = states[min(i, len(states) - 1)]
        doc: dict[str, Any] = {"id": job["id"], "metadata": job["metadata"], "name": "job",
                               "progress": {"state": state, "percentageComplete": 100 if state == "FINISHED" else 40}}
        if state == "FAILED":
            error = self.behaviour.job_error or "failed"
            if self.behaviour.echo_key_in_errors:
                error += f" (key {auth})"
            doc["metadata"] = json.dumps({**json.loads(job["metadata"] or "{}"), "error": error})
        if state == "FINISHED":
            doc["outputs"] = self._outputs()
        return doc

    def answer(self, op: str, v: dict[str, Any], auth: str) -> Any:
        if op == "createFile":
            fid = uuid.uuid4().hex
            with self.lock:
                self.created["file"] += 1
            return {"id": fid, "presignedUrl": self._signed(f"/put/{fid}"), "metadata": v.get("metadata")}
        if op == "createSingleCamTake":
            take = {"id": uuid.uuid4().hex, "metadata": v.get("metadata")}
            with self.lock:
                self.created["take"] += 1
                self.takes.append(take)
            return take
        if op == "createSingleCamJob":
            job = {"id": self.behaviour.job_id or uuid.uuid4().hex, "metadata": v.get("metadata"),
                   "take": v.get("takeId"), "polls": 0}
            with self.lock:
                self.created["job"] += 1
                self.jobs.append(job)
            return {"id": job["id"], "metadata": job["metadata"]}
        if op == "getJob":
            with self.lock:
                self.polls += 1
                job = next((j for j in self.jobs if j["id"] == v.get("jobId")), None)
            if job is None:
                return None
            return self._job(job, auth)
        if op == "listJobs":
            with self.lock:
                items = [{"id": j["id"], "metadata": j["metadata"]} for j in self.jobs
                         if not v.get("takeId") or j["take"] == v.get("takeId")]
            return {"items": items, "after": None}
        if op == "listTakes":
            with self.lock:
                items = [dict(t) for t in self.takes]
            return {"items": items, "after": None}
        return None
