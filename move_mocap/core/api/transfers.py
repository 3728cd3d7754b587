"""Streaming uploads to and downloads from presigned URLs, with progress, retries, resume and atomic rename.

Uploads stream the file from disk in large chunks through a re-iterable body with a known length (so the
request carries Content-Length, memory stays constant and a retry re-sends the same bytes). Downloads
stream into a hidden ``.<name>.part`` file beside the destination, resume with ``Range`` where the server
answers 206, check the size and rename atomically; an expired presigned URL is replaced by calling the
caller's ``refresh_url`` (which re-reads the job).

Every attempt runs under ``guard.run_guarded``: Cancel takes effect within ~0.05 s at any point (also while
a server trickles bytes), and an attempt is cut off when it falls behind its deadline (``deadline`` seconds
plus one second per ``min_rate`` bytes moved). Redirects are followed only to the same host, never to a
link-local address nor from https to http (``guard.redirect_problem``); a server-given URL pointing at a
link-local address is refused. Downloads stop at ``max_bytes`` and check the body against Content-Length.

Callbacks run on a helper thread of the calling worker (see guard.py): they must not touch bpy. No bpy here.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import requests
import urllib3.exceptions

from .errors import (
    IncompleteTransferError,
    MoveAPIError,
    MoveValidationError,
    NotFoundError,
    PresignedUrlExpiredError,
    TransferCancelledError,
    TransferError,
)
from .guard import MAX_REDIRECTS, Deadline, Guard, redirect_problem, run_guarded, url_problem
from .http import network_error, status_error
from .redact import install_log_redaction, redact_url
from .retry import RetryPolicy

log = logging.getLogger(__name__)
install_log_redaction(logger_names=("urllib3.connectionpool", "urllib3.connection", __name__))

ProgressCallback = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``; ``bytes_total`` is -1 when the size is unknown."""
CancelCheck = Callable[[], bool]
RefreshUrl = Callable[[], "str | None"]

UPLOAD_CHUNK = 8 * 1024 * 1024
DOWNLOAD_CHUNK = 1024 * 1024
DEFAULT_TIMEOUT: tuple[float, float] = (15.0, 120.0)
DEFAULT_DEADLINE = 60.0          # seconds every transfer attempt gets before its average rate counts
DEFAULT_MIN_RATE = 16_000.0      # bytes/s a transfer must average beyond that (a trickle is cut off)
MAX_DOWNLOAD_BYTES = 4 * 1024 ** 3
_STREAM_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)


def _refuse_url(url: str, what: str) -> None:
    problem = url_problem(url)
    if problem:
        raise TransferError(f"{what} was refused: {problem}; the server sent a URL the add-on will not fetch "
                            "(check the endpoint: it may be misconfigured or compromised).")


def _send_following(sess: requests.Session, method: str, url: str, what: str, guard: Guard,
                    **kw: Any) -> requests.Response:
    """``method url`` following at most MAX_REDIRECTS redirects that ``redirect_problem`` allows."""
    for _ in range(MAX_REDIRECTS + 1):
        response = sess.request(method, url, allow_redirects=False, **kw)
        guard.attach(response)
        if not response.is_redirect:
            return response
        target = requests.compat.urljoin(url, response.headers.get("Location", ""))
        response.close()
        problem = redirect_problem(url, target)
        if problem:
            raise TransferError(f"{what}: the server's redirect was not followed: {problem}; the output was not "
                                "fetched (check the endpoint: it may be misconfigured or compromised).",
                                status=response.status_code)
        url = target
    raise TransferError(f"{what}: more than {MAX_REDIRECTS} redirects; the output was not fetched.")


def _too_slow(what: str) -> Callable[[float], BaseException]:
    def make(allowed: float) -> BaseException:
        return TransferError(
            f"{what} was stopped after {allowed:.0f} s: the server sends or takes the data too slowly (below "
            "the minimum rate); check the connection, then retry.")
    return make


