"""``process --person N`` as a pipeline TD runs it (scripts/mocap.py in a subprocess, the real local server):
``status`` lists the people an earlier job saw and says how to capture another; ``--person`` makes one new job
on that job's take (counted in the server's own database: no new upload, no new take), the same request again
makes none, and a person the job did not list is refused naming the problem.

The first job's people are the local engine's shape, kept beside its outputs as the pipeline keeps them (the
replay solver sees nobody, as Move's cloud lists no one; the mediapipe engine honouring the request on real
footage is tests/workflow/test_actors.py's)."""

from __future__ import annotations

from pathlib import Path

from tests.headless.test_mocap_script import env, fast, report, run, server_counts  # noqa: F401 (env: fixture)


def _seen(person: int, frames: int, best: int) -> dict:
    return {"person": person, "frames_visible": frames, "seconds_visible": frames / 30, "fraction_visible": 0.5,
            "first_frame": 0, "last_frame": frames - 1, "best_frame": best, "best_time_s": best / 30}


def _lists_two_people(tmp_path: Path, sid: str) -> None:
    """The result of ``sid`` says it saw two people and captured the first (as the mediapipe solver's
    metadata would; the replay solver these tests run lists nobody)."""
    from move_mocap.core import people
    from move_mocap.core.pipeline import Journal

    journal = Journal(tmp_path / "user" / "journal.sqlite3")
    try:
        folder = Path(next(iter(journal.require(sid).outputs.values()))).parent
    finally:
        journal.close()
    people.save(people.parse({"people": {"captured": 1, "seen": [_seen(1, 45, 10), _seen(2, 30, 20)]}}), folder)


def test_process_person_is_a_new_job_on_the_same_take(tmp_path: Path, local_server, env,  # noqa: F811
                                                     demo_video) -> None:

    args = ["process", str(demo_video), *fast(local_server), "--no-apply"]
    first = run([*args, "--report", str(tmp_path / "r1.json")], env, tmp_path)
    assert first.returncode == 0, first.stderr
    item = report(tmp_path / "r1.json")["items"][0]
    sid = item["submission_id"]
    assert server_counts(local_server) == {"file": 1, "take": 1, "job": 1}
    # the replay solver lists nobody: status shows no people, --person is refused (nothing to choose from)
    refused = run([*args, "--person", "2"], env, tmp_path)
    assert refused.returncode != 0 and "lists no people" in refused.stderr, refused.stderr
    _lists_two_people(tmp_path, sid)

    status = run(["status", sid, "--endpoint", local_server.url], env, tmp_path)
    assert status.returncode == 0, status.stderr
    assert "people found: 2 (1 captured)" in status.stdout and "person 2: seen, not captured" in status.stdout
    assert "--person N" in status.stdout

    second = run([*args, "--person", "2", "--report", str(tmp_path / "r2.json")], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert server_counts(local_server) == {"file": 1, "take": 1, "job": 2}  # one new job, nothing uploaded
    again = run([*args, "--person", "2"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert server_counts(local_server) == {"file": 1, "take": 1, "job": 2}  # the same person: no second job
    other = run([*args, "--person", "3"], env, tmp_path)
    assert other.returncode != 0 and "person 3 is not among the people" in other.stderr, other.stderr
    assert server_counts(local_server) == {"file": 1, "take": 1, "job": 2}
    usage = run([*args, "--person", "2", "--cameras", str(demo_video), str(demo_video)], env, tmp_path)
    assert usage.returncode == 2 and "single camera only" in usage.stderr


def test_process_person_before_the_main_job_is_one_job_per_person(tmp_path: Path, local_server, env,  # noqa: F811
                                                                  demo_video) -> None:
    """``process v --person 2`` with nothing processed yet, then ``process v``, then ``process v --person 2``:
    the last one is the first request (one job for person 2), not a new job on the second command's take."""

    args = ["process", str(demo_video), *fast(local_server), "--no-apply"]
    asked = run([*args, "--person", "2", "--report", str(tmp_path / "r1.json")], env, tmp_path)
    assert asked.returncode == 0, asked.stderr
    asked_sid = report(tmp_path / "r1.json")["items"][0]["submission_id"]
    assert server_counts(local_server) == {"file": 1, "take": 1, "job": 1}
    main = run([*args, "--report", str(tmp_path / "r2.json")], env, tmp_path)
    assert main.returncode == 0, main.stderr
    sid = report(tmp_path / "r2.json")["items"][0]["submission_id"]
    assert sid != asked_sid and server_counts(local_server) == {"file": 2, "take": 2, "job": 2}
    _lists_two_people(tmp_path, sid)

    again = run([*args, "--person", "2", "--report", str(tmp_path / "r3.json")], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert report(tmp_path / "r3.json")["items"][0]["submission_id"] == asked_sid
    assert server_counts(local_server) == {"file": 2, "take": 2, "job": 2}  # no second job for person 2
