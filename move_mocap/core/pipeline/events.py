"""Typed events a pipeline worker posts to the caller's queue (one dataclass per kind of news).

Workers create them; the main thread reads them. They carry plain values only (no clients, no bpy
objects, no secrets). No I/O, no bpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    submission_id: str


@dataclass(frozen=True)
class StageChanged(Event):
    """A stage finished and was journaled; ``stage`` is the new last-finished stage."""

    stage: str
    text: str = ""


@dataclass(frozen=True)
class Progress(Event):
    """Progress inside the running stage. ``fraction`` in [0, 1]; ``text`` ready to show."""

    stage: str  # the stage being worked on: "upload", "processing", "download", ...
    fraction: float
    text: str
    bytes_done: int = 0
    bytes_total: int = 0


@dataclass(frozen=True)
class Failed(Event):
    stage: str       # internal stage that failed
    kind: str        # ErrorKind: upload, validation, processing, download, apply, network, auth
    message: str     # what happened (the server's message included)
    hint: str        # what to do


@dataclass(frozen=True)
class Cancelled(Event):
    stage: str = ""


@dataclass(frozen=True)
class ReadyToApply(Event):
    """Outputs are downloaded: the main thread should import/retarget them and call ``record_applied``."""

    job_id: str
    files: dict[str, str] = field(default_factory=dict)  # output key -> local path
    target: str = ""
    blend_file: str = ""


@dataclass(frozen=True)
class Notice(Event):
    text: str
    level: str = "INFO"  # INFO, WARNING, ERROR


@dataclass(frozen=True)
class HistoryLoaded(Event):
    """The server's job list (plain dicts: id, name, state, percent, created, take_id, submission)."""

    jobs: tuple[dict[str, Any], ...] = ()
    error: str = ""


@dataclass(frozen=True)
class CaptureChoices(Event):
    """What the server offers for a multi-camera take, checked: lens names (``listCameraSettings``) and its
    volumes (``listVolumes``: plain dicts with id, name, state, reason, human_height), newest first. ``error``
    says what could not be listed (a server without camera settings still lists its volumes)."""

    lenses: tuple[str, ...] = ()
    volumes: tuple[dict[str, Any], ...] = ()
    error: str = ""
