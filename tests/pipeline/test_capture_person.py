"""Capturing another person of a single-camera result: a new job on the same take (nothing uploaded again, no
second take) asking for that person in the job's free-JSON metadata, a different submission key per person so
the same person asked twice never makes a second job, requests for people the job did not list refused, and a
server that ignores the request (Move's cloud; here the replay solver, which lists no people) reported.

Against the real local server; the first job's people are the local engine's shape, kept beside its outputs as
the pipeline keeps them (the replay solver sees nobody). The mediapipe engine honouring the request on real
footage is tests/workflow/test_actors.py's."""

from __future__ import annotations

import pytest

from move_mocap.core import people
from move_mocap.core.pipeline import Notice, ReadyToApply, State
from move_mocap.core.pipeline.model import submission_key
from tests.pipeline.helpers import make_pipeline, server_objects, spec_for


def _seen(person: int, frames: int, best: int) -> dict:
    return {"person": person, "frames_visible": frames, "seconds_visible": frames / 30, "fraction_visible": 0.5,
            "first_frame": 0, "last_frame": frames - 1, "best_frame": best, "best_time_s": best / 30,
            "best_box_px": [100.0, 50.0, 300.0, 600.0]}


def _all_jobs(server) -> list[dict]:
    import json
    import sqlite3

    db = sqlite3.connect(f"file:{server.data_dir / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT data FROM objects WHERE kind='job'").fetchall()
    finally:
        db.close()
    return [json.loads(r[0]) for r in rows]


def test_another_person_is_a_new_job_on_the_same_take(local_server, demo_video, tmp_path) -> None:
    pipeline = make_pipeline(local_server, tmp_path)
    first = pipeline.submit(spec_for(demo_video, name="demo"))
    row = pipeline.wait(first, timeout=240)
    assert row.state is State.READY, (row.error_message, row.error_hint)
    # the replay solver lists nobody, as Move's cloud: there is no one else to offer
    with pytest.raises(ValueError, match="lists no people"):
        pipeline.capture_person(first, 2)
    out_dir = next(iter(row.outputs.values()))
    from pathlib import Path

    people.save(people.parse({"people": {"captured": 1, "seen": [_seen(1, 90, 10), _seen(2, 60, 40)]}}),
                Path(out_dir).parent)
    with pytest.raises(ValueError, match="person 3 is not among"):
        pipeline.capture_person(first, 3)
    with pytest.raises(ValueError, match="already the one"):
        pipeline.capture_person(first, 1)

    jobs_before = len(_all_jobs(local_server))
    sid, created = pipeline.capture_person(first, 2)
    assert created and sid != first
    events: list = []
    other = pipeline.wait(sid, timeout=240, on_event=events.append)
    assert other.state is State.READY, (other.error_message, other.error_hint)
    assert other.take_id == row.take_id and other.job_id != row.job_id
    assert other.spec.person == 2 and other.title == "demo person 2"
    # nothing uploaded again, no second take: one new job, on the first take, asking for person 2
    mine = server_objects(local_server, sid)
    assert (len(mine["file"]), len(mine["take"]), len(mine["job"])) == (0, 0, 1)
    (job,) = mine["job"]
    assert job["takeId"] == row.take_id and job["metadata"]["person"] == 2
    assert len(_all_jobs(local_server)) == jobs_before + 1
    # the server did not say it captured person 2 (the replay solver ignores the request, as Move's cloud would)
    warned = [e.text for e in events if isinstance(e, Notice) and e.level == "WARNING"]
    assert any("asked for person 2" in t and "lists no people" in t for t in warned), warned
    assert any(isinstance(e, ReadyToApply) for e in events)

    # the same person again: the same submission, no new job; another person has another key
    again, created = pipeline.capture_person(first, 2)
    assert (again, created) == (sid, False)
    assert len(_all_jobs(local_server)) == jobs_before + 1
    assert submission_key(other.spec) != submission_key(row.spec)
    from dataclasses import replace

    assert submission_key(replace(other.spec, person=3)) != submission_key(other.spec)
    # the take is the key of a job on it: the video moved or edited here since makes no second job
    moved = replace(other.spec, footage=(replace(other.spec.footage[0], path=str(tmp_path / "moved.mp4")),))
    assert submission_key(moved) == submission_key(other.spec)


