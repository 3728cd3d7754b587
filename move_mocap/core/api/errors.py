"""Typed exceptions of the Move API client and the transfers.

Every exception names the problem and the fix in its message. Messages are redacted at construction and
again when shown (presigned URL signatures, and every form of the API keys this process's clients hold:
``redact.remember_secret``), so ``str(exc)``, ``repr(exc)`` and ``exc.args`` are always safe to log or show.
Nothing here performs I/O; no bpy.
"""

from __future__ import annotations

from typing import Any

from .redact import redact_text


class MoveAPIError(Exception):
    """Base class of every error raised by ``move_mocap.core.api``.

    ``retryable`` says whether repeating the same call later may succeed (the pipeline may re-queue it).
    """

    retryable: bool = False

    def __init__(self, message: str, *, operation: str | None = None, status: int | None = None) -> None:
        self.message = redact_text(message)
        self.operation = operation
        self.status = status
        super().__init__(self.message)

    def __str__(self) -> str:
        return redact_text(self.message)  # again: a key remembered after this was raised

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AuthError(MoveAPIError):
    """The API key is missing, malformed, revoked or not allowed to make this call."""


class NotFoundError(MoveAPIError):
    """The resource does not exist (upstream ``errorType: "MoveNotFoundError"``, or HTTP 404 on a transfer)."""


class MoveValidationError(MoveAPIError):
    """The server rejected the request (a GraphQL error): carries the server's ``message`` and ``errorType``."""

    def __init__(
        self,
        message: str,
        *,
        server_message: str = "",
        error_type: str | None = None,
        path: list[Any] | None = None,
        operation: str | None = None,
        status: int | None = None,
    ) -> None:
        self.server_message = redact_text(server_message)
        self.error_type = error_type
        self.path = path
        super().__init__(message, operation=operation, status=status)


class RateLimitError(MoveAPIError):
    """HTTP 429: too many requests. ``retry_after`` is the server's Retry-After in seconds (None if absent)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(MoveAPIError):
    """A transient server-side failure (HTTP 5xx)."""

    retryable = True


class NetworkError(MoveAPIError):
    """The request did not complete: connection refused or reset, DNS failure, TLS failure or timeout.

    ``request_sent`` is False only when the request provably never reached the server (refused connection,
    connect timeout, DNS failure).
    """

    retryable = True

    def __init__(self, message: str, *, request_sent: bool = True, **kw: Any) -> None:
        self.request_sent = request_sent
        super().__init__(message, **kw)


class MalformedResponseError(MoveAPIError):
    """The server answered something the client cannot understand: not JSON, wrong types, unknown enum values."""


class OutcomeUnknownError(MoveAPIError):
    """A create mutation was sent but no answer came back (timeout, dropped connection, 5xx).

    The server may or may not have created the resource, so the client does not re-send it. Reconcile later
    from ``metadata`` (e.g. ``MoveClient.find_jobs(take_id=..., metadata_match=...)``) before creating again.
    """

    retryable = False

    def __init__(self, message: str, *, metadata: dict[str, Any] | None = None, **kw: Any) -> None:
        self.metadata = metadata
        super().__init__(message, **kw)


class TransferError(MoveAPIError):
    """Base class of upload/download failures that are not plain HTTP or network errors."""


class PresignedUrlExpiredError(TransferError):
    """The presigned URL was refused as expired (HTTP 403 / 400 "expired") and no fresh one could be had."""


class IncompleteTransferError(TransferError):
    """The bytes received or sent do not match the size the server announced."""

    retryable = True


class TransferCancelledError(TransferError):
    """The caller cancelled the transfer (its ``should_cancel`` callback returned True)."""
