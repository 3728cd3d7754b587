"""The operators inside Blender (bpy module) against the real local server: the blocking execute path,
the interactive path driven tick by tick, resume after a crash at stage boundaries, cancel and retry,
history and re-apply, share codes, and each failure stage with its message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.helpers import counts, spec_for
from tests.workflow.conftest import add_footage, armatures, drive

ROOT = Path(__file__).resolve().parents[2]


def _only_row(runtime):
    rows = runtime.RUNTIME.journal().all()
    assert len(rows) == 1
    return rows[0]


def test_process_execute_path_end_to_end(wired, demo_video) -> None:
    bpy, runtime, server = wired
    add_footage(bpy, demo_video)
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    row = _only_row(runtime)
    assert row.state.value == "done" and row.applied_to
    rig = bpy.data.objects[row.applied_to]
    assert rig.type == "ARMATURE" and rig.animation_data and rig.animation_data.action
    assert rig.animation_data.action.name == row.applied_action
    assert counts(server, row.id) == {"file": 1, "take": 1, "job": 1, "volume": 0}
    view = runtime.RUNTIME.views[row.id]
    assert view.text == f"Applied to {rig.name}" and view.fraction == 1.0


def test_process_onto_the_active_armature_keeps_existing_actions(wired, demo_video) -> None:
    bpy, runtime, _server = wired
    add_footage(bpy, demo_video)
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    rig = armatures(bpy)[0]
    first = rig.animation_data.action
    bpy.context.view_layer.objects.active = rig
    before = set(bpy.data.actions)
    panel = bpy.context.scene.move_mocap_retarget  # the Retarget panel's choices apply to Process too
    panel.root_motion, panel.root_rotation = "OBJECT", True
    # ... and its edited mapping, for the target's side (the source side was detected on another armature)
    from move_mocap.retarget.apply import detect_mapping

    slots = detect_mapping(rig).slots
    for slot in ("hips", "thigh.L", "shin.L"):
        item = panel.slots.add()
        item.slot, item.source_bone, item.target_bone = slot, "NotInTheResult", slots[slot]
    panel.use_mapping = True
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    rows = runtime.RUNTIME.journal().all()
    assert rows[0].applied_to == rig.name  # the active armature was the target
    assert len(armatures(bpy)) == 1
    new = set(bpy.data.actions) - before
    assert len(new) == 1 and first.name in bpy.data.actions and rig.animation_data.action in new
    from move_mocap.retarget import action_io

    keyed = {fc.data_path for fc in action_io.action_fcurves(rig.animation_data.action, rig)}
    assert {"location", "rotation_euler"} <= keyed
    assert {p.split('"')[1] for p in keyed if p.startswith("pose.bones")} == {slots[s] for s in ("hips", "thigh.L",
                                                                                                 "shin.L")}


def test_interactive_path_ticks_stay_short(wired, demo_video) -> None:
    bpy, runtime, _server = wired
    add_footage(bpy, demo_video)
    from move_mocap.capture.ops import build_spec

    seen: list[str] = []
    runtime.RUNTIME.on_event = lambda e: seen.append(getattr(e, "text", type(e).__name__))
    try:
        sid = runtime.RUNTIME.get_pipeline().submit(build_spec(bpy.context))
        runtime.RUNTIME.ensure_timer()
        slices = drive(runtime, lambda: runtime.RUNTIME.views.get(sid) is not None
                       and runtime.RUNTIME.views[sid].state in ("done", "failed"))
    finally:
        runtime.RUNTIME.on_event = None
    view = runtime.RUNTIME.views[sid]
    assert view.state == "done", view.error_message
    assert view.text.startswith("Applied to ")
    assert any(t.startswith("Uploading ") for t in seen) and any(t.startswith("Processing") for t in seen)
    hist = bpy.context.window_manager.move_mocap_history
    assert [(i.job_id, i.state) for i in hist.items] == [(view.job_id, "done")]
    assert max(slices) < 50, max(slices)  # the benchmark holds the 10 ms target; CI machines are noisy


def _crash(server, journal: Path, downloads: Path, spec_json: str, point: str) -> str:
    spec_path = journal.parent / "spec.json"
    spec_path.write_text(spec_json)
    env = {**os.environ, "MOVE_TEST_KEY": server.api_key,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "tests.pipeline.crash_run", str(journal), server.url,
                           str(downloads), str(spec_path), point], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 17, proc.stdout + proc.stderr
    return proc.stdout.split()[1]


@pytest.mark.parametrize("point", ["files", "uploaded", "created:take", "job", "processed", "downloaded"])
def test_resume_after_a_crash_on_file_load(wired, demo_video, tmp_path, point) -> None:
    bpy, runtime, server = wired
    journal = runtime.RUNTIME.journal_path()
    runtime.RUNTIME.shutdown()  # Blender "crashed": nothing of the session is left
    sid = _crash(server, journal, tmp_path / "downloads", spec_for(demo_video).to_json(), point)
    bpy.ops.wm.read_homefile(use_empty=True)  # load_post resumes, with a notice
    notice = runtime.RUNTIME.notice
    if point == "downloaded":
        assert "ready to apply" in notice
        assert bpy.ops.move_mocap.apply(submission_id=sid) == {"FINISHED"}
    else:
        assert "Resumed 1 unfinished" in notice
        drive(runtime, lambda: runtime.RUNTIME.views[sid].state in ("done", "failed", "ready"))
    row = runtime.RUNTIME.journal().require(sid)
    assert row.state.value == "done", row.error_message
    assert armatures(bpy) and armatures(bpy)[0].name == row.applied_to
    assert counts(server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}


def test_cancel_then_retry(wired, demo_video) -> None:
    bpy, runtime, server = wired
    add_footage(bpy, demo_video)
    from move_mocap.capture.ops import build_spec

    server.set_faults([{"route": "graphql", "kind": "slow", "delay": 0.3, "count": -1, "operation": "getJob"}])
    sid = runtime.RUNTIME.get_pipeline().submit(build_spec(bpy.context))
    drive(runtime, lambda: runtime.RUNTIME.views.get(sid) is not None and runtime.RUNTIME.views[sid].stage == "job")
    assert bpy.ops.move_mocap.cancel(submission_id=sid) == {"FINISHED"}
    row = runtime.RUNTIME.journal().require(sid)
    assert row.state.value == "cancelled" and row.job_id
    assert runtime.RUNTIME.views[sid].text == "Cancelled"
    server.clear_faults()
    assert bpy.ops.move_mocap.retry(submission_id=sid) == {"FINISHED"}
    row = runtime.RUNTIME.journal().require(sid)
    assert row.state.value == "done"
    assert counts(server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}


def test_history_and_reapply_onto_another_armature(wired, demo_video, tmp_path) -> None:
    bpy, runtime, _server = wired
    add_footage(bpy, demo_video)
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    row = _only_row(runtime)
    rig = bpy.data.objects[row.applied_to]
    rig.name = "Hero"
    assert bpy.ops.move_mocap.refresh_history() == {"FINISHED"}
    items = bpy.context.window_manager.move_mocap_history.items
    assert [(i.job_id, i.local, i.downloaded) for i in items] == [(row.job_id, True, True)]
    first_action = rig.animation_data.action
    # re-apply the same job onto the armature: a new action, the old one kept
    assert bpy.ops.move_mocap.apply(job_id=row.job_id, target="Hero") == {"FINISHED"}
    assert rig.animation_data.action != first_action and first_action.name in bpy.data.actions
    # a job this computer never downloaded (another machine's journal): downloaded, then applied
    runtime.RUNTIME.shutdown()
    os.environ["MOVE_MOCAP_USER_DIR"] = str(tmp_path / "other-user")
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.move_mocap.refresh_history() == {"FINISHED"}
    items = bpy.context.window_manager.move_mocap_history.items
    assert [(i.job_id, i.local, i.state) for i in items] == [(row.job_id, False, "finished")]
    assert bpy.ops.move_mocap.apply(job_id=row.job_id) == {"FINISHED"}
    assert len(armatures(bpy)) == 1
    assert bpy.ops.move_mocap.open_output_folder(job_id=row.job_id) == {"FINISHED"}
    assert bpy.ops.move_mocap.copy_job_id(job_id=row.job_id) == {"FINISHED"}
    assert bpy.context.window_manager.clipboard in (row.job_id, "")  # no clipboard in background mode


def test_share_code_import(wired, demo_video) -> None:
    bpy, runtime, server = wired
    add_footage(bpy, demo_video)
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    row = _only_row(runtime)
    job = server.graphql('query($j: ID!) { getJob(jobId: $j) { outputs { key file { id } } } }',
                         {"j": row.job_id})["data"]["getJob"]
    code = server.graphql('mutation($f: String!) { generateShareCode(fileId: $f) { code } }',
                          {"f": job["outputs"][0]["file"]["id"]})["data"]["generateShareCode"]["code"]
    bpy.context.scene.move_mocap.share_code = code
    bpy.context.view_layer.objects.active = None  # no target: a new armature
    before = len(armatures(bpy))
    assert bpy.ops.move_mocap.import_share_code() == {"FINISHED"}
    assert len(armatures(bpy)) == before + 1
    with pytest.raises(RuntimeError, match="8 digits"):
        bpy.ops.move_mocap.import_share_code(code="1234")
    with pytest.raises(RuntimeError, match="Download failed"):
        bpy.ops.move_mocap.import_share_code(code="00000000")


@pytest.mark.parametrize(("faults", "outputs", "expected"), [
    ([{"route": "upload", "kind": "status", "status": 500, "count": -1}], None, r"Upload failed: .*500"),
    ([], {"RENDER_VIDEO"}, r"Validation failed: .*Outputs not produced by this server: RENDER_VIDEO"),
    ([{"kind": "fail_job", "message": "Nobody is visible in the footage"}], None,
     r"Processing failed: .*Nobody is visible in the footage"),
    ([{"route": "download", "kind": "status", "status": 500, "count": -1}], None, r"Download failed: .*500"),
])
def test_failure_stages_report_the_message(wired, demo_video, faults, outputs, expected) -> None:
    bpy, runtime, server = wired
    add_footage(bpy, demo_video, outputs=outputs)
    if faults:
        server.set_faults(faults)
    with pytest.raises(RuntimeError, match=expected):
        bpy.ops.move_mocap.process()
    row = _only_row(runtime)
    assert row.state.value == "failed" and row.error_hint
    view = runtime.RUNTIME.views[row.id]
    assert view.error_message == row.error_message and view.state == "failed"


def test_apply_failure_and_poll_messages(wired, demo_video) -> None:
    bpy, runtime, _server = wired
    assert not bpy.ops.move_mocap.process.poll()  # no footage yet
    add_footage(bpy, demo_video)
    assert bpy.ops.move_mocap.process.poll()
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    row = _only_row(runtime)
    with pytest.raises(RuntimeError, match="no armature named 'Nope'"):
        bpy.ops.move_mocap.apply(submission_id=row.id, target="Nope")
    for p in row.outputs.values():
        Path(p).unlink()
    with pytest.raises(RuntimeError, match="no longer on disk"):
        bpy.ops.move_mocap.apply(submission_id=row.id)
    failed = runtime.RUNTIME.journal().require(row.id)
    assert failed.error_kind == "apply" and failed.state.value == "failed"


def test_a_job_that_made_only_usd_is_downloaded_and_says_why_it_is_not_applied(wired, demo_video) -> None:
    """USD is not applied (Blender's USD importer drops Move's actor names): the job downloads, and Apply says
    which outputs to ask for instead of failing inside an importer."""
    bpy, runtime, _server = wired
    add_footage(bpy, demo_video, outputs={"MAIN_USDC"})
    with pytest.raises(RuntimeError, match=r"no output of .* can be applied \(downloaded: MAIN_USDC\)"):
        bpy.ops.move_mocap.process()
    row = _only_row(runtime)
    assert Path(row.outputs["MAIN_USDC"]).read_bytes()[:8] == b"PXR-USDC"
    assert row.state.value == "failed" and row.error_kind == "apply" and "MAIN_FBX" in row.error_hint