def test_person_and_take_checked_before_anything_is_sent(demo_video) -> None:
    from dataclasses import replace

    spec = spec_for(demo_video)
    assert replace(spec, person=2).validate() is None
    assert "number from 1 to" in (replace(spec, person=-1).validate() or "")
    assert "number from 1 to" in (replace(spec, person=people.MAX_PEOPLE + 1).validate() or "")
    assert "Not a take id" in (replace(spec, take_id="../../etc").validate() or "")
    multi = replace(spec, footage=spec.footage * 2, multi_camera=True, model="M2")
    assert "single-camera" in (replace(multi, person=2).validate() or "")
    # a take already on the server: its videos need not be here any more
    gone = replace(spec, footage=(replace(spec.footage[0], path=str(demo_video) + ".moved"),), take_id="take-1")
    assert gone.validate() is None


def _people_beside(row, captured: int, seen: list[int]) -> None:
    from pathlib import Path

    found = {"people": {"captured": captured, "seen": [_seen(n, 60, 10 * n) for n in seen]}}
    people.save(people.parse(found), Path(next(iter(row.outputs.values()))).parent)


def test_a_person_asked_for_by_footage_is_not_captured_again_on_a_later_take(local_server, demo_video,
                                                                             tmp_path) -> None:
    """``process v.mp4 --person 2`` before anything of v.mp4 was processed (a submission keyed by the footage),
    then ``process v.mp4``, then Capture person 2 of that result: the earlier submission, not a second job."""
    from dataclasses import replace

    pipeline = make_pipeline(local_server, tmp_path)
    spec = spec_for(demo_video, name="demo")
    asked, created = pipeline.submit_once(replace(spec, person=2), start=True)
    assert created
    assert pipeline.wait(asked, timeout=240).state is State.READY
    root, created = pipeline.submit_once(spec, start=True)
    assert created and root != asked
    row = pipeline.wait(root, timeout=240)
    assert row.state is State.READY, (row.error_message, row.error_hint)
    _people_beside(row, 1, [1, 2])
    jobs_before = len(_all_jobs(local_server))
    assert pipeline.capture_person(root, 2) == (asked, False)
    assert len(_all_jobs(local_server)) == jobs_before  # no second job for person 2


def test_the_main_subject_asked_from_another_persons_result_is_the_first_job(local_server, demo_video,
                                                                            tmp_path) -> None:
    """Person 2's result lists person 1 as "seen, not captured"; Capture there is the first job (which
    captured person 1), not a new one."""
    pipeline = make_pipeline(local_server, tmp_path)
    root = pipeline.submit(spec_for(demo_video, name="demo"))
    row = pipeline.wait(root, timeout=240)
    assert row.state is State.READY, (row.error_message, row.error_hint)
    _people_beside(row, 1, [1, 2, 3])
    second, created = pipeline.capture_person(root, 2)
    assert created
    other = pipeline.wait(second, timeout=240)
    assert other.state is State.READY, (other.error_message, other.error_hint)
    _people_beside(other, 2, [1, 2, 3])
    jobs_before = len(_all_jobs(local_server))
    assert pipeline.capture_person(second, 1) == (root, False)
    assert len(_all_jobs(local_server)) == jobs_before
    # another person of that result is still one job on the first take, asked from either result
    third, created = pipeline.capture_person(second, 3)
    assert created and pipeline.journal.require(third).take_id == row.take_id
    assert pipeline.capture_person(root, 3) == (third, False)
    assert pipeline.wait(third, timeout=240).state is State.READY
