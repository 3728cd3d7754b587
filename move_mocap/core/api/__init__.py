"""The bpy-free Move AI UGC API client: GraphQL operations, typed models and errors, streaming transfers.

Import from here: ``from move_mocap.core.api import MoveClient, errors``. Nothing in this package may
import bpy; callbacks (progress, refresh_url, should_cancel) run on the caller's thread.
"""

from __future__ import annotations

from .client import DEFAULT_ENDPOINT, MoveClient, graphql_error_from, metadata_matches
from .errors import (
    AuthError,
    IncompleteTransferError,
    MalformedResponseError,
    MoveAPIError,
    MoveValidationError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    PresignedUrlExpiredError,
    RateLimitError,
    ServerError,
    TransferCancelledError,
    TransferError,
)
from .models import (
    AreaType,
    CameraSettings,
    Client,
    ClipWindowInput,
    File,
    HumanVolume,
    Job,
    JobState,
    MocapModel,
    OptionsInput,
    OutputType,
    Page,
    Rig,
    ShareCode,
    SourceFormat,
    SourceInput,
    SyncMethodInput,
    Take,
    Volume,
    WebhookEndpoint,
)
from .retry import RetryPolicy
from .transfers import download_file, partial_path, upload_file

__all__ = [
    "DEFAULT_ENDPOINT",
    "AreaType",
    "AuthError",
    "CameraSettings",
    "Client",
    "ClipWindowInput",
    "File",
    "HumanVolume",
    "IncompleteTransferError",
    "Job",
    "JobState",
    "MalformedResponseError",
    "MocapModel",
    "MoveAPIError",
    "MoveClient",
    "MoveValidationError",
    "NetworkError",
    "NotFoundError",
    "OptionsInput",
    "OutcomeUnknownError",
    "OutputType",
    "Page",
    "PresignedUrlExpiredError",
    "RateLimitError",
    "RetryPolicy",
    "Rig",
    "ServerError",
    "ShareCode",
    "SourceFormat",
    "SourceInput",
    "SyncMethodInput",
    "Take",
    "TransferCancelledError",
    "TransferError",
    "Volume",
    "WebhookEndpoint",
    "download_file",
    "graphql_error_from",
    "metadata_matches",
    "partial_path",
    "upload_file",
]
