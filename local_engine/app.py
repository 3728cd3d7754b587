"""The HTTP side of the server: a Starlette ASGI app serving Move's routes. No bpy, no solving here.

Routes:
- ``POST /ugc/graphql``             GraphQL (ariadne), API key in ``Authorization`` with no scheme
- ``GET  /ugc/file/download?code=`` share-code exchange, answers ``{"url": ...}``
- ``PUT  /ugc/storage/{file_id}``   presigned upload, streamed to disk in chunks (constant memory)
- ``GET/HEAD /ugc/storage/{file_id}`` presigned download with Range (206, Content-Range, Accept-Ranges)
- ``GET /_health``                   readiness probe (no key): version, solver, the outputs it can make (and why not
                                    the others), where local_engine and its packages were imported from
- ``GET/POST/DELETE /_faults``      fault injection for tests (API key required), see local_engine.faults
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ariadne import graphql_sync
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .config import ServerConfig
from .faults import Fault, FaultInjector
from .graphql_limits import MAX_BODY_BYTES, RequestRefused, load_json, operation_name, prepare
from .schema import build_schema, format_error
from .signing import presign, verify
from .solvers import make_solver
from .store import Store, new_id, now_iso
from .worker import JobWorker

log = logging.getLogger("local_engine")
GRAPHQL_LOGGER = "local_engine.graphql"


class _SkipClientErrors(logging.Filter):
    """Errors meant for the client (MoveError, bad queries) are not server faults: keep them out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .schema import MoveError

        exc = record.exc_info[1] if record.exc_info else None
        original = getattr(exc, "original_error", None)
        return original is not None and not isinstance(original, MoveError)


