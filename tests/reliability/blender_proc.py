"""A Blender session (the bpy module with the add-on enabled) that the crash tests kill with SIGKILL from outside.

usage: python -m tests.reliability.blender_proc submit <video> <endpoint> <download_dir> <kill_point>
       python -m tests.reliability.blender_proc resume <endpoint> <download_dir> <out.blend>
Environment: MOVE_API_KEY, MOVE_MOCAP_USER_DIR (the add-on's journal lives there).

``submit`` presses Process (the blocking path) and prints ``AT <point>`` at every pipeline checkpoint (after
each journal write) and ``PROGRESS <stage> <done> <total>`` for transfers; at ``kill_point`` its worker stops
and waits to be killed. ``resume`` is Blender started again: Resume Unfinished, then Apply for results that
were downloaded but not applied, then the scene is saved to ``out.blend``; prints ``END <sid> <state>``.
"""

from __future__ import annotations

import importlib
import sys
import time

import bpy  # first: puts Blender's own modules on the path

FAST = {"poll_initial": 0.1, "poll_factor": 1.3, "poll_max": 0.5, "reconcile_attempts": 2, "reconcile_delay": 0.1,
        "reconcile_settle": 0.3,
        "progress_interval": 0.0}  # every transfer chunk reported: the tests kill on them


def _setup(endpoint: str, download_dir: str):  # type: ignore[no-untyped-def]
    addon_utils = importlib.import_module("addon_utils")

    def fail(exc: BaseException) -> None:
        raise exc

    addon_utils.enable("move_mocap", default_set=True, handle_error=fail)
    from move_mocap.capture import runtime
    from move_mocap.preferences import get_preferences

    prefs = get_preferences(bpy.context)
    prefs.endpoint = endpoint
    prefs.download_dir = download_dir
    runtime.RUNTIME.config_overrides = dict(FAST)
    return runtime


def submit(video: str, endpoint: str, download_dir: str, kill_point: str) -> None:
    bpy.ops.wm.read_homefile(use_empty=True)
    runtime = _setup(endpoint, download_dir)
    from move_mocap.core.pipeline import Progress

    pipeline = runtime.RUNTIME.get_pipeline()

    def checkpoint(sid: str, point: str) -> None:
        print(f"AT {point} {sid}", flush=True)
        if point == kill_point:
            time.sleep(3600)  # the test kills this process now

    def on_event(event: object) -> None:
        if isinstance(event, Progress) and event.stage in ("upload", "download"):
            print(f"PROGRESS {event.stage} {event.bytes_done} {event.bytes_total} {event.submission_id}", flush=True)

    pipeline.checkpoint = checkpoint
    runtime.RUNTIME.on_event = on_event
    props = bpy.context.scene.move_mocap
    assert bpy.ops.move_mocap.footage_add(filepath=video) == {"FINISHED"}
    props.outputs = {"MOTION_DATA"}
    props.use_clip_window = True
    props.clip_start, props.clip_end = 0.0, 2.0
    bpy.ops.move_mocap.process()
    print("END (not killed)", flush=True)


def resume(endpoint: str, download_dir: str, out_blend: str) -> None:
    bpy.ops.wm.read_homefile(use_empty=True)  # before the add-on: its load_post handler is not there yet
    runtime = _setup(endpoint, download_dir)
    from move_mocap.core.pipeline import State

    bpy.ops.move_mocap.resume()  # blocking in background mode: waits for each, then applies
    journal = runtime.RUNTIME.journal()
    for row in journal.all(states=(State.READY,)):
        bpy.ops.move_mocap.apply(submission_id=row.id)
    bpy.ops.wm.save_as_mainfile(filepath=out_blend, compress=False)
    for row in journal.all():
        print(f"END {row.id} {row.state.value} {row.applied_to or ''}", flush=True)
    runtime.RUNTIME.shutdown()


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "submit":
        submit(*args)
    else:
        resume(*args)
    sys.stdout.flush()
