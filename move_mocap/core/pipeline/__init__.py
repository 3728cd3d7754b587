"""The submission pipeline: footage -> files -> (volume) -> take -> job -> processing -> downloaded outputs.

bpy-free. ``Pipeline`` runs each submission on a worker thread, writes every id to the durable ``Journal``
before the next stage starts, and posts typed events (``events.py``) to a ``queue.SimpleQueue`` that the
caller drains on its own (main) thread. Applying the outputs to a rig is the caller's business: the
pipeline posts ``ReadyToApply`` and records what the caller reports with ``Pipeline.record_applied``.
Nothing here imports bpy or touches Blender data.
"""

from .backoff import PollSchedule
from .events import (
    Cancelled,
    CaptureChoices,
    Event,
    Failed,
    HistoryLoaded,
    Notice,
    Progress,
    ReadyToApply,
    StageChanged,
)
from .failures import ErrorKind, StageFailure
from .journal import FileRow, Journal, SubmissionRow
from .model import Footage, Stage, State, SubmissionSpec, submission_key
from .runner import Pipeline, PipelineConfig

__all__ = [
    "Cancelled", "CaptureChoices", "ErrorKind", "Event", "Failed", "FileRow", "Footage", "HistoryLoaded", "Journal",
    "Notice", "Pipeline", "PipelineConfig", "PollSchedule", "Progress", "ReadyToApply", "Stage", "StageChanged",
    "StageFailure", "State", "SubmissionRow", "SubmissionSpec", "submission_key",
]
