"""One command-line run's hold on the add-on: its preferences overridden for the run (endpoint, download
folder, key file), the ``.blend`` opened, the session's ``Runtime`` and ``Pipeline``, the retarget options
from the flags, and restoring everything at the end.

What it must not do: decide what happens to a submission (``core.pipeline.plan``), apply results
(``Runtime.apply_now``) or print progress (``console``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy

from ..capture.network import network_problem
from ..capture.runtime import RUNTIME, Runtime
from ..core.api.redact import redact_text, redact_url
from ..core.endpoints import validate_endpoint
from ..core.retarget.options import RetargetOptions
from ..preferences import get_preferences, settings
from .console import Console
from .errors import RunFailure, UsageError

#: The add-on's own package ("move_mocap", or "bl_ext.<repo>.move_mocap" when installed as an extension).
PACKAGE = __package__.rpartition(".")[0]


def retarget_options(args: argparse.Namespace) -> RetargetOptions:
    """The retarget flags as ``RetargetOptions`` (the engine's defaults for those not given, not the Retarget
    panel's choices saved in the .blend); checked by ``RetargetOptions`` itself."""
    flags: dict[str, Any] = {
        "root_motion": getattr(args, "root_motion", None), "root_bone": getattr(args, "root_bone", None),
        "root_rotation": True if getattr(args, "root_rotation", False) else None,
        "fingers": False if getattr(args, "no_retarget_fingers", False) else None,
        "floor_clamp": False if getattr(args, "no_floor_clamp", False) else None,
        "translation_scale": getattr(args, "translation_scale", None),
        "target_fps": getattr(args, "target_fps", None), "frame_offset": getattr(args, "frame_offset", None)}
    given = {name: value for name, value in flags.items() if value is not None and value != ""}
    try:
        return RetargetOptions.from_dict(given)
    except ValueError as exc:
        raise UsageError(f"retarget options: {exc}") from None


class Session:
    """The add-on inside this Blender, its preferences overridden for this run, and its pipeline."""

    def __init__(self, args: argparse.Namespace, console: Console, source: str) -> None:
        self.args = args
        self.console = console
        self.source = source  # "installed" (an extension) or "repo" (a checkout's move_mocap)
        self.opened = False
        self._restore: list[Callable[[], None]] = []
        self.secrets: list[str] = []
        self.endpoint = ""
        self.saved: str | None = None
        self.retarget: RetargetOptions | None = None

    @property
    def addon(self) -> dict[str, str]:
        return {"package": PACKAGE, "source": self.source}

    def open(self) -> None:
        args = self.args
        if args.api_key_file:
            try:
                key = Path(args.api_key_file).read_text().strip()
            except OSError as exc:
                raise UsageError(f"--api-key-file {args.api_key_file}: {exc.strerror or exc}") from None
            if not key:
                raise UsageError(f"--api-key-file {args.api_key_file} is empty")
            os.environ["MOVE_API_KEY"] = key
        if args.blend:
            blend = Path(args.blend)
            if not blend.is_file():
                raise UsageError(f"--blend {blend}: no such file")
            bpy.ops.wm.open_mainfile(filepath=str(blend.resolve()))
        self.opened = True
        self.retarget = retarget_options(args)  # checked before anything is uploaded
        prefs = get_preferences(bpy.context)
        if args.endpoint:
            problem = validate_endpoint(args.endpoint)
            if problem:
                raise UsageError(f"--endpoint: {problem}")
            self._override(prefs, "endpoint", args.endpoint.strip())
        if args.download_dir:
            self._override(prefs, "download_dir", str(Path(args.download_dir).resolve()))
        s = settings(bpy.context)
        self.secrets = [s.api_key] if s.api_key else []
        self.console.scrub = lambda text: redact_text(text, self.secrets)
        self.endpoint = redact_url(s.endpoint)
        rt = RUNTIME
        rt.config_overrides = {**rt.config_overrides, "poll_initial": min(1.0, args.poll_max),
                               "poll_max": args.poll_max}
        self.console.info(f"add-on {PACKAGE} ({self.source}), endpoint {self.endpoint}, "
                          f"Blender {bpy.app.version_string}")

    def override_download_dir(self, folder: Path) -> None:
        self._override(get_preferences(bpy.context), "download_dir", str(folder))

    def _override(self, prefs: Any, name: str, value: Any) -> None:
        old = getattr(prefs, name)
        setattr(prefs, name, value)
        self._restore.append(lambda: setattr(prefs, name, old))

    def require_network(self, needs_key: bool = True) -> None:
        problem = network_problem(bpy.context, needs_key=needs_key)
        if problem:
            if not bpy.app.online_access and "Online access" in problem:
                problem += " (on the command line, pass --online-mode to Blender before -c or -b)"
            raise RunFailure(problem)

    @property
    def runtime(self) -> Runtime:
        return RUNTIME

    @property
    def pipeline(self) -> Any:
        return RUNTIME.get_pipeline()

    def scrub(self, text: str) -> str:
        return self.console.scrub(text)

    def close(self) -> None:
        if self.opened and RUNTIME.pipeline is not None:
            RUNTIME.pipeline.shutdown(timeout=5.0)  # anything unfinished stays active: resumed next run
        for undo in reversed(self._restore):
            with contextlib.suppress(Exception):
                undo()
        self._restore.clear()


def resolve_target(args: argparse.Namespace) -> Any:
    """``--target``'s armature object in the open file (None: a new armature per result)."""
    name = getattr(args, "target", None)
    if not name:
        if getattr(args, "root_motion", None) or getattr(args, "root_bone", None) or getattr(args, "root_rotation", False):
            raise UsageError("retarget options need --target ARMATURE")
        return None
    obj = bpy.data.objects.get(name)
    if obj is None or obj.type != "ARMATURE":
        have = ", ".join(sorted(o.name for o in bpy.data.objects if o.type == "ARMATURE")) or "none"
        raise UsageError(f"--target {name!r}: no armature of that name in this file (armatures: {have})")
    return obj


def item_target(target: Any) -> str:
    return target.name if target is not None else ""
