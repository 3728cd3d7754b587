"""Starting and stopping the local engine from the add-on, for real (a child process on loopback)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import bpy
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prefs(addon, cmu_bvh, monkeypatch):
    from move_mocap.engine_control import engine as engine_ops
    from move_mocap.preferences import get_preferences

    monkeypatch.delenv("MOVE_API_KEY", raising=False)
    p = get_preferences()
    saved = {k: getattr(p, k) for k in ("endpoint", "engine_python", "engine_root", "engine_port",
                                        "engine_solver", "engine_motion", "backend", "engine_blender")}
    p.backend = "CLOUD"
    p.endpoint = "https://api.move.ai/ugc/graphql"
    p.engine_python = sys.executable
    p.engine_root = ""  # found next to the add-on (this checkout)
    p.engine_port = _free_port()
    p.engine_solver = "replay"
    p.engine_motion = str(cmu_bvh)
    yield p
    engine_ops.stop_engine()
    for k, v in saved.items():
        setattr(p, k, v)


def test_start_use_and_stop(prefs) -> None:
    from move_mocap.engine_control import engine as engine_ops
    from move_mocap.preferences import secret_store, settings

    assert bpy.ops.move_mocap.engine_start.poll()
    assert bpy.ops.move_mocap.engine_start() == {"FINISHED"}
    eng = engine_ops.engine()
    assert eng is not None and eng.status.running, eng.status.message
    assert eng.root == ROOT
    text, icon = engine_ops.status_line()
    assert "running" in text and eng.url in text and icon == "CHECKMARK"
    # The add-on now processes with it, with the engine's own key (kept out of its command line).
    s = settings()
    assert s.endpoint == eng.url and s.api_key_source == "local engine"
    assert s.api_key and s.api_key not in " ".join(eng.command())
    assert bpy.ops.move_mocap.check_api_key() == {"FINISHED"}
    assert requests.get(eng.url.replace("/ugc/graphql", "/_health"), timeout=5).ok
    assert not bpy.ops.move_mocap.engine_start.poll()  # already running

    assert bpy.ops.move_mocap.engine_stop() == {"FINISHED"}
    assert eng.process is not None and eng.process.poll() is not None  # the child is gone
    assert engine_ops.engine() is None
    assert secret_store().get("local_engine_key") == ""
    assert not bpy.ops.move_mocap.engine_stop.poll()
    # Still processing on this computer (Process starts the engine again); one click back to the cloud.
    assert prefs.backend == "LOCAL" and settings().api_key_source == "local engine"
    prefs.backend = "CLOUD"
    assert settings().endpoint == "https://api.move.ai/ugc/graphql"


def test_bad_settings_explain_themselves(prefs, tmp_path) -> None:
    from move_mocap.engine_control.engine import _problem

    prefs.engine_python = str(tmp_path / "no-python")
    assert not bpy.ops.move_mocap.engine_start.poll()
    assert "not an executable" in (_problem(bpy.context) or "")
    prefs.engine_python = sys.executable
    prefs.engine_root = str(tmp_path)
    assert "local_engine/" in (_problem(bpy.context) or "")
    prefs.engine_root = ""
    prefs.engine_motion = ""
    assert "motion file" in (_problem(bpy.context) or "")


def test_port_in_use_is_reported(prefs) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", prefs.engine_port))
        busy.listen(1)
        with pytest.raises(RuntimeError, match="already in use by another program"):
            bpy.ops.move_mocap.engine_start()
    from move_mocap.engine_control import engine as engine_ops

    assert engine_ops.engine() is None


def test_engine_that_dies_says_why(prefs, tmp_path) -> None:
    from move_mocap.core.engine_process import LocalEngine

    eng = LocalEngine(sys.executable, ROOT, tmp_path / "engine", port=prefs.engine_port, api_key="k",
                      solver="replay", motion=tmp_path / "missing.bvh")
    eng.start()
    status = eng.wait_ready(timeout=60)
    eng.stop()
    assert status.state == "exited", status.message
    assert "replay motion file not found" in status.message and "missing.bvh" in status.message


def test_a_second_blender_reuses_the_running_engine(prefs) -> None:
    """The engine.json lock (port, pid, key name) lets another Blender join the engine instead of starting one;
    leaving does not stop it; a stale lock is cleared."""
    from move_mocap.core.engine_process import read_lock
    from move_mocap.engine_control import engine as engine_ops
    from move_mocap.paths import user_dir

    assert engine_ops.start_engine(bpy.context, wait=True) is None
    first = engine_ops.engine()
    assert first is not None and first.owned and first.process is not None
    lock = read_lock(user_dir("engine"))
    assert lock is not None and (lock.port, lock.pid) == (first.port, first.process.pid)
    engine_ops._ENGINE.clear()  # as seen from a second Blender: nothing of its own running
    try:
        assert engine_ops.start_engine(bpy.context, wait=True) is None
        second = engine_ops.engine()
        assert second is not None and not second.owned and second.port == first.port
        assert second.health["pid"] == first.process.pid and "shared" in second.status.message
        engine_ops.stop_engine()  # the second Blender leaves: the engine keeps running
        assert first.process.poll() is None
    finally:
        first.stop()
    engine_ops.remove_lock(user_dir("engine"), None)
    from move_mocap.core.engine_process import EngineLock, live_engine, write_lock

    write_lock(user_dir("engine"), EngineLock(first.port, first.process.pid))  # the engine has gone
    found, why = live_engine(user_dir("engine"))
    assert found is None and "no longer answers" in (why or "")
    assert read_lock(user_dir("engine")) is None


def test_cancelling_a_job_leaves_the_engine_running(prefs, demo_video) -> None:
    """Cancel stops this Blender's work on the submission; the engine keeps running and the next job runs."""
    from move_mocap.capture.ops import build_spec
    from move_mocap.capture.props import scene_props
    from move_mocap.capture.runtime import RUNTIME
    from move_mocap.engine_control import engine as engine_ops

    prefs.backend = "LOCAL"
    assert engine_ops.start_engine(bpy.context, wait=True) is None
    eng = engine_ops.engine()
    assert eng is not None and eng.process is not None
    base = eng.url.replace("/ugc/graphql", "")
    requests.post(f"{base}/_faults", json={"faults": [{"route": "job", "kind": "hang_job", "delay": 3}]},
                  headers={"Authorization": eng.api_key}, timeout=5).raise_for_status()
    p = scene_props(bpy.context)
    p.footage.clear()
    p.footage.add().filepath = str(demo_video)
    pipeline = RUNTIME.get_pipeline(bpy.context)
    sid = pipeline.submit(build_spec(bpy.context))
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not getattr(pipeline.journal.get(sid), "job_id", None):
        pipeline.drain(wait=0.1)
    row = pipeline.journal.get(sid)
    assert row is not None and row.job_id, "the job was never created"
    assert bpy.ops.move_mocap.cancel(submission_id=sid) == {"FINISHED"}
    assert eng.process.poll() is None and eng.status.running
    assert requests.get(f"{base}/_health", timeout=5).json()["pid"] == eng.process.pid
    p.footage.clear()


