"""The resubmission policy (``core.pipeline.plan``) on real journal rows, without bpy: what the command line
and the panel do with a submission asked for again."""

from __future__ import annotations

from pathlib import Path

import pytest

from move_mocap.core.pipeline import Journal, Stage, State, SubmissionSpec
from move_mocap.core.pipeline.model import Footage
from move_mocap.core.pipeline.plan import Step, outputs_on_disk, plan_resubmission
from tests.fixtures.fake_video import write_mp4_shell


@pytest.fixture
def journal_row(tmp_path: Path):
    journal = Journal(tmp_path / "j.sqlite3")
    video = write_mp4_shell(tmp_path / "clip.mp4")
    sid = journal.create(SubmissionSpec(footage=(Footage(str(video)),), name="walk"), endpoint="http://x",
                         output_dir=str(tmp_path))

    def row(state: State | None = None, stage: Stage | None = None, outputs: dict[str, str] | None = None,
            applied: bool = False, job_id: str = "job-1"):
        if stage is not None:
            journal.set_stage(sid, stage, job_id=job_id)
        if outputs is not None:
            journal.set_outputs(sid, outputs)
        if state is State.FAILED:
            journal.fail(sid, Stage.UPLOADED, "upload", "reset by peer", "Retry")
        elif state is not None:
            journal.set_state(sid, state)
        if applied:
            journal.record_applied(sid, "Hero", "walk_move")
        return journal.require(sid)

    return row, tmp_path


def test_each_state_gets_its_step(journal_row) -> None:
    row, tmp = journal_row
    out = tmp / "motion_data.json"
    out.write_text("{}")
    assert plan_resubmission(row(), created=True).step is Step.START
    assert plan_resubmission(row(State.ACTIVE, Stage.JOB), created=False).step is Step.RESUME
    ready = row(State.READY, Stage.DOWNLOADED, {"MOTION_DATA": str(out)})
    assert outputs_on_disk(ready)
    assert plan_resubmission(ready, created=False).step is Step.APPLY
    done = row(applied=True)
    assert done.state is State.DONE
    assert plan_resubmission(done, created=False, applied_here=True).step is Step.SKIP
    again = plan_resubmission(done, created=False, applied_here=False)
    assert again.step is Step.APPLY and again.reapply
    out.unlink()  # the download folder was cleaned: the same job is downloaded again, never a new one
    gone = plan_resubmission(row(), created=False)
    assert not outputs_on_disk(row()) and gone.step is Step.ADOPT and gone.reapply and "job-1" in gone.message


def test_failed_is_retried_unless_told_not_to(journal_row) -> None:
    row, _tmp = journal_row
    failed = row(State.FAILED)
    assert plan_resubmission(failed, created=False).step is Step.RETRY
    left = plan_resubmission(failed, created=False, retry_failed=False)
    assert left.step is Step.LEAVE and "reset by peer" in left.message
    assert plan_resubmission(row(State.CANCELLED), created=False).step is Step.RETRY


def test_ready_without_files_is_downloaded_again(journal_row) -> None:
    row, tmp = journal_row
    ready = row(State.READY, Stage.DOWNLOADED, {"MAIN_FBX": str(tmp / "gone.fbx")})
    assert plan_resubmission(ready, created=False).step is Step.ADOPT
