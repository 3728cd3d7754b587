"""Overall deadlines and prompt cancellation for one blocking HTTP exchange, and the redirect rules.

``run_guarded(fn, ...)`` runs ``fn(guard)`` (a whole exchange: send, headers, body) on a short-lived helper
thread while the calling (worker) thread waits in slices of ``POLL`` seconds. Cancel (``should_cancel()``)
and the deadline are therefore honoured within ``POLL`` at every step: connecting, sending, waiting for the
headers, a server that trickles one byte at a time. On either, the guard is aborted: the responses ``fn``
attached are shut down (the socket, so a blocked read returns) and ``fn``'s outcome is discarded; ``fn``
checks ``guard.abandoned`` between reads and must finish irreversible steps (a rename) inside
``guard.commit()``, which refuses once aborted. Per-read timeouts (``requests``' ``timeout``) still bound a
helper thread blocked before any response exists.

``Deadline``: ``base`` seconds plus, for transfers, one second per ``min_rate`` bytes moved (the rule of
careful HTTP clients' "speed limit": a transfer must keep an average rate, so a big file on a slow link
goes on while a trickle is cut off).

``redirect_problem`` / ``url_problem``: presigned URLs never lead to another host, a link-local address
(169.254.0.0/16, fe80::/10: cloud metadata services) or from https to http. No bpy here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import TransferCancelledError

T = TypeVar("T")
POLL = 0.05


class Deadline:
    """``base`` seconds from now, extended by ``moved / min_rate`` seconds as bytes move (if ``min_rate``)."""

    def __init__(self, base: float, min_rate: float | None = None) -> None:
        self.start = time.monotonic()
        self.base = max(0.0, float(base))
        self.min_rate = min_rate if min_rate and min_rate > 0 else None
        self.moved = 0

    def add(self, n: int) -> None:
        self.moved += n

    @property
    def allowed(self) -> float:
        return self.base + (self.moved / self.min_rate if self.min_rate else 0.0)

    def remaining(self) -> float:
        return self.start + self.allowed - time.monotonic()


class Guard:
    """What ``fn`` sees: ``abandoned``, ``attach(response)``, ``deadline``, ``commit()``."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.abandoned = threading.Event()
        self._lock = threading.Lock()
        self._responses: list[Any] = []

    def attach(self, response: Any) -> None:
        with self._lock:
            self._responses.append(response)
            aborted = self.abandoned.is_set()
        if aborted:
            _shut(response)

    @contextlib.contextmanager
    def commit(self) -> Iterator[None]:
        """Hold while doing something that must not happen after an abort (e.g. renaming a download)."""
        with self._lock:
            if self.abandoned.is_set():
                raise TransferCancelledError("The transfer was stopped.")
            yield

    def abort(self) -> None:
        with self._lock:
            self.abandoned.set()
            responses = list(self._responses)
        for r in responses:
            _shut(r)


def _shut(response: Any) -> None:
    """Shut the response's socket down (wakes a read blocked in another thread), then close it."""
    raw = getattr(response, "raw", None)
    conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


def run_guarded(
    fn: Callable[[Guard], T],
    *,
    deadline: Deadline,
    should_cancel: Callable[[], bool] | None,
    on_timeout: Callable[[float], BaseException],
    cancelled_message: str = "The request was cancelled.",
) -> T:
    """``fn(guard)`` on a helper thread; raises ``TransferCancelledError`` on cancel, ``on_timeout(allowed)``
    past the deadline, else returns (or raises) what ``fn`` did."""
    guard = Guard(deadline)
    done = threading.Event()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(guard)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    if should_cancel is not None and should_cancel():
        raise TransferCancelledError(cancelled_message)
    threading.Thread(target=target, name="move_mocap-http", daemon=True).start()
    while not done.wait(POLL):
        if should_cancel is not None and should_cancel():
            guard.abort()
            raise TransferCancelledError(cancelled_message)
        if deadline.remaining() <= 0:
            guard.abort()
            raise on_timeout(deadline.allowed)
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------------------- redirects

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3


def _link_local(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_link_local or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None
                                and ip.ipv4_mapped.is_link_local)


def url_problem(url: str) -> str | None:
    """Why a server-given transfer URL must not be fetched, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"it is not an http(s) URL (scheme {parts.scheme or 'none'!r})"
    if _link_local(parts.hostname):
        return "it points at a link-local address (169.254.0.0/16 or fe80::/10), where cloud metadata services live"
    return None


def redirect_problem(current: str, target: str) -> str | None:
    """Why a transfer must not follow a redirect from ``current`` to ``target``, or None."""
    problem = url_problem(target)
    if problem:
        return f"the redirect target is refused: {problem}"
    a, b = urlsplit(current), urlsplit(target)
    if a.scheme == "https" and b.scheme != "https":
        return "it redirects from https to http"
    if (a.hostname or "").lower() != (b.hostname or "").lower():
        return f"it redirects to another host ({b.hostname})"
    return None
