"""Stage-aware failures: which stage broke, the server's message, and what the user should do.

``classify(stage, exc)`` turns any exception from a stage into a ``StageFailure`` whose message is safe to
show (client errors are already redacted; other exceptions are summarised). No I/O, no bpy.
"""

from __future__ import annotations

from enum import StrEnum

from ..api.errors import (
    AuthError,
    MoveAPIError,
    MoveValidationError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    PresignedUrlExpiredError,
    RateLimitError,
    ServerError,
    TransferError,
)
from ..api.redact import redact_text
from .model import Stage


class ErrorKind(StrEnum):
    UPLOAD = "upload"
    VALIDATION = "validation"
    PROCESSING = "processing"
    DOWNLOAD = "download"
    APPLY = "apply"


#: Internal stage being worked on -> the user-facing kind of failure.
_KIND_OF_STAGE = {
    Stage.NEW: ErrorKind.UPLOAD,
    Stage.FILES: ErrorKind.UPLOAD,
    Stage.UPLOADED: ErrorKind.UPLOAD,
    Stage.VOLUME: ErrorKind.VALIDATION,
    Stage.TAKE: ErrorKind.VALIDATION,
    Stage.JOB: ErrorKind.VALIDATION,
    Stage.PROCESSED: ErrorKind.PROCESSING,
    Stage.DOWNLOADED: ErrorKind.DOWNLOAD,
    Stage.APPLIED: ErrorKind.APPLY,
}

_HINTS = {
    ErrorKind.UPLOAD: "Check that the video is readable and the connection works, then press Retry "
                      "(files already uploaded are not sent again).",
    ErrorKind.VALIDATION: "The server refused the request: change what the message names (model, outputs, "
                          "clip window, cameras) and submit again, or press Retry if it was temporary.",
    ErrorKind.PROCESSING: "Move could not process the footage: make sure the whole body is visible and well "
                          "lit, or change the options; Retry starts a new job on the same uploaded take.",
    ErrorKind.DOWNLOAD: "Press Retry to download again (finished files are kept).",
    ErrorKind.APPLY: "Pick an armature (or none, for a new one) and press Apply again.",
}


class StageFailure(Exception):
    """A submission stopped at ``stage``; ``kind`` names it for the user, ``hint`` says what to do."""

    def __init__(self, stage: Stage, kind: ErrorKind, message: str, hint: str = "") -> None:
        self.stage = stage
        self.kind = kind
        self.message = redact_text(message)
        self.hint = hint or _HINTS[kind]
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.kind.value.capitalize()} failed: {self.message}"


def kind_of(stage: Stage) -> ErrorKind:
    return _KIND_OF_STAGE[stage]


def classify(working_on: Stage, exc: BaseException) -> StageFailure:
    """The failure to report for ``exc`` raised while working towards stage ``working_on``."""
    if isinstance(exc, StageFailure):
        return exc
    kind = kind_of(working_on)
    if isinstance(exc, AuthError):
        return StageFailure(working_on, kind, str(exc),
                            "Check the API key in Preferences > Add-ons > Move Mocap, then press Retry.")
    if isinstance(exc, MoveValidationError) and exc.status == 413:
        return StageFailure(working_on, kind, str(exc),
                            "Submit a shorter or smaller video (Retry would send the same file again).")
    if isinstance(exc, MoveValidationError):
        server = exc.server_message or str(exc)
        return StageFailure(working_on, kind, f"the server said: {server}")
    if isinstance(exc, OutcomeUnknownError):
        return StageFailure(working_on, kind, str(exc),
                            "The server may have created it: press Retry, the add-on looks for it first and "
                            "does not create a duplicate.")
    if isinstance(exc, PresignedUrlExpiredError):
        return StageFailure(working_on, kind, str(exc), "The transfer link expired: press Retry for a fresh one.")
    if isinstance(exc, NetworkError | ServerError | RateLimitError):
        return StageFailure(working_on, kind, str(exc),
                            "The server could not be reached or was busy: check the connection and press "
                            "Retry (nothing finished is repeated).")
    if isinstance(exc, NotFoundError):
        return StageFailure(working_on, kind, str(exc),
                            "The server no longer knows this id (deleted, or another API key/endpoint).")
    if isinstance(exc, TransferError | MoveAPIError):
        return StageFailure(working_on, kind, str(exc))
    if isinstance(exc, OSError):
        return StageFailure(working_on, kind, f"{exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})",
                            "Check the file or folder named, then press Retry.")
    return StageFailure(working_on, kind, f"{type(exc).__name__}: {exc}")