class _FileBody:
    """A request body that streams ``size`` bytes of a file in chunks; iterating again starts over.

    ``__len__`` lets requests send Content-Length (not chunked encoding); one buffer is reused for every
    chunk, so memory does not grow with the file.
    """

    def __init__(
        self,
        path: Path,
        size: int,
        chunk_size: int,
        progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
        deadline: Deadline | None = None,
    ) -> None:
        self.deadline = deadline
        self.path = path
        self.size = size
        self.chunk_size = chunk_size
        self.progress = progress
        self.should_cancel = should_cancel
        self.sent = 0

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[memoryview]:
        self.sent = 0
        buffer = memoryview(bytearray(min(self.chunk_size, max(self.size, 1))))
        with open(self.path, "rb", buffering=0) as fh:
            while self.sent < self.size:
                if self.should_cancel and self.should_cancel():
                    raise TransferCancelledError("The upload was cancelled.")
                want = min(len(buffer), self.size - self.sent)
                n = fh.readinto(buffer[:want])
                if not n:
                    raise IncompleteTransferError(
                        f"{self.path.name} shrank while it was being uploaded ({self.sent} of {self.size} "
                        "bytes read); do not edit the file during upload, then retry."
                    )
                if self.deadline is not None:
                    self.deadline.add(n)  # credited as it is handed over: a big chunk gets its time up front
                yield buffer[:n]
                self.sent += n
                if self.progress:
                    self.progress(self.sent, self.size)


def _sleep_or_cancel(delay: float, should_cancel: CancelCheck | None, sleep: Callable[[float], None]) -> None:
    if should_cancel is None:
        sleep(delay)
        return
    end = time.monotonic() + delay
    while True:
        if should_cancel():
            raise TransferCancelledError("The transfer was cancelled.")
        left = end - time.monotonic()
        if left <= 0:
            return
        sleep(min(left, 0.25))


