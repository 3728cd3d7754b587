"""Shared HTTP helpers: mapping ``requests`` failures and HTTP statuses onto the typed errors.

Messages are redacted (presigned signatures, the API key) before they become exceptions; exceptions are
raised ``from None`` so a traceback cannot carry an unredacted URL from the underlying library. No bpy.
"""

from __future__ import annotations

import email.utils
import math
import time

import requests
import urllib3.exceptions

from .errors import NetworkError, RateLimitError, ServerError
from .redact import redact_text


def request_never_sent(exc: BaseException) -> bool:
    """True when a ``requests`` failure proves the request never reached the server.

    A connect timeout or a refused / unresolvable connection happens before any byte is sent, so even a
    create mutation may be repeated; a read timeout or a reset after sending may not.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.ReadTimeout
    ):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.NameResolutionError)
    return False


def network_error(exc: BaseException, what: str, *, operation: str | None = None) -> NetworkError:
    """Wrap a ``requests``/``urllib3`` failure into a NetworkError naming the problem and the fix."""
    if isinstance(exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError):
        problem = "timed out"
        fix = "check the connection, or raise the timeout in the preferences for slow links"
    else:
        problem = "could not connect or the connection dropped"
        fix = "check the network connection, proxy and endpoint URL, then retry"
    detail = redact_text(str(exc))[:300]
    return NetworkError(
        f"{what} {problem} ({type(exc).__name__}: {detail}); {fix}.",
        operation=operation, request_sent=not request_never_sent(exc),
    )


RETRY_AFTER_CAP = 60.0
"""The longest wait a server's Retry-After can impose (callers also keep it inside their own deadline)."""


def parse_retry_after(value: str | None, *, cap: float = RETRY_AFTER_CAP) -> float | None:
    """Retry-After as seconds in ``[0, cap]``: a number of seconds or an HTTP date; None when unreadable.

    Untrusted input: ``inf`` and huge values are capped, ``nan`` and garbage ignored (None), negative values
    and dates in the past mean "now" (0), overlong values are not parsed at all."""
    if not value or len(value) > 64:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - time.time()
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), cap)


def status_error(response: requests.Response, what: str, *, operation: str | None = None) -> Exception | None:
    """The retryable error for a 429 or 5xx answer, or None for other statuses."""
    status = response.status_code
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        when = f"after {retry_after:.0f} s" if retry_after is not None else "later"
        return RateLimitError(
            f"{what} was rate limited (HTTP 429); wait and retry {when}, or send fewer requests at once.",
            retry_after=retry_after, operation=operation, status=status,
        )
    if 500 <= status < 600:
        return ServerError(
            f"{what} failed on the server (HTTP {status} {response.reason or ''}); this is usually temporary: "
            "retry in a minute, and check the service status if it persists.",
            operation=operation, status=status,
        )
    return None
