"""The pipeline against the real local server (a subprocess): end to end, crash/resume at every stage
boundary without duplicates (counted in the server's own database), reconciliation of a lost create,
cancel and retry, and every failure stage with the server's message (the server's fault injection)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from move_mocap.core.pipeline import (
    Cancelled,
    Failed,
    Journal,
    Progress,
    ReadyToApply,
    Stage,
    StageChanged,
    State,
)
from tests.pipeline.helpers import counts, make_pipeline, orphan_files, server_objects, spec_for

ROOT = Path(__file__).resolve().parents[2]


def _finish(pipeline, sid, timeout=240):
    events = []
    row = pipeline.wait(sid, timeout=timeout, on_event=events.append)
    return row, events


def test_single_camera_end_to_end(local_server, demo_video, tmp_path) -> None:
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video, name="demo walk"))
    row, events = _finish(pipeline, sid)
    assert row.state is State.READY and row.stage is Stage.DOWNLOADED, (row.error_message, row.error_hint)
    stages = [e.stage for e in events if isinstance(e, StageChanged)]
    assert stages == ["files", "uploaded", "take", "job", "processed", "downloaded"]
    uploads = [e for e in events if isinstance(e, Progress) and e.stage == "upload"]
    assert uploads and uploads[-1].bytes_done == demo_video.stat().st_size
    assert any(e.text.startswith("Uploading ") and "/s" in e.text for e in uploads)
    ready = [e for e in events if isinstance(e, ReadyToApply)]
    assert len(ready) == 1 and ready[0].job_id == row.job_id
    path = Path(ready[0].files["MOTION_DATA"])
    data = json.loads(path.read_text())
    # the same joints as Move's real MOTION_DATA sample
    reference = json.loads((ROOT.parent / "shared" / "move_api" / "motion_data_excerpt.json").read_text())
    assert set(data["mocap_data"][0]["joint_data"]) == set(reference["mocap_data"][0]["joint_data"])
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}
    # the server has the uploaded bytes, byte for byte
    (f,) = server_objects(local_server, sid)["file"]
    stored = local_server.data_dir / "files" / f["path"]
    assert stored.stat().st_size == demo_video.stat().st_size
    pipeline.record_applied(sid, "Armature", "Armature|move")
    assert Journal(tmp_path / "journal.sqlite3").require(sid).state is State.DONE


def test_multi_camera_volume_take_job(local_server, pose2sim_single, tmp_path) -> None:
    from move_mocap.core.pipeline import SubmissionSpec
    from move_mocap.core.pipeline.model import Footage

    videos = sorted((pose2sim_single / "videos").glob("cam0*.mp4"))[:2]
    spec = SubmissionSpec(footage=tuple(Footage(str(v), v.stem, "iphone") for v in videos), multi_camera=True,
                          model="M1", number_of_actors=1, outputs=("MOTION_DATA",), clip_window=(0.0, 1.0))
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec)
    row, events = _finish(pipeline, sid)
    assert row.state is State.READY, row.error_message
    assert [e.stage for e in events if isinstance(e, StageChanged)] == [
        "files", "uploaded", "volume", "take", "job", "processed", "downloaded"]
    objs = server_objects(local_server, sid)
    assert (len(objs["file"]), len(objs["volume"]), len(objs["take"]), len(objs["job"])) == (2, 1, 1, 1)
    (take,) = objs["take"]
    assert take["takeType"] == "MULTI_CAM" and take["volumeId"] == row.volume_id
    assert [s["deviceLabel"] for s in take["sources"]] == [v.stem for v in videos]


CRASH_POINTS = ["file:take:0", "files", "uploaded", "before:take", "created:take", "take", "before:job",
                "created:job", "job", "processed", "downloaded:MOTION_DATA", "downloaded"]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_at_every_boundary_resumes_without_duplicates(local_server, demo_video, tmp_path, point) -> None:
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(spec_for(demo_video).to_json())
    journal = tmp_path / "journal.sqlite3"
    env = {**os.environ, "MOVE_TEST_KEY": local_server.api_key,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "tests.pipeline.crash_run", str(journal), local_server.url,
           str(tmp_path / "downloads")]
    first = subprocess.run([*cmd, str(spec_path), point], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 17, first.stdout + first.stderr
    sid = first.stdout.split()[1]
    # unfinished network work stays active (resumed at start-up); downloaded outputs wait to be applied
    expected = State.READY if point == "downloaded" else State.ACTIVE
    assert Journal(journal).require(sid).state is expected
    second = subprocess.run([*cmd, sid], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"END {sid} ready downloaded" in second.stdout, second.stdout + second.stderr
    # Lost before its id was journaled, a file is created again (no listFiles upstream); never a take or job.
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}
    # No upload URL is journaled: a file created but not uploaded before the crash is replaced, and the
    # journal names the abandoned record (exactly the server's never-uploaded records of this submission).
    noted = {o for f in Journal(journal).files(sid) for o in f.orphans}
    assert noted == orphan_files(local_server, sid)
    assert bool(noted) == (point in ("file:take:0", "files"))
    row = Journal(journal).require(sid)
    assert Path(row.outputs["MOTION_DATA"]).is_file()


def test_lost_create_answer_is_reconciled_not_repeated(local_server, demo_video, tmp_path) -> None:
    """createSingleCamTake answered 503 (outcome unknown): the pipeline looks the tag up before creating."""
    local_server.set_faults([{"route": "graphql", "kind": "status", "status": 503, "count": 1,
                              "operation": "createSingleCamTake"}])
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row, _ = _finish(pipeline, sid)
    assert row.state is State.READY, row.error_message
    assert local_server.fault_report()["faults"][0]["hits"] == 1
    assert counts(local_server, sid)["take"] == 1 and counts(local_server, sid)["job"] == 1


def test_cancel_keeps_ids_and_retry_resumes(local_server, demo_video, tmp_path) -> None:
    # slow processing: getJob takes a while, so the cancel lands while the job is being polled
    pipeline = make_pipeline(local_server, tmp_path)
    local_server.set_faults([{"route": "graphql", "kind": "slow", "delay": 0.3, "count": -1,
                              "operation": "getJob"}])
    sid = pipeline.submit(spec_for(demo_video))
    deadline = time.monotonic() + 60
    while Journal(tmp_path / "journal.sqlite3").require(sid).stage.order < Stage.JOB.order:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert pipeline.cancel(sid)
    row, events = _finish(pipeline, sid)
    assert row.state is State.CANCELLED and row.job_id and row.take_id
    assert any(isinstance(e, Cancelled) for e in events)
    local_server.clear_faults()
    assert pipeline.retry(sid)
    row, _ = _finish(pipeline, sid)
    assert row.state is State.READY
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}


def _failed(events):
    fails = [e for e in events if isinstance(e, Failed)]
    assert len(fails) == 1, events
    return fails[0]


def test_upload_failure_then_retry(local_server, demo_video, tmp_path) -> None:
    local_server.set_faults([{"route": "upload", "kind": "status", "status": 500, "count": 3}])
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row, events = _finish(pipeline, sid)
    fail = _failed(events)
    assert (fail.kind, fail.stage) == ("upload", "uploaded") and row.state is State.FAILED
    assert "500" in fail.message and "Retry" in fail.hint
    assert row.error_kind == "upload" and row.take_id is None
    assert pipeline.retry(sid)
    row, _ = _finish(pipeline, sid)
    assert row.state is State.READY
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}


def test_validation_failure_carries_the_servers_message(local_server, demo_video, tmp_path) -> None:
    pipeline = make_pipeline(local_server, tmp_path)
    # an output this server cannot produce: createSingleCamJob refuses it with its own message
    sid = pipeline.submit(spec_for(demo_video, outputs=("RENDER_VIDEO",)))
    row, events = _finish(pipeline, sid)
    fail = _failed(events)
    assert (fail.kind, fail.stage) == ("validation", "job")
    assert "Outputs not produced by this server: RENDER_VIDEO" in fail.message
    assert row.take_id and row.job_id is None


def test_processing_failure_then_retry_makes_a_new_job_on_the_same_take(local_server, demo_video, tmp_path) -> None:
    local_server.set_faults([{"kind": "fail_job", "message": "No person could be seen in the footage"}])
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row, events = _finish(pipeline, sid)
    fail = _failed(events)
    assert (fail.kind, fail.stage) == ("processing", "processed")
    assert "No person could be seen in the footage" in fail.message
    failed_job = row.job_id
    assert pipeline.retry(sid)
    row, _ = _finish(pipeline, sid)
    assert row.state is State.READY and row.job_id != failed_job
    objs = server_objects(local_server, sid)
    assert len(objs["take"]) == 1 and len(objs["job"]) == 2 and len(objs["file"]) == 1


def test_download_failure_then_retry(local_server, demo_video, tmp_path) -> None:
    local_server.set_faults([{"route": "download", "kind": "status", "status": 500, "count": -1}])
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row, events = _finish(pipeline, sid)
    fail = _failed(events)
    assert (fail.kind, fail.stage) == ("download", "downloaded")
    local_server.clear_faults()
    assert pipeline.retry(sid)
    row, _ = _finish(pipeline, sid)
    assert row.state is State.READY and Path(row.outputs["MOTION_DATA"]).is_file()
    assert counts(local_server, sid)["job"] == 1


def test_rate_limited_polls_are_waited_out(local_server, demo_video, tmp_path) -> None:
    local_server.set_faults([{"route": "graphql", "kind": "rate_limit", "retry_after": 0.2, "count": 6,
                              "operation": "getJob"}])
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row, _ = _finish(pipeline, sid)
    assert row.state is State.READY, row.error_message


def test_history_and_adopting_a_finished_job(local_server, demo_video, tmp_path) -> None:
    from move_mocap.core.pipeline import HistoryLoaded

    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row, _ = _finish(pipeline, sid)
    pipeline.load_history().join(30)
    (hist,) = [e for e in pipeline.drain() if isinstance(e, HistoryLoaded)]
    assert not hist.error
    assert [(j["id"], j["state"], j["submission"]) for j in hist.jobs] == [(row.job_id, "FINISHED", sid)]
    other = make_pipeline(local_server, tmp_path / "elsewhere")
    adopted = other.adopt_job(row.job_id, target="Rig")
    arow, events = _finish(other, adopted)
    assert arow.state is State.READY and arow.job_id == row.job_id
    (ready,) = [e for e in events if isinstance(e, ReadyToApply)]
    assert ready.target == "Rig" and Path(ready.files["MOTION_DATA"]).read_bytes() == \
        Path(row.outputs["MOTION_DATA"]).read_bytes()


def test_share_code_download(local_server, demo_video, tmp_path) -> None:
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row, _ = _finish(pipeline, sid)
    (out,) = [o for o in local_server.graphql(
        'query($j: ID!) { getJob(jobId: $j) { outputs { key file { id } } } }',
        {"j": row.job_id})["data"]["getJob"]["outputs"]]
    code = local_server.graphql('mutation($f: String!) { generateShareCode(fileId: $f) { code } }',
                                {"f": out["file"]["id"]})["data"]["generateShareCode"]["code"]
    share = pipeline.import_share_code(code, target="Rig")
    srow, events = _finish(pipeline, share)
    assert srow.state is State.READY, srow.error_message
    path = Path(srow.outputs["SHARED"])
    assert path.suffix == ".json" and path.read_bytes() == Path(row.outputs["MOTION_DATA"]).read_bytes()
    assert code not in srow.spec.to_json()
    bad = pipeline.import_share_code("00000000")
    brow, events = _finish(pipeline, bad)
    assert brow.state is State.FAILED and _failed(events).kind == "download"
