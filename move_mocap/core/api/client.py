"""``MoveClient``: the Move AI UGC GraphQL API (files, takes, jobs, volumes, rigs, webhooks, share codes).

One method per upstream operation (snake_case names; documents in ``operations.py``), typed pydantic
answers (``models.py``), typed errors (``errors.py``). Queries and idempotent mutations are retried with
capped, jittered backoff; create mutations are never re-sent once they may have reached the server (a lost
answer raises ``OutcomeUnknownError``). The API key goes in the ``Authorization`` header without a scheme
and never appears in a log line, repr or exception. No bpy here: callers run this on a worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions

from . import operations as ops
from .errors import (
    AuthError,
    MalformedResponseError,
    MoveAPIError,
    MoveValidationError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    TransferCancelledError,
)
from .guard import Deadline, Guard, run_guarded
from .http import network_error, status_error
from .models import (
    AreaType,
    CameraSettings,
    ClipWindowInput,
    File,
    HumanVolume,
    Job,
    MocapModel,
    OptionsInput,
    OutputType,
    Page,
    Rig,
    ShareCode,
    ShareCodeDownload,
    SortDirection,
    SourceInput,
    SyncMethodInput,
    Take,
    WebhookEndpoint,
    dump_awsjson,
    parse_model,
)
from .models import Client as ClientAccount
from .redact import install_log_redaction, mask_key, redact_url
from .retry import RetryPolicy
from .transfers import CancelCheck, ProgressCallback, download_file, upload_file

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.move.ai/ugc/graphql"
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
DEFAULT_REQUEST_DEADLINE = 120.0
"""Seconds one API call may take in all (retries and their waits included), however the server trickles."""
MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The largest GraphQL answer read (Move's biggest pages are a few hundred kB)."""
USER_AGENT = "move_mocap (Blender extension)"
_SHARE_CODE_RE = re.compile(r"^\d{8}$")
_SOURCE_FORMATS = {".mp4": "MP4", ".mov": "MOV", ".avi": "AVI", ".move": "MOVE"}

Jsonish = Mapping[str, Any] | str | None
_NET_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)


def _input(cls: type[Any], value: Any) -> Any:
    """Accept an input model, a mapping of its (snake or camel case) fields, or None."""
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        try:
            return cls.model_validate(dict(value))
        except ValueError as exc:
            raise MoveValidationError(f"Invalid {cls.__name__}: {exc}", error_type="ClientValidation") from None
    raise MoveValidationError(
        f"Expected {cls.__name__} or a mapping, got {type(value).__name__}.", error_type="ClientValidation"
    )


def _clip_window(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, tuple | list) and len(value) == 2:
        value = {"start_time": value[0], "end_time": value[1]}
    return _input(ClipWindowInput, value).to_variables()  # type: ignore[no-any-return]


def _sources(sources: Any) -> list[dict[str, Any]]:
    if isinstance(sources, SourceInput | Mapping):
        sources = [sources]
    items = [_input(SourceInput, s).to_variables() for s in sources]
    if not items:
        raise MoveValidationError("A take needs at least one source.", error_type="ClientValidation")
    return items


def _outputs(outputs: Iterable[OutputType | str] | None) -> list[str] | None:
    if outputs is None:
        return None
    result = []
    for item in outputs:
        try:
            result.append(OutputType(item.upper() if isinstance(item, str) else item).value)
        except ValueError:
            raise MoveValidationError(
                f"Unknown output type {item!r}; choose from {', '.join(o.value for o in OutputType)}.",
                error_type="ClientValidation",
            ) from None
    return result


def _options(options: Any, allowed_models: tuple[MocapModel, ...], kind: str) -> dict[str, Any] | None:
    opts = _input(OptionsInput, options)
    if opts is None:
        return None
    if opts.mocap_model is not None and opts.mocap_model not in allowed_models:
        raise MoveValidationError(
            f"mocapModel {opts.mocap_model.value} is not a {kind} model; use one of "
            f"{', '.join(m.value for m in allowed_models)}.",
            error_type="ClientValidation",
        )
    return opts.to_variables()  # type: ignore[no-any-return]


def _metadata(value: Any) -> str | None:
    try:
        return dump_awsjson(value)
    except (TypeError, ValueError) as exc:
        raise MoveValidationError(
            f"metadata must be JSON-serialisable (AWSJSON): {exc}", error_type="ClientValidation"
        ) from None


