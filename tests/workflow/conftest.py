"""Fixtures for the workflow tests: the add-on inside bpy wired to a real local server, with its own
journal and download folder per test."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import bpy as _bpy  # noqa: F401  (before the addon fixture: puts Blender's modules on the path)
import pytest


@pytest.fixture
def wired(addon, local_server, tmp_path, monkeypatch):
    """(bpy, runtime module, server): preferences point at the local server, fast polling, fresh file."""
    import bpy

    from move_mocap.capture import runtime
    from move_mocap.preferences import get_preferences

    runtime.RUNTIME.shutdown()
    monkeypatch.setenv("MOVE_MOCAP_USER_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("MOVE_API_KEY", local_server.api_key)
    prefs = get_preferences(bpy.context)
    old = (prefs.endpoint, prefs.download_dir)
    prefs.endpoint = local_server.url
    prefs.download_dir = str(tmp_path / "downloads")
    runtime.RUNTIME.config_overrides = {"poll_initial": 0.1, "poll_factor": 1.3, "poll_max": 0.5,
                                        "reconcile_attempts": 2, "reconcile_delay": 0.1,
                                        "reconcile_settle": 0.3}
    bpy.ops.wm.read_homefile(use_empty=True)
    runtime.RUNTIME.notice = ""
    yield bpy, runtime, local_server
    runtime.RUNTIME.shutdown()
    runtime.RUNTIME.config_overrides = {}
    prefs.endpoint, prefs.download_dir = old


def add_footage(bpy: Any, video: Path, outputs: set[str] | None = None, clip: tuple[float, float] = (0.0, 2.0)) -> Any:
    props = bpy.context.scene.move_mocap
    assert bpy.ops.move_mocap.footage_add(filepath=str(video)) == {"FINISHED"}
    props.outputs = outputs or {"MOTION_DATA"}
    props.use_clip_window = True
    props.clip_start, props.clip_end = clip
    return props


def drive(runtime: Any, until, timeout: float = 180.0) -> list[float]:
    """Run the add-on's timers as Blender would (tick at its own interval, then the apply timer); returns
    each tick's duration in ms."""
    slices: list[float] = []
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        t0 = time.perf_counter()
        interval = runtime.RUNTIME.tick()
        slices.append((time.perf_counter() - t0) * 1000)
        if runtime.RUNTIME.pending_apply:
            runtime._apply_timer()
        time.sleep(interval if interval is not None else 0.05)
    return slices


def armatures(bpy: Any) -> list[Any]:
    return [o for o in bpy.data.objects if o.type == "ARMATURE"]