logging.getLogger(GRAPHQL_LOGGER).addFilter(_SkipClientErrors())
CHUNK = 1024 * 1024
_FILE_ID = re.compile(r"^file-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class ServerState:
    """What the routes and resolvers share: config, store, signing key, faults, the job worker."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = Store(config.data_dir)
        self.signing_key = self.store.signing_key()
        self.faults = FaultInjector(config.faults)
        self.solver = make_solver(config.solver, **config.solver_options)
        self.worker = JobWorker(self.store, self.solver, self.faults, export_python=config.export_python,
                                job_timeout=config.job_timeout, blender=config.blender)
        from .volumes import VolumeWorker

        self.volumes = VolumeWorker(self.store, self.solver)
        self.schema = build_schema()
        client_id = self.store.meta_or_create("client_id", lambda: new_id("client"))
        self._client = {"id": client_id, "name": "local-engine",
                        "created": self.store.meta_or_create("client_created", now_iso)}

    def client(self, base_url: str | None = None) -> dict[str, Any]:
        """The one account. ``portal`` is the engine's own base URL (Move's SDK requires a URL there)."""
        metadata = json.loads(self.store.meta("client_metadata") or "{}")
        base = base_url or self.config.public_url
        return {**self._client, "metadata": metadata, "portal": f"{base.rstrip('/')}/" if base else None}

    def set_client_metadata(self, metadata: Any) -> None:
        self.store.set_meta("client_metadata", json.dumps(metadata))

    def supported_outputs(self) -> set[str]:
        from .outputs import SUPPORTED_OUTPUTS
        from .solvers import EXTRA_OUTPUTS

        extra = set(getattr(self.solver, "extra_output_types", ())) | set(EXTRA_OUTPUTS.get(self.config.solver, ()))
        return (set(SUPPORTED_OUTPUTS) - set(self.unavailable_outputs())) | extra

    def unavailable_outputs(self) -> dict[str, str]:
        """Output type -> why this engine cannot make it (the Blender formats without a Blender)."""
        from .outputs import BLENDER_OUTPUTS, exporter_problem

        problem = exporter_problem(self.config.blender, self.config.export_python)
        return {key: problem for key in BLENDER_OUTPUTS} if problem else {}

    def enqueue_job(self, job_id: str) -> None:
        self.worker.enqueue(job_id)

    def enqueue_volume(self, volume_id: str) -> None:
        self.volumes.enqueue(volume_id)


# -- response helpers -----------------------------------------------------------------------------------------
def _appsync_unauthorized(message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"errorType": "UnauthorizedException", "message": message}]}, status_code=401)


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def _fault_response(fault: Fault) -> Response:
    if fault.kind == "rate_limit":
        return JSONResponse({"message": "Too Many Requests"}, status_code=429,
                            headers={"Retry-After": f"{fault.retry_after:g}"})
    return JSONResponse({"message": fault.message}, status_code=fault.status)


class AbortResponse(Response):
    """Sends headers that promise ``length`` bytes, then ``body`` (fewer), then drops the connection."""

    def __init__(self, body: bytes | Iterator[bytes], length: int, status_code: int = 200,
                 headers: dict[str, str] | None = None) -> None:
        self._parts = [body] if isinstance(body, bytes) else body
        self.status_code = status_code
        self._headers = {**(headers or {}), "content-length": str(length)}

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[override]
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": [(k.encode(), v.encode()) for k, v in self._headers.items()]})
        for part in self._parts:
            if part:
                await send({"type": "http.response.body", "body": part, "more_body": True})
        # Returning without the final body message makes the server close the connection mid-body.


def _check_key(state: ServerState, request: Request) -> Response | None:
    key = request.headers.get("authorization")
    if not key:
        return _appsync_unauthorized("Valid authorization header not provided.")
    if not hmac.compare_digest(key.encode(), state.config.api_key.encode()):
        return _appsync_unauthorized("You are not authorized to make this call.")
    return None


def _base_url(state: ServerState, request: Request) -> str:
    return (state.config.public_url or str(request.base_url)).rstrip("/")


async def _common_faults(state: ServerState, route: str, operation: str | None = None) -> Response | None:
    slow = state.faults.take(route, ("slow",), operation)
    if slow is not None:
        await asyncio.sleep(slow.delay)
    fault = state.faults.take(route, ("status", "rate_limit"), operation)
    return _fault_response(fault) if fault is not None else None


# -- GraphQL ---------------------------------------------------------------------------------------------------
async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes ``limit`` bytes (the rest is never buffered)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _refused(exc: RequestRefused) -> JSONResponse:
    return JSONResponse({"errors": [{"errorType": exc.error_type, "message": str(exc)}]}, status_code=exc.status)


async def graphql_route(request: Request) -> Response:
    """Decoding, parsing, the cost limits (local_engine.graphql_limits), validation and execution all run on
    worker threads: a huge or hostile document never holds the event loop that serves the other routes."""
    state: ServerState = request.app.state.server
    state.faults.count_request("graphql")
    denied = _check_key(state, request)
    if denied is not None:
        return denied
    raw = await _read_capped(request, MAX_BODY_BYTES)
    if raw is None:
        return _refused(RequestRefused(f"Request body over {MAX_BODY_BYTES} bytes", 413, "PayloadTooLarge"))
    try:
        body, document = await run_in_threadpool(prepare, state.schema, raw)
    except RequestRefused as exc:
        return _refused(exc)
    operation = operation_name(body, document)
    faulted = await _common_faults(state, "graphql", operation)
    if faulted is not None:
        return faulted
    err = state.faults.take("graphql", ("graphql_error",), operation)
    if err is not None:
        return JSONResponse({"data": None, "errors": [{"path": [operation], "data": None, "errorType": err.error_type,
                                                        "errorInfo": None, "locations": [], "message": err.message}]})
    if isinstance(document, list):
        return JSONResponse({"data": None, "errors": [format_error(e) for e in document]})
    context = {"state": state, "base_url": _base_url(state, request),
               "expire_urls": state.faults.take("graphql", ("expire_url",), operation) is not None}
    _, result = await run_in_threadpool(
        graphql_sync, state.schema, body, query_document=document, context_value=context,
        error_formatter=format_error, logger=GRAPHQL_LOGGER,
    )
    bad = state.faults.take("graphql", ("malformed",), operation)
    if bad is not None:
        if bad.variant == "bad_json":
            return Response(b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>",
                            media_type="text/html")
        result = _malformed(result, operation, bad.variant)
    payload = json.dumps(result).encode()
    cut = state.faults.take("graphql", ("truncate", "reset"), operation)
    if cut is not None:
        n = cut.after_bytes if cut.after_bytes is not None else len(payload) // 2
        if cut.kind == "truncate":
            return Response(payload[:n], media_type="application/json")
        return AbortResponse(payload[:n], len(payload), headers={"content-type": "application/json"})
    return Response(payload, media_type="application/json")


_ENUM_KEYS = ("state", "takeType", "areaType")


def _malformed(result: dict[str, Any], operation: str | None, variant: str) -> dict[str, Any]:
    """A well-formed GraphQL answer with wrong types or enum values the schema does not know."""
    data = result.get("data")
    if not isinstance(data, dict):
        return result
    if variant == "wrong_type":
        root = data.get(operation or "")
        if isinstance(root, dict):
            data[operation or ""] = {**root, "id": 12345}
        else:
            data[operation or ""] = 12345
        return result

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ("SOMETHING_NEW" if k in _ENUM_KEYS and isinstance(v, str) else swap(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node

    result["data"] = swap(data)
    return result


# -- share codes -----------------------------------------------------------------------------------------------
async def share_code_route(request: Request) -> Response:
    state: ServerState = request.app.state.server
    state.faults.count_request("sharecode")
    faulted = await _common_faults(state, "sharecode")
    if faulted is not None:
        return faulted
    code = request.query_params.get("code", "")
    if not re.fullmatch(r"\d{8}", code):
        return JSONResponse({"message": "code must be 8 digits"}, status_code=400)
    found = state.store.take_share_code(code)
    if found is None or found[1] < time.time():
        return JSONResponse({"message": "Share code not found or expired"}, status_code=404)
    url = presign(state.signing_key, _base_url(state, request), "GET", found[0], state.config.url_ttl)
    return JSONResponse({"url": url})


# -- storage ---------------------------------------------------------------------------------------------------
async def _storage_checks(state: ServerState, request: Request, route: str, method: str):
    file_id = request.path_params["file_id"]
    if not _FILE_ID.match(file_id):
        return None, _s3_error(400, "InvalidObjectName", "Invalid object name")
    faulted = await _common_faults(state, route)
    if faulted is not None:
        return None, faulted
    reason = verify(state.signing_key, method, file_id, dict(request.query_params))
    if reason is None and state.faults.take(route, ("expire_url",)) is not None:
        reason = "Request has expired"
    if reason is not None:
        return None, _s3_error(403, "AccessDenied", reason)
    doc = state.store.get("file", file_id)
    if doc is None:
        return None, _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    return doc, None


async def upload_route(request: Request) -> Response:
    state: ServerState = request.app.state.server
    state.faults.count_request("upload")
    doc, error = await _storage_checks(state, request, "upload", "PUT")
    if error is not None:
        return error
    limit = state.config.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _s3_error(413, "EntityTooLarge",
                         f"Upload of {declared} bytes exceeds this server's limit of {limit} bytes (--max-upload-bytes)")
    reset = state.faults.take("upload", ("reset", "truncate"))
    ext = doc["type"].lstrip(".")
    final = state.store.files_dir / f"{doc['id']}.{ext}"
    part = state.store.files_dir / f".{doc['id']}.{uuid.uuid4().hex}.part"
    md5 = hashlib.md5()
    written = 0
    try:
        with open(part, "wb") as fh:
            async for chunk in _idle_bounded(request.stream(), state.config.upload_idle_timeout):
                if not chunk:
                    continue
                written += len(chunk)
                if written > limit:
                    raise _TooLarge()
                md5.update(chunk)
                await run_in_threadpool(fh.write, chunk)
                if reset is not None and written >= (reset.after_bytes or 0):
                    raise _Reset()
        os.replace(part, final)
    except _TooLarge:
        part.unlink(missing_ok=True)
        return _s3_error(413, "EntityTooLarge",
                         f"Upload exceeds this server's limit of {limit} bytes (--max-upload-bytes)")
    except _Idle:
        part.unlink(missing_ok=True)
        log.info("upload of %s dropped: nothing received for %g s", doc["id"], state.config.upload_idle_timeout)
        return _s3_error(408, "RequestTimeout", "Your socket connection to the server was not read from or written "
                         f"to within the timeout period ({state.config.upload_idle_timeout:g} s).")
    except _Reset:
        part.unlink(missing_ok=True)
        log.info("fault: resetting upload of %s after %d bytes", doc["id"], written)
        return AbortResponse(b"", 1)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    etag = f'"{md5.hexdigest()}"'
    state.store.update("file", doc["id"], uploaded=True, size=written, path=final.name, etag=etag)
    return Response(b"", status_code=200, headers={"ETag": etag})


class _TooLarge(Exception):
    pass


class _Idle(Exception):
    pass


async def _idle_bounded(stream: AsyncIterator[bytes], idle: float) -> AsyncIterator[bytes]:
    """``stream``'s chunks; raises _Idle when none arrives for ``idle`` seconds (a stalled or trickle-less client
    would otherwise hold the upload, its part file and a connection forever)."""
    it = stream.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(it.__anext__(), idle)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise _Idle() from None
        yield chunk


class _Reset(Exception):
    pass


def _read_range(path: Path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            data = fh.read(min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data


async def download_route(request: Request) -> Response:
    state: ServerState = request.app.state.server
    state.faults.count_request("download")
    doc, error = await _storage_checks(state, request, "download", "GET")
    if error is not None:
        return error
    if not doc.get("uploaded"):
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    path = state.store.files_dir / doc["path"]
    size = path.stat().st_size
    headers = {"Accept-Ranges": "bytes", "ETag": doc.get("etag") or f'"{doc["id"]}"',
               "Content-Type": "application/octet-stream",
               "Content-Disposition": f'attachment; filename="{path.name}"'}
    start, end, status = 0, size - 1, 200
    header = request.headers.get("range")
    if header:
        m = _RANGE.match(header.strip())
        if not m or (not m.group(1) and not m.group(2)):
            return _s3_error(416, "InvalidRange", "The requested range is not satisfiable")
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:
            start, end = max(size - int(m.group(2)), 0), size - 1
        if start >= size or start > end:
            r = _s3_error(416, "InvalidRange", "The requested range is not satisfiable")
            r.headers["Content-Range"] = f"bytes */{size}"
            return r
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    length = end - start + 1
    if request.method == "HEAD":
        return Response(b"", status_code=status, headers={**headers, "Content-Length": str(length)})
    cut = state.faults.take("download", ("reset", "truncate"))
    if cut is not None:
        n = min(cut.after_bytes if cut.after_bytes is not None else length // 2, length)
        log.info("fault: cutting download of %s after %d of %d bytes", doc["id"], n, length)
        return AbortResponse(_read_range(path, start, n), length, status, {k.lower(): v for k, v in headers.items()})
    headers["Content-Length"] = str(length)
    return StreamingResponse(_read_range(path, start, length), status_code=status, headers=headers)


# -- admin -----------------------------------------------------------------------------------------------------
def module_origins(names: tuple[str, ...] = ("local_engine", "mediapipe", "av", "cv2", "numpy", "uvicorn",
                                             "starlette", "ariadne")) -> dict[str, str | None]:
    """Where each module was imported from (or would be: ``find_spec`` does not import), None if absent."""
    import importlib.util
    import sys

    out: dict[str, str | None] = {}
    for name in names:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module is not None else None
        if origin is None:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            origin = spec.origin if spec is not None else None
        out[name] = origin
    return out


async def health_route(request: Request) -> Response:
    import sys

    from . import __version__
    from .pose import landmarker

    state: ServerState = request.app.state.server
    return JSONResponse({
        "ok": True, "version": __version__, "solver": state.config.solver, "pid": os.getpid(),
        "python": ".".join(map(str, sys.version_info[:3])), "executable": sys.executable,
        "outputs": sorted(state.supported_outputs()), "unavailable_outputs": state.unavailable_outputs(),
        "modules": module_origins(),
        "solver_problem": landmarker.problem_without_import() if state.config.solver == "mediapipe" else None,
        "pose_models": str(landmarker.model_dir() or "") or None,
    })


async def faults_route(request: Request) -> Response:
    state: ServerState = request.app.state.server
    denied = _check_key(state, request)
    if denied is not None:
        return denied
    if request.method == "DELETE":
        state.faults.clear()
    elif request.method == "POST":
        try:
            raw = await _read_capped(request, MAX_BODY_BYTES)
            if raw is None:
                raise ValueError(f"body over {MAX_BODY_BYTES} bytes")
            body = load_json(raw or b"{}")
            rules = body.get("faults", []) if isinstance(body, dict) else body
            state.faults.set(rules, replace=not (isinstance(body, dict) and body.get("append")))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"message": f"bad fault rules: {exc}"}, status_code=400)
    return JSONResponse(state.faults.report())


def create_app(config: ServerConfig) -> Starlette:
    state = ServerState(config)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        state.worker.start()
        state.volumes.start()
        yield
        state.volumes.stop()
        state.worker.stop()
        state.store.close()

    app = Starlette(
        routes=[
            Route("/ugc/graphql", graphql_route, methods=["POST"]),
            Route("/ugc/file/download", share_code_route, methods=["GET"]),
            Route("/ugc/storage/{file_id}", upload_route, methods=["PUT"]),
            Route("/ugc/storage/{file_id}", download_route, methods=["GET", "HEAD"]),
            Route("/_health", health_route, methods=["GET"]),
            Route("/_faults", faults_route, methods=["GET", "POST", "DELETE"]),
        ],
        lifespan=lifespan,
    )
    app.state.server = state
    return app