def _looks_expired(response: requests.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code == 400:
        try:
            text = response.text[:2000].lower()
        except Exception:
            return False
        return "expired" in text or "signature" in text
    return False


def upload_file(
    url: str,
    path: str | os.PathLike[str],
    *,
    session: requests.Session | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    content_type: str | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
    chunk_size: int = UPLOAD_CHUNK,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float = DEFAULT_DEADLINE,
    min_rate: float = DEFAULT_MIN_RATE,
) -> None:
    """PUT the file at ``path`` to the presigned ``url`` (as ``createFile`` returns it).

    Re-sending the same PUT is safe, so network errors, 429 and 5xx are retried per ``retry``; progress
    restarts from 0 on each attempt. A 403 raises ``PresignedUrlExpiredError`` (create a new file for a new
    URL). Raises ``TransferCancelledError`` when ``should_cancel()`` turns True.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TransferError(f"Cannot read {path}: {exc.strerror}; check the footage path.") from None
    policy = retry or RetryPolicy()
    own_session = session is None
    sess = session or requests.Session()
    headers = {"Content-Length": str(size)}
    if content_type:
        headers["Content-Type"] = content_type
    what = f"Uploading {path.name} to {redact_url(url)}"
    _refuse_url(url, what)
    retry_index = 0
    try:
        while True:
            limit = Deadline(deadline, min_rate)
            body = _FileBody(path, size, chunk_size, progress, should_cancel, limit)
            try:
                run_guarded(lambda g, b=body: _upload_once(sess, url, b, headers, timeout, what, g),  # type: ignore[misc]
                            deadline=limit, should_cancel=should_cancel, on_timeout=_too_slow(what),
                            cancelled_message="The upload was cancelled.")
                log.info("uploaded %s (%d bytes) to %s", path.name, size, redact_url(url))
                return
            except MoveAPIError as error:
                delay = policy.delay_for(retry_index, error)
                if delay is None:
                    raise
                log.info("%s failed (%s); retry %d in %.2f s", what, error, retry_index + 1, delay)
                _sleep_or_cancel(delay, should_cancel, sleep)
                retry_index += 1
    finally:
        if own_session:
            sess.close()


def _upload_once(
    sess: requests.Session,
    url: str,
    body: _FileBody,
    headers: dict[str, str],
    timeout: float | tuple[float, float],
    what: str,
    guard: Guard,
) -> None:
    try:
        response = _send_following(sess, "PUT", url, what, guard, data=cast(Any, body), headers=headers,
                                   timeout=timeout)
    except TransferCancelledError:
        raise
    except TransferError:
        raise
    except _STREAM_ERRORS as exc:
        raise network_error(exc, what) from None
    with response:
        status = response.status_code
        if 200 <= status < 300:
            return
        err = status_error(response, what)
        if err is not None:
            raise err from None
        if status == 413:
            limit = re.search(r"limit of (\d+) bytes", response.text[:2000])
            beyond = f" (its limit: {int(limit.group(1)):,} bytes)" if limit else ""
            raise MoveValidationError(
                f"{what} was refused: the video ({body.size:,} bytes) is larger than the server accepts{beyond} "
                "(HTTP 413); trim it to the part you need or export it at a lower resolution or bitrate, "
                "then submit that file.", server_message=response.text[:500], status=status,
            )
        if _looks_expired(response):
            raise PresignedUrlExpiredError(
                f"{what} was refused (HTTP {status}): the presigned upload URL has expired or is invalid; "
                "create a new file (createFile) to get a fresh URL and upload again.", status=status,
            )
        if status == 404:
            raise NotFoundError(f"{what}: the upload URL does not exist (HTTP 404); create a new file.",
                                status=status)
        raise MoveValidationError(
            f"{what} was rejected (HTTP {status}); check the file type matches createFile's type.",
            server_message=response.text[:500], status=status,
        )


# ------------------------------------------------------------------------------------------- download

_CONTENT_RANGE_RE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")


def _parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """(start, end, total) from ``Content-Range``; None for parts that are absent or ``*``."""
    match = _CONTENT_RANGE_RE.match(value or "")
    if not match:
        return None, None, None
    start = int(match.group(1)) if match.group(1) else None
    end = int(match.group(2)) if match.group(2) else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return start, end, total


def partial_path(dest: str | os.PathLike[str]) -> Path:
    """The resumable temporary file used while downloading to ``dest``."""
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.part")


class _TooLong(Exception):
    pass


class _Downloader:
    def __init__(
        self,
        url: str,
        dest: Path,
        sess: requests.Session,
        progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
        expected_size: int | None,
        timeout: float | tuple[float, float],
        chunk_size: int,
        max_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self.max_bytes = max_bytes
        self.url = url
        self.dest = dest
        self.part = partial_path(dest)
        self.sess = sess
        self.progress = progress
        self.should_cancel = should_cancel
        self.expected_size = expected_size
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.etag: str | None = None
        self.wrote = 0

    @property
    def what(self) -> str:
        return f"Downloading {self.dest.name} from {redact_url(self.url)}"

    def _discard_part(self) -> None:
        try:
            self.part.unlink()
        except FileNotFoundError:
            pass

    def attempt(self, guard: Guard) -> None:
        """One GET; leaves the part file holding every byte received so far, renames it when complete."""
        self.wrote = 0
        offset = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self.etag:
                headers["If-Range"] = self.etag
        try:
            response = _send_following(self.sess, "GET", self.url, self.what, guard, headers=headers, stream=True,
                                       timeout=self.timeout)
        except TransferError:
            raise
        except _STREAM_ERRORS as exc:
            raise network_error(exc, self.what) from None
        with response:
            status = response.status_code
            if status == 416 and offset:
                _, _, total = _parse_content_range(response.headers.get("Content-Range"))
                if total == offset and self.expected_size in (None, offset):
                    with guard.commit():
                        self._finish(offset, total)
                    return
                self._discard_part()
                raise IncompleteTransferError(
                    f"{self.what}: the partial download no longer matches the file (HTTP 416); restarting.",
                    status=status,
                )
            err = status_error(response, self.what)
            if err is not None:
                raise err from None
            if _looks_expired(response):
                raise PresignedUrlExpiredError(
                    f"{self.what} was refused (HTTP {status}): the presigned URL has expired; "
                    "read the job again (getJob) for a fresh URL.", status=status,
                )
            if status == 404:
                raise NotFoundError(
                    f"{self.what}: the file does not exist (HTTP 404); the job output may have been "
                    "deleted or not produced yet.", status=status,
                )
            if status not in (200, 206):
                raise TransferError(f"{self.what} failed with HTTP {status}; retry later.", status=status)

            if status == 206:
                start, _, total = _parse_content_range(response.headers.get("Content-Range"))
                if start != offset:
                    self._discard_part()
                    raise IncompleteTransferError(
                        f"{self.what}: the server resumed at byte {start}, not {offset}; restarting.",
                        status=status,
                    )
                mode = "ab"
            else:  # 200: the whole file (server ignores Range, or If-Range said the file changed)
                offset = 0
                mode = "wb"
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            self.etag = response.headers.get("ETag") or self.etag
            if total is not None and total > self.max_bytes:
                self._discard_part()
                raise TransferError(
                    f"{self.what}: the server announces {total:,} bytes, more than the {self.max_bytes:,} a "
                    "download may have; the output was not fetched.", status=status,
                )
            if total is not None and self.expected_size is not None and total != self.expected_size:
                self._discard_part()
                raise TransferError(
                    f"{self.what}: the server announces {total} bytes but {self.expected_size} were "
                    "expected; the output changed, read the job again.", status=status,
                )
            done = offset
            report_total = total if total is not None else -1
            with open(self.part, mode) as fh:
                try:
                    for chunk in response.raw.stream(self.chunk_size, decode_content=False):
                        if guard.abandoned.is_set() or (self.should_cancel and self.should_cancel()):
                            raise TransferCancelledError(f"{self.what} was cancelled.")
                        if done + len(chunk) > max(self.max_bytes, total or 0) or (
                                total is not None and done + len(chunk) > total):
                            raise _TooLong(done + len(chunk))
                        fh.write(chunk)
                        done += len(chunk)
                        self.wrote += len(chunk)
                        guard.deadline.add(len(chunk))
                        if self.progress:
                            self.progress(done, report_total)
                except _TooLong as too_long:
                    fh.close()
                    self._discard_part()
                    limit = f"the {total:,} it announced" if total is not None else f"the {self.max_bytes:,} allowed"
                    raise TransferError(
                        f"{self.what}: the server sent more than {limit} (at least {too_long.args[0]:,} bytes); "
                        "the output was not kept; retry later.", status=status,
                    ) from None
                except _STREAM_ERRORS as exc:
                    raise network_error(exc, self.what) from None
                except OSError as exc:
                    raise TransferError(
                        f"Cannot write {self.part}: {exc.strerror}; free disk space or choose another "
                        "folder, then retry."
                    ) from None
                finally:
                    if not fh.closed:
                        fh.flush()
                        os.fsync(fh.fileno())
        if total is not None and done < total:
            raise IncompleteTransferError(
                f"{self.what} ended early ({done} of {total} bytes); resuming.", status=status
            )
        if total is not None and done > total:
            self._discard_part()
            raise TransferError(
                f"{self.what}: received {done} bytes but the server announced {total}; retry later.",
                status=status,
            )
        with guard.commit():
            self._finish(done, total)

    def _finish(self, done: int, total: int | None) -> None:
        if self.expected_size is not None and done != self.expected_size:
            self._discard_part()
            raise TransferError(
                f"{self.what}: got {done} bytes but {self.expected_size} were expected; retry later."
            )
        os.replace(self.part, self.dest)
        log.info("downloaded %s (%d bytes)", self.dest, done)


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    session: requests.Session | None = None,
    refresh_url: RefreshUrl | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    expected_size: int | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
    chunk_size: int = DOWNLOAD_CHUNK,
    max_refreshes: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float = DEFAULT_DEADLINE,
    min_rate: float = DEFAULT_MIN_RATE,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> Path:
    """Download ``url`` to ``dest`` (a file path; its folder is created) and return ``dest``.

    - Streams into ``.<name>.part`` beside ``dest``; resumes it with ``Range`` (also across calls, e.g. after
      a crash) when the server answers 206, starts over when it answers 200.
    - Checks the byte count against Content-Length / Content-Range (and ``expected_size`` if given), fsyncs,
      then renames atomically, so ``dest`` is either absent or complete.
    - Network errors, short reads, 429 and 5xx are retried per ``retry`` (attempts reset whenever bytes
      arrived); when they run out the ``.part`` file stays for a later resume.
    - When the presigned URL is refused as expired (401/403, or 400 naming an expired signature),
      ``refresh_url()`` is called for a fresh URL (at most ``max_refreshes`` times); without it, or when it
      returns nothing, ``PresignedUrlExpiredError`` is raised (the ``.part`` file stays).
    - Permanent failures (404, other 4xx, size conflicts) delete the ``.part`` file.
    - ``progress(done, total)`` counts from the start of the file (resumed bytes included).
    - Each attempt must finish within ``deadline`` s plus one second per ``min_rate`` bytes received (else a
      ``TransferError``, not retried); more than ``max_bytes`` (or than Content-Length) fails and keeps nothing.
    """
    dest_path = Path(dest)
    _refuse_url(url, f"Downloading {dest_path.name} from {redact_url(url)}")
    dest_path.parent.mkdir(parents=True, exist_ok=True)
    policy = retry or RetryPolicy()
    own_session = session is None
    sess = session or requests.Session()
    loader = _Downloader(url, dest_path, sess, progress, should_cancel, expected_size, timeout,
                         min(chunk_size, 64 * 1024), max_bytes)
    refreshes = 0
    retry_index = 0
    furthest = resume_offset(dest_path)  # the budget resets only when the part grows past this
    try:
        while True:
            try:
                run_guarded(loader.attempt, deadline=Deadline(deadline, min_rate), should_cancel=should_cancel,
                            on_timeout=_too_slow(loader.what), cancelled_message=f"{loader.what} was cancelled.")
                return dest_path
            except TransferCancelledError:
                raise
            except PresignedUrlExpiredError:
                if refresh_url is None or refreshes >= max_refreshes:
                    raise
                refreshes += 1
                fresh = refresh_url()
                if fresh:
                    _refuse_url(fresh, loader.what)
                if not fresh:
                    raise PresignedUrlExpiredError(
                        f"{loader.what}: the URL expired and no fresh URL is available yet; retry later."
                    ) from None
                log.info("presigned URL expired; refreshed (%d/%d)", refreshes, max_refreshes)
                loader.url = fresh
            except MoveAPIError as error:
                reached = resume_offset(dest_path)
                if loader.wrote and reached > furthest:
                    furthest = reached  # real progress: the budget is for consecutive failures
                    retry_index = 0
                delay = policy.delay_for(retry_index, error)
                if delay is None:
                    if not error.retryable:
                        loader._discard_part()
                    raise
                log.info("%s failed (%s); retry %d in %.2f s", loader.what, error, retry_index + 1, delay)
                _sleep_or_cancel(delay, should_cancel, sleep)
                retry_index += 1
    finally:
        if own_session:
            sess.close()


def resume_offset(dest: str | os.PathLike[str]) -> int:
    """Bytes already downloaded for ``dest`` (0 when no resumable part exists)."""
    part = partial_path(dest)
    return part.stat().st_size if part.exists() else 0


__all__ = [
    "DOWNLOAD_CHUNK",
    "UPLOAD_CHUNK",
    "CancelCheck",
    "ProgressCallback",
    "RefreshUrl",
    "download_file",
    "partial_path",
    "resume_offset",
    "upload_file",
]