def metadata_matches(metadata: Any, wanted: Mapping[str, Any]) -> bool:
    """True when every key of ``wanted`` is in ``metadata`` with an equal value."""
    return isinstance(metadata, Mapping) and all(metadata.get(k) == v for k, v in wanted.items())


class MoveClient:
    """Client of the Move UGC GraphQL API (or the project's local engine speaking the same API).

    ``api_key``: sent as the ``Authorization`` header (no scheme). ``endpoint``: the GraphQL URL.
    ``timeout``: seconds, or (connect, read). ``retry``: backoff policy for calls safe to repeat.
    ``share_base_url``: where ``/ugc/file/download?code=`` lives (default: the endpoint's scheme and host).
    ``request_deadline``: seconds one API call may take in all (retries included). ``should_cancel``: polled
    during every request and transfer; when it turns True the call raises ``TransferCancelledError`` within
    ~0.05 s (see ``guard.py``). ``transfer_deadline`` / ``transfer_min_rate`` / ``max_download_bytes``: see
    ``transfers.py``. GraphQL requests follow no redirects.

    Blocking and thread-agnostic, but one instance holds one ``requests.Session``: use one client per worker
    thread. Callbacks (``progress``, ``should_cancel``) run on that thread and must not touch bpy.
    """

    def __init__(
        self,
        api_key: str | None,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transfer_timeout: float | tuple[float, float] | None = None,
        share_base_url: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
        should_cancel: CancelCheck | None = None,
        transfer_deadline: float | None = None,
        transfer_min_rate: float | None = None,
        max_download_bytes: int | None = None,
    ) -> None:
        self.__api_key = (api_key or "").strip() or None
        self.request_deadline = float(request_deadline)
        self.should_cancel = should_cancel
        self.transfer_limits: dict[str, Any] = {k: v for k, v in (
            ("deadline", transfer_deadline), ("min_rate", transfer_min_rate), ("max_bytes", max_download_bytes),
        ) if v is not None}
        self.endpoint = endpoint
        self.timeout = timeout
        self.transfer_timeout = transfer_timeout or (timeout if isinstance(timeout, tuple) else (timeout, 120.0))
        self.retry = retry or RetryPolicy()
        parts = urlsplit(endpoint)
        self.share_base_url = (share_base_url or urlunsplit((parts.scheme, parts.netloc, "", "", ""))).rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self._sleep = sleep
        install_log_redaction(self.__api_key, ("urllib3.connectionpool", "urllib3.connection", __name__))

    # ----------------------------------------------------------------------------------- plumbing

    def __repr__(self) -> str:
        return f"MoveClient(endpoint={redact_url(self.endpoint)!r}, api_key={mask_key(self.__api_key)})"

    @property
    def has_api_key(self) -> bool:
        return self.__api_key is not None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> MoveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, operation: ops.Operation, variables: Mapping[str, Any] | None = None) -> Any:
        """Send one operation and return ``data[operation.root]`` (raw JSON), with retries where safe."""
        clean = {k: v for k, v in (variables or {}).items() if v is not None}
        end = time.monotonic() + self.request_deadline
        retry_index = 0
        while True:
            try:
                return self._post(operation, clean, end)
            except MoveAPIError as error:
                delay = self.retry.delay_for(retry_index, error) if self._may_repeat(operation, error) else None
                if delay is not None and time.monotonic() + delay >= end:
                    delay = None  # a retry (or a server's Retry-After) never goes past the call's deadline
                if delay is None:
                    raise self._final_error(operation, error, clean) from None
                log.info("%s failed (%s); retry %d in %.2f s", operation.name, error, retry_index + 1, delay)
                self._sleep(delay)
                retry_index += 1

    @staticmethod
    def _may_repeat(operation: ops.Operation, error: MoveAPIError) -> bool:
        if operation.idempotent:
            return True
        # A create is repeated only when the server provably did not act on it.
        return isinstance(error, RateLimitError) or (isinstance(error, NetworkError) and not error.request_sent)

    @staticmethod
    def _final_error(operation: ops.Operation, error: MoveAPIError, variables: Mapping[str, Any]) -> MoveAPIError:
        if operation.idempotent:
            return error
        lost = isinstance(error, ServerError) or (isinstance(error, NetworkError) and error.request_sent)
        if not lost:
            return error
        meta: Any = None
        if isinstance(variables.get("metadata"), str):
            try:
                meta = json.loads(variables["metadata"])
            except ValueError:
                meta = None
        return OutcomeUnknownError(
            f"{operation.name} was sent but its answer was lost ({error}). It may or may not have been "
            "created, so it was not sent again: look for it (e.g. by its metadata tag with listJobs) before "
            "creating it again.",
            metadata=meta if isinstance(meta, dict) else None,
            operation=operation.name,
            status=error.status,
        )

    def _post(self, operation: ops.Operation, variables: Mapping[str, Any], end: float) -> Any:
        if self.__api_key is None:
            raise AuthError(
                "No Move API key is set: paste your key from the Move web app (API keys) into the "
                "move_mocap preferences, or set it for the local engine.", operation=operation.name,
            )
        what = f"{operation.name} ({redact_url(self.endpoint)})"
        payload: dict[str, Any] = {"query": operation.document, "variables": dict(variables), "operationName": operation.name}
        headers = {"Authorization": self.__api_key, "Accept": "application/json"}

        def exchange(guard: Guard) -> Any:
            try:
                response = self.session.post(self.endpoint, json=payload, timeout=self.timeout, headers=headers,
                                             allow_redirects=False, stream=True)
                guard.attach(response)
                with response:
                    _refuse_redirect(response, what, operation.name)
                    _read_capped(response, MAX_ANSWER_BYTES, guard, what, operation.name)
                    return self._answer(operation, response, what)
            except _NET_ERRORS as exc:
                if guard.abandoned.is_set():
                    return None
                raise network_error(exc, what, operation=operation.name) from None

        def too_slow(allowed: float) -> BaseException:
            return NetworkError(
                f"{what} timed out: no complete answer within {allowed:.0f} s (the server is too slow or "
                "trickles its answer); check the connection and the endpoint, then retry.",
                operation=operation.name, request_sent=True,
            )

        return run_guarded(exchange, deadline=Deadline(end - time.monotonic()), should_cancel=self.should_cancel,
                           on_timeout=too_slow, cancelled_message=f"{operation.name} was cancelled.")

    def _answer(self, operation: ops.Operation, response: requests.Response, what: str) -> Any:
        status = response.status_code
        name = operation.name
        if status in (401, 403):
            raise AuthError(
                f"{what}: the API key was refused (HTTP {status}); check the key in the preferences (it "
                "may be mistyped, revoked, or for another environment).", operation=name, status=status,
            )
        err = status_error(response, what, operation=name)
        if err is not None:
            raise err from None
        try:
            body = response.json()
        except (ValueError, RecursionError):
            if status >= 400:
                raise MoveValidationError(
                    f"{what} failed with HTTP {status}; check the endpoint URL in the preferences.",
                    server_message=response.text[:300], operation=name, status=status,
                ) from None
            raise MalformedResponseError(
                f"{what}: the answer is not JSON (HTTP {status}, {response.headers.get('Content-Type')}); "
                "check that the endpoint URL points at a Move GraphQL API.", operation=name, status=status,
            ) from None
        if not isinstance(body, dict):
            raise MalformedResponseError(
                f"{what}: the answer is not a GraphQL response object; check the endpoint URL.",
                operation=name, status=status,
            )
        errors = body.get("errors")
        if errors:
            raise self._graphql_error(errors, what, name, status)
        if status >= 400:
            raise MoveValidationError(
                f"{what} failed with HTTP {status}; check the endpoint URL in the preferences.",
                operation=name, status=status,
            )
        data = body.get("data")
        if not isinstance(data, dict) or data.get(operation.root) is None:
            raise MalformedResponseError(
                f"{what}: the answer has no data.{operation.root}; check that the endpoint speaks the Move "
                "UGC API.", operation=name, status=status,
            )
        return data[operation.root]

    @staticmethod
    def _graphql_error(errors: Any, what: str, name: str, status: int) -> MoveAPIError:
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        if not first:
            return MalformedResponseError(f"{what}: malformed GraphQL errors list.", operation=name, status=status)
        return graphql_error_from(first, what=what, operation=name, status=status)

    # -------------------------------------------------------------------------------------- account

    def get_client(self) -> ClientAccount:
        """Upstream ``client``: the account behind the API key (use it to check a key)."""
        return parse_model(ClientAccount, self.execute(ops.CLIENT), operation="client")

    check_key = get_client

    # ---------------------------------------------------------------------------------------- files

    def create_file(self, type: str, *, name: str | None = None, metadata: Jsonish = None) -> File:
        """Upstream ``createFile(type, name, metadata)``; ``presigned_url`` is where to PUT the bytes."""
        variables = {"type": type.lstrip(".").lower(), "name": name, "metadata": _metadata(metadata)}
        return parse_model(File, self.execute(ops.CREATE_FILE, variables), operation="createFile")

    def get_file(self, file_id: str) -> File:
        """Upstream ``getFile(fileId)``; for an existing file ``presigned_url`` is a download URL."""
        return parse_model(File, self.execute(ops.GET_FILE, {"fileId": file_id}), operation="getFile")

    def upload(
        self,
        file: File,
        path: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> None:
        """PUT ``path`` to ``file.presigned_url`` (streamed; see ``transfers.upload_file``)."""
        if not file.presigned_url:
            raise MalformedResponseError(f"File {file.id} has no presignedUrl to upload to; create a new file.")
        upload_file(
            file.presigned_url, path, session=self.session, progress=progress,
            should_cancel=should_cancel or self.should_cancel, timeout=self.transfer_timeout, retry=self.retry,
            sleep=self._sleep, **{k: v for k, v in self.transfer_limits.items() if k != "max_bytes"},
        )

    def upload_file(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        metadata: Jsonish = None,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> File:
        """``createFile`` for the file's extension, then stream the file to its presigned URL."""
        path = Path(path)
        file = self.create_file(path.suffix or "mp4", name=name or path.name, metadata=metadata)
        self.upload(file, path, progress=progress, should_cancel=should_cancel)
        return file

    # ---------------------------------------------------------------------------------------- takes

    @staticmethod
    def source(file_id: str, device_label: str = "cam01", path_or_format: str = "MP4",
               lens: str | None = None) -> SourceInput:
        """A ``SourceInput``; ``path_or_format`` is a SourceFormat name or a file name with its extension."""
        fmt = _SOURCE_FORMATS.get(Path(path_or_format).suffix.lower(), path_or_format.upper())
        cam = {"lens": lens} if lens else None
        return _input(SourceInput, {"device_label": device_label, "file_id": file_id, "format": fmt,
                                    "camera_settings": cam})  # type: ignore[no-any-return]

    def create_single_cam_take(
        self, sources: Any, *, name: str | None = None, metadata: Jsonish = None
    ) -> Take:
        """Upstream ``createSingleCamTake(sources, name, metadata)``; ``sources``: SourceInput(s) or dicts."""
        variables = {"sources": _sources(sources), "name": name, "metadata": _metadata(metadata)}
        return parse_model(Take, self.execute(ops.CREATE_SINGLE_CAM_TAKE, variables),
                           operation="createSingleCamTake")

    def create_multi_cam_take(
        self,
        volume_id: str,
        sources: Any,
        *,
        sync_method: SyncMethodInput | Mapping[str, Any] | None = None,
        name: str | None = None,
        metadata: Jsonish = None,
    ) -> Take:
        """Upstream ``createMultiCamTake(volumeId, sources, syncMethod, name, metadata)``."""
        sync = _input(SyncMethodInput, sync_method)
        variables = {
            "volumeId": volume_id, "sources": _sources(sources),
            "syncMethod": sync.to_variables() if sync else None, "name": name, "metadata": _metadata(metadata),
        }
        return parse_model(Take, self.execute(ops.CREATE_MULTI_CAM_TAKE, variables),
                           operation="createMultiCamTake")

    def get_take(self, take_id: str) -> Take:
        """Upstream ``getTake(takeId)``."""
        return parse_model(Take, self.execute(ops.GET_TAKE, {"takeId": take_id}), operation="getTake")

    def list_takes(
        self, *, first: int | None = None, after: Any = None, sort_direction: SortDirection | str | None = None
    ) -> Page[Take]:
        """Upstream ``listTakes(first, after, sortDirection)``: one page; pass ``page.after`` for the next."""
        variables = {"first": first, "after": after, "sortDirection": _sort(sort_direction)}
        return parse_model(Page[Take], self.execute(ops.LIST_TAKES, variables), operation="listTakes")

    def iter_takes(self, *, page_size: int = 50, max_pages: int = 100) -> Iterator[Take]:
        """Every take, following ``after`` tokens (at most ``max_pages`` pages)."""
        return _paged(lambda after: self.list_takes(first=page_size, after=after), max_pages)

    # ----------------------------------------------------------------------------------------- jobs

    def create_single_cam_job(
        self,
        take_id: str,
        *,
        options: OptionsInput | Mapping[str, Any] | None = None,
        outputs: Iterable[OutputType | str] | None = None,
        clip_window: ClipWindowInput | Mapping[str, Any] | tuple[float, float] | None = None,
        name: str | None = None,
        metadata: Jsonish = None,
    ) -> Job:
        """Upstream ``createSingleCamJob(takeId, options, outputs, clipWindow, name, metadata)``.

        ``options``: mocap_model S1/S2, track_fingers, track_ball, floor_plane, track_jersey_numbers.
        ``outputs``: OutputType values (None: the server's defaults). ``clip_window``: (start, end) seconds.
        Never re-sent after it may have reached the server; tag ``metadata`` to reconcile with ``find_jobs``.
        """
        variables = {
            "takeId": take_id,
            "options": _options(options, (MocapModel.S1, MocapModel.S2), "single-camera"),
            "outputs": _outputs(outputs), "clipWindow": _clip_window(clip_window),
            "name": name, "metadata": _metadata(metadata),
        }
        return parse_model(Job, self.execute(ops.CREATE_SINGLE_CAM_JOB, variables),
                           operation="createSingleCamJob")

    def create_multi_cam_job(
        self,
        take_id: str,
        *,
        number_of_actors: int | None = None,
        rig: str | None = None,
        options: OptionsInput | Mapping[str, Any] | None = None,
        outputs: Iterable[OutputType | str] | None = None,
        clip_window: ClipWindowInput | Mapping[str, Any] | tuple[float, float] | None = None,
        name: str | None = None,
        metadata: Jsonish = None,
    ) -> Job:
        """Upstream ``createMultiCamJob(takeId, numberOfActors, rig, options (M1/M2), outputs, clipWindow, ...)``."""
        if number_of_actors is not None and number_of_actors < 1:
            raise MoveValidationError("numberOfActors must be at least 1.", error_type="ClientValidation")
        variables = {
            "takeId": take_id, "numberOfActors": number_of_actors, "rig": rig,
            "options": _options(options, (MocapModel.M1, MocapModel.M2), "multi-camera"),
            "outputs": _outputs(outputs), "clipWindow": _clip_window(clip_window),
            "name": name, "metadata": _metadata(metadata),
        }
        return parse_model(Job, self.execute(ops.CREATE_MULTI_CAM_JOB, variables),
                           operation="createMultiCamJob")

    def get_job(self, job_id: str) -> Job:
        """Upstream ``getJob(jobId)``: progress (state, percentageComplete) and outputs with presigned URLs."""
        return parse_model(Job, self.execute(ops.GET_JOB, {"jobId": job_id}), operation="getJob")

    def list_jobs(
        self,
        *,
        first: int | None = None,
        after: Any = None,
        sort_direction: SortDirection | str | None = None,
        take_id: str | None = None,
    ) -> Page[Job]:
        """Upstream ``listJobs(first, after, sortDirection, takeId)``: one page (jobs without outputs)."""
        variables = {"first": first, "after": after, "sortDirection": _sort(sort_direction), "takeId": take_id}
        return parse_model(Page[Job], self.execute(ops.LIST_JOBS, variables), operation="listJobs")

    def iter_jobs(self, *, take_id: str | None = None, page_size: int = 50, max_pages: int = 100) -> Iterator[Job]:
        """Every job (of ``take_id`` if given), following ``after`` tokens."""
        return _paged(lambda after: self.list_jobs(first=page_size, after=after, take_id=take_id), max_pages)

    def find_jobs(
        self, metadata_match: Mapping[str, Any], *, take_id: str | None = None, max_pages: int = 20
    ) -> list[Job]:
        """Jobs whose metadata contains every item of ``metadata_match``: reconciles an OutcomeUnknownError."""
        return [j for j in self.iter_jobs(take_id=take_id, max_pages=max_pages)
                if metadata_matches(j.metadata, metadata_match)]

    def find_takes(self, metadata_match: Mapping[str, Any], *, max_pages: int = 20) -> list[Take]:
        """Takes whose metadata contains every item of ``metadata_match``."""
        return [t for t in self.iter_takes(max_pages=max_pages) if metadata_matches(t.metadata, metadata_match)]

    def update_job(self, job_id: str, *, name: str | None = None, metadata: Jsonish = None) -> Job:
        """Upstream ``updateJob(id, name, metadata)`` (sets values, so it is safe to repeat)."""
        variables = {"id": job_id, "name": name, "metadata": _metadata(metadata)}
        return parse_model(Job, self.execute(ops.UPDATE_JOB, variables), operation="updateJob")

    def download_output(
        self,
        job_id: str,
        key: str,
        dest: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        url_wait: float = 120.0,
    ) -> Path:
        """Download job output ``key`` (e.g. ``main_fbx``, ``motion_data``) to ``dest``.

        Waits up to ``url_wait`` seconds for the output's presigned URL (it may be empty for a while after
        FINISHED), and refreshes it from ``getJob`` whenever the download finds it expired.
        """
        url = self.wait_for_output_url(job_id, key, timeout=url_wait)

        def refresh() -> str | None:
            return self.get_job(job_id).output_url(key)

        return download_file(
            url, dest, session=self.session, refresh_url=refresh, progress=progress,
            should_cancel=should_cancel or self.should_cancel, timeout=self.transfer_timeout, retry=self.retry,
            sleep=self._sleep, **self.transfer_limits,
        )

    def wait_for_output_url(self, job_id: str, key: str, *, timeout: float = 120.0) -> str:
        """Poll ``getJob`` until output ``key`` has a presigned URL; raises NotFoundError if it never does."""
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            job = self.get_job(job_id)
            url = job.output_url(key)
            if url:
                return url
            if job.is_failed:
                raise NotFoundError(f"Job {job_id} failed; it has no output {key!r}.", operation="getJob")
            if time.monotonic() >= deadline:
                have = sorted({(o.key or "?") for o in job.outputs or () if o is not None})
                raise NotFoundError(
                    f"Job {job_id} (state {job.job_state.value if job.job_state else 'unknown'}) has no "
                    f"download URL for output {key!r} after {timeout:.0f} s (outputs: {', '.join(have) or 'none'}); "
                    "check that the job was created with this output, then retry later.", operation="getJob",
                )
            self._sleep(min(10.0, self.retry.backoff(attempt) + 1.0))
            attempt += 1

    # ---------------------------------------------------------------------------------- rigs, camera

    def list_rigs(self) -> Page[Rig]:
        """Upstream ``listRigs``."""
        return parse_model(Page[Rig], self.execute(ops.LIST_RIGS), operation="listRigs")

    def list_camera_settings(self) -> Page[CameraSettings]:
        """Upstream ``listCameraSettings``."""
        return parse_model(Page[CameraSettings], self.execute(ops.LIST_CAMERA_SETTINGS),
                           operation="listCameraSettings")

    # -------------------------------------------------------------------------------------- volumes

    def create_volume_with_human(
        self,
        sources: Any,
        *,
        human_height: float,
        area_type: AreaType | str = AreaType.NORMAL,
        clip_window: ClipWindowInput | Mapping[str, Any] | tuple[float, float] | None = None,
        sync_method: SyncMethodInput | Mapping[str, Any] | None = None,
        name: str | None = None,
        metadata: Jsonish = None,
    ) -> HumanVolume:
        """Upstream ``createVolumeWithHuman(sources, humanHeight, areaType, clipWindow, syncMethod, ...)``."""
        if not 0.5 <= human_height <= 2.8:
            raise MoveValidationError(
                f"humanHeight {human_height} m is implausible; give the person's height in metres.",
                error_type="ClientValidation",
            )
        srcs = _sources(sources)
        if len(srcs) < 2:
            raise MoveValidationError("A volume needs sources from at least two cameras.",
                                      error_type="ClientValidation")
        try:
            area = AreaType(area_type.upper() if isinstance(area_type, str) else area_type).value
        except ValueError:
            raise MoveValidationError(f"Unknown areaType {area_type!r}; use NORMAL or LARGE.",
                                      error_type="ClientValidation") from None
        sync = _input(SyncMethodInput, sync_method)
        variables = {
            "sources": srcs, "humanHeight": float(human_height), "areaType": area,
            "clipWindow": _clip_window(clip_window), "syncMethod": sync.to_variables() if sync else None,
            "name": name, "metadata": _metadata(metadata),
        }
        return parse_model(HumanVolume, self.execute(ops.CREATE_VOLUME_WITH_HUMAN, variables),
                           operation="createVolumeWithHuman")

    def get_volume(self, volume_id: str) -> HumanVolume:
        """Upstream ``getVolume(id)``."""
        return parse_model(HumanVolume, self.execute(ops.GET_VOLUME, {"id": volume_id}), operation="getVolume")

    def list_volumes(
        self, *, first: int | None = None, after: Any = None, sort_direction: SortDirection | str | None = None
    ) -> Page[HumanVolume]:
        """Upstream ``listVolumes(first, after, sortDirection)``."""
        variables = {"first": first, "after": after, "sortDirection": _sort(sort_direction)}
        return parse_model(Page[HumanVolume], self.execute(ops.LIST_VOLUMES, variables), operation="listVolumes")

    # ----------------------------------------------------------------------------- sharing, webhooks

    def generate_share_code(self, file_id: str) -> ShareCode:
        """Upstream ``generateShareCode(fileId)``."""
        return parse_model(ShareCode, self.execute(ops.GENERATE_SHARE_CODE, {"fileId": file_id}),
                           operation="generateShareCode")

    def resolve_share_code(self, code: str) -> str:
        """Exchange a Move One 8-digit share code for a download URL (``GET <base>/ugc/file/download?code=``)."""
        code = re.sub(r"[\s-]", "", code or "")
        if not _SHARE_CODE_RE.match(code):
            raise MoveValidationError(
                "A share code is the 8 digits shown by the Move One app; type it without letters.",
                error_type="ClientValidation",
            )
        url = f"{self.share_base_url}/ugc/file/download"
        what = f"Resolving a share code at {url}"
        headers = {"Accept": "application/json"}
        if self.__api_key:
            headers["Authorization"] = self.__api_key

        def exchange(guard: Guard) -> str:
            try:
                response = self.session.get(url, params={"code": code}, headers=headers, timeout=self.timeout,
                                            allow_redirects=False, stream=True)
                guard.attach(response)
                with response:
                    _refuse_redirect(response, what, "shareCodeDownload")
                    err = status_error(response, what)
                    if err is not None:
                        raise err from None
                    if response.status_code in (400, 404, 410):
                        raise NotFoundError(
                            f"{what}: the code is unknown or has expired (HTTP {response.status_code}); "
                            "generate a new code in Move One.", status=response.status_code,
                        )
                    if response.status_code in (401, 403):
                        raise AuthError(f"{what}: refused (HTTP {response.status_code}); check the API key.",
                                        status=response.status_code)
                    if response.status_code != 200:
                        raise MoveValidationError(f"{what} failed with HTTP {response.status_code}.",
                                                  status=response.status_code)
                    _read_capped(response, MAX_ANSWER_BYTES, guard, what, "shareCodeDownload")
                    try:
                        body = response.json()
                    except ValueError:
                        raise MalformedResponseError(f"{what}: the answer is not JSON.") from None
                    return parse_model(ShareCodeDownload, body, operation="shareCodeDownload").url
            except _NET_ERRORS as exc:
                if guard.abandoned.is_set():
                    return ""
                raise network_error(exc, what) from None

        def too_slow(allowed: float) -> BaseException:
            return NetworkError(f"{what} timed out: no complete answer within {allowed:.0f} s; check the "
                                "connection and the endpoint, then retry.")

        end = time.monotonic() + self.request_deadline
        retry_index = 0
        while True:
            try:
                return run_guarded(exchange, deadline=Deadline(end - time.monotonic()),
                                   should_cancel=self.should_cancel, on_timeout=too_slow,
                                   cancelled_message="Resolving the share code was cancelled.")
            except MoveAPIError as error:
                delay = self.retry.delay_for(retry_index, error)
                if delay is not None and time.monotonic() + delay >= end:
                    delay = None  # never past the call's deadline
                if delay is None:
                    raise
                self._sleep(delay)
                retry_index += 1

    def download_share_code(
        self,
        code: str,
        dest: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> Path:
        """Resolve a Move One share code and download its file to ``dest`` (re-resolving if the URL expires).

        A code may be single-use: when re-resolving fails the download raises ``PresignedUrlExpiredError``.
        """
        url = self.resolve_share_code(code)

        def refresh() -> str | None:
            try:
                return self.resolve_share_code(code)
            except NotFoundError:
                return None

        return download_file(url, dest, session=self.session, refresh_url=refresh, progress=progress,
                             should_cancel=should_cancel or self.should_cancel, timeout=self.transfer_timeout,
                             retry=self.retry, sleep=self._sleep, **self.transfer_limits)

    def upsert_webhook_endpoint(
        self,
        uid: str,
        url: str,
        *,
        events: Sequence[str] | None = None,
        secret: str | None = None,
        description: str | None = None,
        metadata: Jsonish = None,
    ) -> WebhookEndpoint:
        """Upstream ``upsertWebhookEndpoint(uid, url, events, secret, description, metadata)``."""
        variables = {
            "uid": uid, "url": url, "events": list(events) if events is not None else None, "secret": secret,
            "description": description, "metadata": _metadata(metadata),
        }
        return parse_model(WebhookEndpoint, self.execute(ops.UPSERT_WEBHOOK_ENDPOINT, variables),
                           operation="upsertWebhookEndpoint")


def _refuse_redirect(response: requests.Response, what: str, operation: str) -> None:
    """API calls (GraphQL and the share-code exchange) never follow a redirect: it says so, naming the fix."""
    if response.is_redirect:
        raise MoveValidationError(
            f"{what}: the server answered with a redirect (HTTP {response.status_code}), which API calls never "
            "follow; set the endpoint URL in the preferences to the API's own address.",
            operation=operation, status=response.status_code,
        )


def _read_capped(response: requests.Response, limit: int, guard: Guard, what: str, operation: str) -> None:
    """Read the body in small pieces (stopping when the guard is aborted) into ``response``; at most ``limit``."""
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise MalformedResponseError(
            f"{what}: the answer announces {int(length):,} bytes, more than the {limit:,} an API answer may have; "
            "check the endpoint URL.", operation=operation, status=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.raw.stream(16 * 1024, decode_content=True):
        if guard.abandoned.is_set():
            raise TransferCancelledError(f"{operation} was stopped.")
        size += len(chunk)
        if size > limit:
            raise MalformedResponseError(
                f"{what}: the answer is larger than the {limit:,} bytes an API answer may have; check the "
                "endpoint URL.", operation=operation, status=response.status_code,
            )
        chunks.append(chunk)
    response._content = b"".join(chunks)


def _sort(value: SortDirection | str | None) -> str | None:
    if value is None:
        return None
    try:
        return SortDirection(value.upper() if isinstance(value, str) else value).value
    except ValueError:
        raise MoveValidationError("sortDirection must be ASC or DESC.", error_type="ClientValidation") from None


def _paged(fetch: Callable[[Any], Page[Any]], max_pages: int) -> Iterator[Any]:
    after: Any = None
    for _ in range(max_pages):
        page = fetch(after)
        yield from page.items
        if not page.after or page.after == after:
            return
        after = page.after


_NOT_FOUND_TYPES = {"MoveNotFoundError", "NotFound", "NotFoundError"}


def graphql_error_from(
    error: Mapping[str, Any], *, what: str = "The request", operation: str | None = None, status: int | None = None
) -> MoveAPIError:
    """Map one AppSync-style GraphQL error (``message``, ``errorType``, ``path``) onto a typed error."""
    error_type = error.get("errorType") if isinstance(error.get("errorType"), str) else None
    message = str(error.get("message") or "no message")
    path = error.get("path") if isinstance(error.get("path"), list) else None
    lowered = (error_type or "").lower()
    if error_type in _NOT_FOUND_TYPES:
        target = path[0] if path else operation
        return NotFoundError(
            f"{what}: {message} ({error_type}{', ' + str(target) if target else ''}); the id may be wrong, "
            "deleted, or belong to another API key.", operation=operation, status=status,
        )
    if "unauthorized" in lowered or "unauthenticated" in lowered or "accessdenied" in lowered:
        return AuthError(
            f"{what}: {message} ({error_type}); check the API key in the preferences.",
            operation=operation, status=status,
        )
    if "throttl" in lowered or "limitexceeded" in lowered or "toomanyrequests" in lowered:
        return RateLimitError(f"{what}: {message} ({error_type}); wait and retry.", operation=operation,
                              status=status)
    return MoveValidationError(
        f"{what} was rejected by the server: {message}" + (f" ({error_type})" if error_type else "")
        + "; correct the request (see the message) and try again.",
        server_message=message, error_type=error_type, path=path, operation=operation, status=status,
    )