def test_interactive_process_never_waits_for_the_engine(prefs, demo_video) -> None:
    """Process from the panel with the engine stopped: the engine is started without waiting for it (the main
    thread never blocks on its start-up); a timer submits once it answers, and the job is created."""
    import time

    from move_mocap.capture.ops import build_spec, submit_when_engine_ready
    from move_mocap.capture.props import scene_props
    from move_mocap.capture.runtime import RUNTIME
    from move_mocap.engine_control import engine as engine_ops

    prefs.backend = "LOCAL"
    p = scene_props(bpy.context)
    p.footage.clear()
    p.footage.add().filepath = str(demo_video)
    started = time.monotonic()
    assert engine_ops.start_engine(bpy.context, wait=False) is None
    returned = time.monotonic() - started
    eng = engine_ops.engine()
    assert eng is not None and eng.status.state == "starting", eng.status
    before = {row.id for row in RUNTIME.get_pipeline(bpy.context).journal.all(limit=1000)}
    tick = submit_when_engine_ready(build_spec(bpy.context))
    bpy.app.timers.unregister(tick)  # background Blender runs no timers: this test is the timer
    deadline = time.monotonic() + 60
    slices = []
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        again = tick()
        slices.append(time.monotonic() - t0)
        if again is None:
            break
        time.sleep(again)
    assert again is None, "the engine never answered"
    assert eng.status.running, eng.status
    assert RUNTIME.notice_level != "ERROR" or "local engine" not in RUNTIME.notice, RUNTIME.notice
    pipeline = RUNTIME.get_pipeline(bpy.context)
    new = [row for row in pipeline.journal.all(limit=1000) if row.id not in before]
    assert len(new) == 1, new
    # start-up and each timer tick return promptly (generous bounds: the machine is shared; figures in bench)
    assert returned < 2.0 and max(slices[:-1] or [0.0]) < 0.5, (returned, slices)
    assert bpy.ops.move_mocap.cancel(submission_id=new[0].id) == {"FINISHED"}
    p.footage.clear()
