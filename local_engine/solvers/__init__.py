"""Pluggable solvers: each turns a take's footage (or a motion file) into MoveMotion per actor.

The registry maps a name to ``module:Class``; a solver module is imported only when selected (the
mediapipe solver pulls in heavy dependencies that the replay solver must not need). No bpy here.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from .base import Solver, SolveRequest, SolverError, SolveResult

SOLVERS: dict[str, str] = {
    "replay": "local_engine.solvers.replay:ReplaySolver",
    "mediapipe": "local_engine.solvers.mediapipe_solver:MediapipeSolver",
}

#: Outputs a solver makes itself (SolveResult.extra_outputs), beyond what the output writers make. A solver
#: class may also declare them as ``extra_output_types``.
EXTRA_OUTPUTS: dict[str, tuple[str, ...]] = {"mediapipe": ("RENDER_OVERLAY_VIDEO",)}

__all__ = ["EXTRA_OUTPUTS", "SOLVERS", "SolveRequest", "SolveResult", "Solver", "SolverError", "make_solver"]


def make_solver(name: str, **options: Any) -> Solver:
    """Import and build the solver called ``name``; ``options`` it does not accept are ignored."""
    try:
        target = SOLVERS[name]
    except KeyError:
        raise ValueError(f"unknown solver {name!r}; available: {', '.join(sorted(SOLVERS))}") from None
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = options
    else:
        accepted = {k: v for k, v in options.items() if k in params and v is not None}
    return cls(**accepted)
