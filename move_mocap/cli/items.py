"""What a command-line run works on (a video, a multi-camera take, a job, a share code), what became of each,
and the exit code that follows from them.

Plain data: no bpy, no network. The report's per-item record is ``report.item_report``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL

SUCCESS_OUTCOMES = ("applied", "reapplied", "skipped", "downloaded", "found")
OUTCOMES = ("applied", "reapplied", "skipped", "downloaded", "failed", "invalid", "timeout", "interrupted", "found")


@dataclass
class Item:
    """One thing this run works on and what became of it."""

    input: str
    name: str
    outcome: str = "pending"  # one of OUTCOMES, or "pending"
    submission_id: str = ""
    created_new: bool = False
    mode: str = "start"  # start | retry | apply | running (the worker was started by the command)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    marks: dict[str, float] = field(default_factory=dict)  # stage -> seconds since started
    armature: str = ""
    action: str = ""
    warnings: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None
    shown: dict[str, int] = field(default_factory=dict)

    def mark(self, stage: str) -> None:
        self.marks.setdefault(stage, round(time.time() - self.started, 3))

    def fail(self, stage: str, kind: str, message: str, hint: str = "", outcome: str = "failed") -> None:
        self.outcome = outcome
        self.error = {"stage": stage, "kind": kind, "message": message, "hint": hint}
        self.finished = time.time()

    @property
    def ok(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES


def exit_code_for(items: list[Item]) -> int:
    """0 when every item succeeded, 3 when some did, 1 when none did (or there were none)."""
    if not items:
        return EXIT_FAILURE
    good = sum(i.ok for i in items)
    if good == len(items):
        return EXIT_OK
    return EXIT_PARTIAL if good else EXIT_FAILURE
