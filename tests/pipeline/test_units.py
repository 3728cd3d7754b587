"""Journal durability, spec validation, polling backoff and failure classification (no server, no bpy)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from move_mocap.core.api.errors import (
    AuthError,
    MoveValidationError,
    NetworkError,
    OutcomeUnknownError,
)
from move_mocap.core.pipeline import (
    Journal,
    Pipeline,
    PipelineConfig,
    PollSchedule,
    Stage,
    State,
    SubmissionSpec,
)
from move_mocap.core.pipeline.failures import ErrorKind, classify
from move_mocap.core.pipeline.model import Footage, submission_key
from tests.fixtures.fake_video import write_mp4_shell

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_mp4_shell(tmp_path / "clip.mp4")


def test_spec_round_trips_and_validates(video: Path, tmp_path: Path) -> None:
    spec = SubmissionSpec(footage=(Footage(str(video), "front", "iphone13"),), clip_window=(1.0, 3.5),
                          outputs=("MAIN_FBX", "MOTION_DATA"), track_fingers=True, name="walk")
    assert spec.validate() is None
    assert SubmissionSpec.from_json(spec.to_json()) == spec
    assert "Multi-Camera" in (SubmissionSpec(footage=(Footage(str(video)),) * 2).validate() or "")
    assert "not a single" in (SubmissionSpec(footage=(Footage(str(video)),), model="M1").validate() or "")
    assert "end after" in (SubmissionSpec(footage=(Footage(str(video)),), clip_window=(3, 1)).validate() or "")
    other = write_mp4_shell(tmp_path / "b.mp4", 1)
    multi = SubmissionSpec(footage=(Footage(str(video)), Footage(str(other))), multi_camera=True, model="M2")
    assert multi.validate() is None
    assert "own device label" in (SubmissionSpec(footage=(Footage(str(video), "a"), Footage(str(other), "a")),
                                                 multi_camera=True, model="M1").validate() or "")
    assert "not found" in (SubmissionSpec(footage=(Footage(str(tmp_path / "nope.mp4")),)).validate() or "")
    assert "not a format Move accepts" in (SubmissionSpec(footage=(Footage(str(tmp_path / "x.txt")),)).validate() or "")


def test_multi_camera_volume_reuse_and_sync_in_the_spec(video: Path, tmp_path: Path) -> None:
    other = write_mp4_shell(tmp_path / "b.mp4", 1)
    cams = (Footage(str(video)), Footage(str(other)))
    plain = SubmissionSpec(footage=cams, multi_camera=True, model="M2")
    clap = SubmissionSpec(footage=cams, multi_camera=True, model="M2", sync_window=(0.5, 2.0))
    reuse = SubmissionSpec(footage=cams, multi_camera=True, model="M2", volume_id="vol-123")
    assert clap.validate() is None and reuse.validate() is None
    assert SubmissionSpec.from_json(clap.to_json()) == clap  # the window comes back a tuple
    # what the API is sent: SyncMethodInput's own shape (the client's model checks it as well)
    assert clap.sync_input() == {"clap_window": {"start_time": 0.5, "end_time": 2.0}}
    assert plain.sync_input() is None
    assert SubmissionSpec(footage=cams, multi_camera=True, model="M2", sync_timecode=True).sync_input() == {
        "timecode_sync": {"use_timecode": True}}
    from move_mocap.core.api.models import SyncMethodInput

    assert SyncMethodInput.model_validate(clap.sync_input()).to_variables() == {
        "clapWindow": {"startTime": 0.5, "endTime": 2.0}}
    # another volume or sync is another job; a spec without them keeps the key it had before they existed
    keys = {submission_key(s) for s in (plain, clap, reuse)}
    assert len(keys) == 3
    import json

    old_json = json.loads(plain.to_json())
    for name in ("volume_id", "sync_window", "sync_timecode"):
        old_json.pop(name)
    assert submission_key(SubmissionSpec.from_json(json.dumps(old_json))) == submission_key(plain)
    bad = {
        "end after it starts": dict(sync_window=(2.0, 1.0)),
        "on the timecode, not both": dict(sync_window=(0.0, 1.0), sync_timecode=True),
        "calibration footage, not both": dict(volume_id="vol-1", calibration=cams),
        "Not a volume id": dict(volume_id="../x"),
    }
    for message, fields in bad.items():
        problem = SubmissionSpec(footage=cams, multi_camera=True, model="M2", **fields).validate() or ""
        assert message in problem, (fields, problem)
    single = SubmissionSpec(footage=cams[:1], volume_id="vol-1").validate() or ""
    assert "belong to multi-camera" in single
    assert "belong to multi-camera" in (SubmissionSpec(footage=cams[:1], number_of_actors=2).validate() or "")


def test_journal_survives_a_killed_process(video: Path, tmp_path: Path) -> None:
    """Ids written by a process that is then killed (no close, no atexit) are there for the next one."""
    path = tmp_path / "j.sqlite3"
    spec = SubmissionSpec(footage=(Footage(str(video)),))
    code = (
        "import os, sys\n"
        "from move_mocap.core.pipeline import Journal, SubmissionSpec, Stage\n"
        f"j = Journal({str(path)!r})\n"
        f"sid = j.create(SubmissionSpec.from_json({spec.to_json()!r}), endpoint='http://x', output_dir='/tmp')\n"
        "j.set_file(sid, 'take', 0, 'file-0')\n"
        "j.set_file(sid, 'take', 0, 'file-1')\n"
        "j.set_stage(sid, Stage.FILES)\n"
        "j.mark_pending(sid, 'take')\n"
        "print(sid, flush=True)\n"
        "os._exit(9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    sid = proc.stdout.strip()
    j = Journal(path)
    row = j.require(sid)
    assert row.stage is Stage.FILES and row.state is State.ACTIVE and row.take_pending and row.take_id is None
    (f,) = j.files(sid)
    assert f.file_id == "file-1" and not f.uploaded
    assert f.orphans == ("file-0",)  # replaced before any upload: noted, not forgotten
    j.mark_uploaded(sid, "take", 0)
    (f,) = j.files(sid)
    assert f.uploaded and f.orphans == ("file-0",)
    assert [r.id for r in j.unfinished()] == [sid]


def test_journal_is_safe_across_threads(video: Path, tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    spec = SubmissionSpec(footage=(Footage(str(video)),))
    sids: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            sid = j.create(spec, endpoint="e", output_dir="o")
            j.set_percent(sid, 50)
            j.set_stage(sid, Stage.TAKE, take_id=f"take-{sid}")
            with lock:
                sids.append(sid)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = {r.id: r for r in Journal(tmp_path / "j.sqlite3").all()}
    assert len(rows) == 80 == len(sids)
    assert all(rows[s].take_id == f"take-{s}" and rows[s].percent == 50 for s in sids)


def test_journal_never_holds_the_api_key(video: Path, tmp_path: Path) -> None:
    key = "mk_live_SECRET_0123456789"
    j = Journal(tmp_path / "j.sqlite3")
    config = PipelineConfig(endpoint="https://api.move.ai/ugc/graphql", download_dir=tmp_path, secrets=(key,))
    assert key not in repr(config)
    pipeline = Pipeline(j, lambda **kw: None, config)  # type: ignore[arg-type,return-value]
    sid = pipeline.submit(SubmissionSpec(footage=(Footage(str(video)),)), start=False)
    pipeline.record_apply_failed(sid, str(AuthError(f"refused key {key}")))
    (event,) = pipeline.drain()
    assert key not in repr(event) and "refused key" in event.message  # type: ignore[attr-defined]
    j.close()
    for p in tmp_path.glob("j.sqlite3*"):
        assert key.encode() not in p.read_bytes()


def test_poll_schedule_backs_off_resets_and_honours_retry_after() -> None:
    s = PollSchedule(initial=1.0, factor=2.0, maximum=8.0, after_progress=2.0)
    assert [s.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    s.progressed()
    assert s.next_delay() == 2.0
    s.retry_after(5)
    assert s.next_delay() == 5.0
    assert s.next_delay() == 8.0  # the floor applies to one wait only (the interval went on growing)
    s.retry_after(30)
    assert s.next_delay() == 8.0  # a server's Retry-After never parks the poller beyond its longest interval
    s.retry_after(float("nan"))
    s.reset()
    assert s.next_delay() == 1.0


def test_failures_name_the_stage_and_keep_the_servers_message() -> None:
    f = classify(Stage.JOB, MoveValidationError("x", server_message="clipWindow.endTime is after the footage"))
    assert f.kind is ErrorKind.VALIDATION and "clipWindow.endTime is after the footage" in f.message
    assert classify(Stage.UPLOADED, NetworkError("reset")).kind is ErrorKind.UPLOAD
    assert classify(Stage.DOWNLOADED, NetworkError("reset")).kind is ErrorKind.DOWNLOAD
    assert "does not create a duplicate" in classify(Stage.TAKE, OutcomeUnknownError("lost")).hint
    assert "API key" in classify(Stage.PROCESSED, AuthError("refused")).hint
