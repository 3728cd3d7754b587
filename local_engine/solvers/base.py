"""The interface between the server's job worker and a solver. No bpy here.

The worker builds a SolveRequest from the job and its take, calls ``solver.solve(request)`` on a worker
thread, then hands the returned motions to the output writers. A solver reports progress through
``request.progress(fraction)`` (0..1 of the solving part) and raises SolverError with a message meant for
the user when the footage cannot be solved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..camera import Camera as Camera  # re-exported: the solver interface
from ..motion import MoveMotion


class SolverError(Exception):
    """The footage cannot be solved; the message is shown to the user as the job's failure reason."""


@dataclass
class SolveRequest:
    cameras: list[Camera]
    work_dir: Path
    options: dict[str, Any] = field(default_factory=dict)  # mocapModel, trackFingers, trackBall, floorPlane
    clip_window: tuple[float, float] | None = None  # seconds (start, end) within the footage
    number_of_actors: int = 1
    progress: Callable[[float], None] = lambda fraction: None


@dataclass
class SolveResult:
    motions: list[MoveMotion]  # one per actor, actor numbers 1..N
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. {"fingers": "not tracked: ..."}
    # Extra per-output files a solver made itself (e.g. RENDER_OVERLAY_VIDEO), keyed by OutputType name.
    extra_outputs: dict[str, Path] = field(default_factory=dict)


class Solver(Protocol):
    name: str

    def solve(self, request: SolveRequest) -> SolveResult: ...
