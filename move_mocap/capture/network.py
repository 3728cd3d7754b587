"""poll() rules shared by every operator that uses the network: online access and an API key (for Move's
cloud), or a local engine that can run (for "This Computer": its key is made when it starts).

Blender's "Allow Online Access" (``bpy.app.online_access``) must be on, except for a local engine on a
loopback address. ``--offline-mode`` on the command line cannot be changed in Preferences, so the
message says to restart without it. A calibration file goes only to the local engine on this computer (Move's
cloud cannot read one).
"""

from __future__ import annotations

import bpy

from ..core.endpoints import is_loopback, validate_endpoint
from ..core.pipeline.preflight import calibration_file_backend_problem
from ..preferences import settings


def calibration_file_refused(context: bpy.types.Context) -> str | None:
    """Why the chosen server cannot take a calibration file (it is not the local engine on this computer), or
    None. Reads only the settings held in memory: for draw() and poll()."""
    try:
        s = settings(context)
    except RuntimeError:
        return None  # network_problem says why
    return calibration_file_backend_problem(s.endpoint)


def network_problem(context: bpy.types.Context, *, needs_key: bool = True) -> str | None:
    """Why a network operation cannot run now, or None."""
    try:
        s = settings(context)
    except RuntimeError as exc:
        return str(exc)
    problem = validate_endpoint(s.endpoint)
    if problem:
        return problem
    if s.api_key_source == "local engine":
        from ..engine_control.engine import engine
        from ..engine_control.engine import problem as engine_problem

        return None if engine() is not None else engine_problem(context)
    if not bpy.app.online_access and not is_loopback(s.endpoint):
        if getattr(bpy.app, "online_access_override", False):
            return ("Blender was started with --offline-mode, which Preferences cannot change: "
                    "restart Blender without it (or with --online-mode) to reach the Move API")
        return ("Online access is off: enable Preferences > System > Network > Allow Online Access, "
                "or point the endpoint at a local engine")
    if needs_key and not s.api_key:
        return "No API key: set it in Preferences > Add-ons > Move Mocap, or the MOVE_API_KEY environment variable"
    return None


class NetworkPollMixin:
    """Mixin for operators that talk to the API: poll() explains why it is disabled."""

    needs_api_key = True

    @classmethod
    def poll(cls, context: bpy.types.Context | None) -> bool:  # `| None`: Operator.poll's type in Blender 5.2
        if context is None:
            return False
        problem = network_problem(context, needs_key=cls.needs_api_key)
        if problem:
            cls.poll_message_set(problem)  # type: ignore[attr-defined]
            return False
        return True
