"""A create whose answer comes after the client's timeout is reconciled, never repeated: against the real
local server (its ``slow`` fault holds createSingleCamJob, then creates the job), counted in the server's own
database. Scaled down from the report (server 12 s late, client timeout 4 s) to 3 s late and a 0.5 s timeout.
"""

from __future__ import annotations

import time
from dataclasses import replace

from move_mocap.core.api.client import MoveClient
from move_mocap.core.api.errors import NetworkError
from move_mocap.core.pipeline import Journal, Pipeline, Stage, State
from move_mocap.core.pipeline.events import Notice, Progress
from move_mocap.core.pipeline.reconcile import ReconcilePolicy, Search, reconcile
from tests.pipeline.helpers import FAST_RETRY, counts, fast_config, spec_for

LATE = 3.0
READ_TIMEOUT = 0.5


def _late_job_faults(server) -> None:
    server.set_faults([{"route": "graphql", "kind": "slow", "delay": LATE, "count": 1,
                        "operation": "createSingleCamJob"}])


def _pipeline(server, tmp, *, settle: float) -> Pipeline:
    def make(sleep=None) -> MoveClient:
        return MoveClient(server.api_key, endpoint=server.url, timeout=(5.0, READ_TIMEOUT), retry=FAST_RETRY,
                          **({"sleep": sleep} if sleep else {}))

    config = replace(fast_config(server.url, tmp / "downloads"), reconcile_settle=settle)
    return Pipeline(Journal(tmp / "journal.sqlite3"), make, config)


def test_create_answered_after_the_timeout_makes_exactly_one_job(local_server, demo_video, tmp_path) -> None:
    _late_job_faults(local_server)
    # settle 5 s: longer than the server's delay, as the 120 s default is longer than any sane server's.
    pipeline = _pipeline(local_server, tmp_path, settle=5.0)
    sid = pipeline.submit(spec_for(demo_video))
    events: list = []
    row = pipeline.wait(sid, timeout=120, on_event=events.append)
    assert row.state is State.READY, row.error_message
    assert local_server.fault_report()["faults"][0]["hits"] == 1  # the create really was answered late
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}
    texts = [e.text for e in events if isinstance(e, Notice | Progress)]
    assert any("not creating another" in t for t in texts), texts


def test_restart_during_reconciliation_resumes_it_and_does_not_create(local_server, demo_video, tmp_path) -> None:
    _late_job_faults(local_server)
    first = _pipeline(local_server, tmp_path, settle=30.0)
    sid = first.submit(spec_for(demo_video))
    journal = Journal(tmp_path / "journal.sqlite3")
    deadline = time.monotonic() + 60
    searching = False
    while not searching:  # wait until the create was lost and the worker is searching
        assert time.monotonic() < deadline, "the worker never started reconciling"
        for e in first.drain(wait=0.05):
            searching = searching or (isinstance(e, Progress) and e.stage == "job" and "Looking for" in e.text)
    first.shutdown()  # Blender closing mid-reconciliation: the journal keeps "job create outcome unknown"
    row = journal.require(sid)
    assert row.state is State.ACTIVE and row.job_pending and not row.job_id and row.stage is Stage.TAKE
    assert counts(local_server, sid)["job"] == 0  # the server has not created it yet (still 3 s late)

    second = _pipeline(local_server, tmp_path, settle=30.0)
    assert second.resume_unfinished() == [sid]
    row = second.wait(sid, timeout=120)
    assert row.state is State.READY, row.error_message
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}


def test_create_anyway_sends_the_create_again_without_searching(local_server, demo_video, tmp_path) -> None:
    """The user's explicit override (the UI and CLI warn that it may start a second, paid job): the create
    answered 503 (the server did not make it), the worker searches (settle 30 s), Retry with create_anyway
    creates at once."""
    local_server.set_faults([{"route": "graphql", "kind": "status", "status": 503, "count": 1,
                              "operation": "createSingleCamJob"}])
    pipeline = _pipeline(local_server, tmp_path, settle=30.0)
    sid = pipeline.submit(spec_for(demo_video))
    deadline = time.monotonic() + 60
    searching = False
    while not searching:
        assert time.monotonic() < deadline, "the worker never started reconciling"
        for e in pipeline.drain(wait=0.05):
            searching = searching or (isinstance(e, Progress) and e.stage == "job" and "Looking for" in e.text)
    assert pipeline.cancel(sid)
    assert pipeline.wait(sid, timeout=30).state is State.CANCELLED
    assert Journal(tmp_path / "journal.sqlite3").require(sid).job_pending
    started = time.monotonic()
    assert pipeline.retry(sid, create_anyway=True)
    events: list = []
    row = pipeline.wait(sid, timeout=120, on_event=events.append)
    assert row.state is State.READY, row.error_message
    assert time.monotonic() - started < 30.0  # did not wait out the settle period
    assert any(isinstance(e, Notice) and "again as asked" in e.text for e in events)
    assert counts(local_server, sid)["job"] == 1


def test_absence_is_proven_only_by_complete_searches_after_settling() -> None:
    """The policy alone: failed, truncated and early searches prove nothing."""
    now = [0.0]
    answers = [NetworkError("dropped"), Search([], complete=True),  # before settling: prove nothing
               Search([], complete=True), Search([], complete=False),  # a truncated listing resets the count
               Search([], complete=True), Search([], complete=True)]
    calls: list[float] = []

    def search() -> Search:
        calls.append(now[0])
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sleep(s: float) -> None:
        now[0] += s

    policy = ReconcilePolicy(initial=1.0, factor=2.0, maximum=4.0, settle=3.0, confirmations=2)
    assert reconcile(search, policy, sleep=sleep, clock=lambda: now[0]) is None
    assert not answers  # every search was needed
    assert calls == [0.0, 1.0, 3.0, 7.0, 11.0, 15.0]  # backoff 1, 2, 4 (capped), cut to reach settle at 3
    found = reconcile(lambda: Search(["job"], complete=False), policy, sleep=sleep, clock=lambda: now[0])
    assert found == "job"
