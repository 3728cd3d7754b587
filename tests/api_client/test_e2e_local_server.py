"""End to end: every MoveClient operation against the local engine (a real ``python -m local_engine serve``
subprocess), plus fault injection showing recovery where repeating is safe and the right typed error
where it is not."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from move_mocap.core.api import (
    AuthError,
    Job,
    JobState,
    MoveClient,
    MoveValidationError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    RetryPolicy,
    SourceInput,
    download_file,
)

from ..fixtures.local_server import DEFAULT_MOTION, LocalServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / ".cache" / "testdata" / "sports2d" / "demo.mp4"
CAMS = ROOT / ".cache" / "testdata" / "pose2sim" / "Demo_SinglePerson" / "videos"
OUTPUTS = ["MOTION_DATA", "MAIN_FBX"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    for needed in (DEFAULT_MOTION, DEMO):
        if not needed.exists():
            pytest.fail(f"test data {needed} is missing: run scripts/fetch_test_data.sh")
    srv = LocalServer(tmp_path_factory.mktemp("engine") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    server.clear_faults()
    retry = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.5, max_retry_after=5)
    with MoveClient(server.api_key, endpoint=server.url, retry=retry, timeout=(5.0, 30.0)) as c:
        yield c
    server.clear_faults()


def wait_finished(client: MoveClient, job_id: str, timeout: float = 300.0) -> tuple[Job, list[int]]:
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get_job(job_id)
        seen.append(job.percentage_complete or 0)
        if job.job_state is JobState.FAILED:
            pytest.fail(f"job {job_id} failed: {job}")
        if job.job_state is JobState.FINISHED and all(job.output_url(k) for k in OUTPUTS):
            return job, seen
        time.sleep(0.5)
    pytest.fail(f"job {job_id} did not finish in {timeout} s (progress {seen[-5:]})")


@pytest.fixture(scope="module")
def finished(server, tmp_path_factory):
    """One single-camera job run to completion on real footage: (take, job, uploaded file)."""
    retry = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.5)
    with MoveClient(server.api_key, endpoint=server.url, retry=retry) as c:
        file = c.upload_file(DEMO)
        take = c.create_single_cam_take(c.source(file.id, "cam01", DEMO.name), name="demo")
        job = c.create_single_cam_job(
            take.id, options={"mocap_model": "S2", "track_fingers": False, "floor_plane": True},
            outputs=OUTPUTS, clip_window=(0.0, 2.0), name="e2e", metadata={"move_mocap_run": "e2e-1"},
        )
        job, progress = wait_finished(c, job.id)
        return {"take": take, "job": job, "file": file, "progress": progress}


# ------------------------------------------------------------------------------------ every operation


def test_key_check(client, server):
    account = client.get_client()
    assert account.id and account.name
    with MoveClient("wrong-key", endpoint=server.url) as bad, pytest.raises(AuthError):
        bad.check_key()
    with MoveClient(None, endpoint=server.url) as none, pytest.raises(AuthError, match="No Move API key"):
        none.get_client()


def test_upload_round_trip_with_progress(client, tmp_path):
    progress: list[tuple[int, int]] = []
    file = client.upload_file(DEMO, metadata={"origin": "e2e"}, progress=lambda d, t: progress.append((d, t)))
    size = DEMO.stat().st_size
    assert progress[-1] == (size, size)
    again = client.get_file(file.id)
    assert again.id == file.id and again.metadata == {"origin": "e2e"} and again.presigned_url
    back = download_file(again.presigned_url, tmp_path / "back.mp4")
    assert back.read_bytes() == DEMO.read_bytes()


def test_single_cam_job_lifecycle(client, finished, tmp_path):
    take, job = finished["take"], finished["job"]
    assert finished["progress"] == sorted(finished["progress"])  # percentageComplete never goes back
    assert job.job_state is JobState.FINISHED and job.percentage_complete == 100
    assert job.inputs.options.mocap_model.value == "S2" and job.inputs.clip_window.end_time == 2.0
    assert job.metadata == {"move_mocap_run": "e2e-1"}

    got = client.get_take(take.id)
    assert got.take_type.value == "SINGLE_CAM" and got.sources[0].device_label == "cam01"
    assert any(t.id == take.id for t in client.iter_takes(page_size=2))
    assert client.list_takes(first=1).items

    motion = client.download_output(job.id, "motion_data", tmp_path / "out" / "motion.json")
    data = json.loads(motion.read_text())
    assert data["mocap_data"] and "joint_data" in data["mocap_data"][0]
    fbx = client.download_output(job.id, "MAIN_FBX", tmp_path / "out" / "main.fbx")
    assert fbx.read_bytes()[:18] == b"Kaydara FBX Binary"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["main.fbx", "motion.json"]

    page = client.list_jobs(first=10, take_id=take.id)
    assert [j.id for j in page.items] == [job.id]
    assert [j.id for j in client.find_jobs({"move_mocap_run": "e2e-1"}, take_id=take.id)] == [job.id]
    updated = client.update_job(job.id, name="renamed", metadata={"move_mocap_run": "e2e-1", "imported": True})
    assert updated.name == "renamed" and client.get_job(job.id).metadata["imported"] is True


def test_list_jobs_paging(client, finished):
    take = finished["take"]
    second = client.create_single_cam_job(take.id, outputs=["MOTION_DATA"], metadata={"page": 2})
    first_page = client.list_jobs(first=1, take_id=take.id)
    assert len(first_page.items) == 1 and first_page.after
    rest = client.list_jobs(first=1, after=first_page.after, take_id=take.id)
    ids = {first_page.items[0].id, *(j.id for j in rest.items)}
    assert {second.id, finished["job"].id} <= ids | {j.id for j in client.iter_jobs(take_id=take.id, page_size=1)}


def test_rigs_and_camera_settings(client):
    assert "move_mo" in [r.name for r in client.list_rigs().items]
    assert client.list_camera_settings().items[0].lens


def test_volume_multicam_take_and_job(client):
    cams = sorted(CAMS.glob("cam0*.mp4"))[:2]
    if len(cams) < 2:
        pytest.fail(f"test data {CAMS} is missing: run scripts/fetch_test_data.sh")
    files = [client.upload_file(p) for p in cams]
    sources = [client.source(f.id, f"cam{i + 1:02d}", p.name) for i, (f, p) in enumerate(zip(files, cams))]
    volume = client.create_volume_with_human(sources, human_height=1.75, area_type="NORMAL", clip_window=(0, 2),
                                             name="vol")
    assert client.get_volume(volume.id).human_height == 1.75
    assert volume.id in [v.id for v in client.list_volumes(first=50).items]
    take = client.create_multi_cam_take(volume.id, sources, sync_method={"timecode_sync": {"use_timecode": True}})
    assert client.get_take(take.id).take_type.value == "MULTI_CAM"
    job = client.create_multi_cam_job(take.id, number_of_actors=1, rig="move_mo", options={"mocap_model": "M2"},
                                      outputs=["MOTION_DATA"])
    got = client.get_job(job.id)
    assert got.rig.name == "move_mo" and got.inputs.number_of_actors == 1


def test_share_code_download(client, finished, tmp_path):
    output = finished["job"].output("MAIN_FBX")
    share = client.generate_share_code(output.file.id)
    assert len(share.code) == 8 and share.code.isdigit()
    path = client.download_share_code(share.code, tmp_path / "shared.fbx")
    assert path.read_bytes()[:18] == b"Kaydara FBX Binary"
    with pytest.raises(NotFoundError, match="Move One"):
        client.resolve_share_code("00000000")


def test_webhook_upsert(client):
    hook = client.upsert_webhook_endpoint("hook-1", "https://example.org/hook",
                                          events=["ugc.job.state.completed", "ugc.job.state.failed"],
                                          secret="whsec_dGVzdA==", description="e2e")
    assert hook.uid == "hook-1" and hook.events == ["ugc.job.state.completed", "ugc.job.state.failed"]
    assert client.upsert_webhook_endpoint("hook-1", "https://example.org/other").url == "https://example.org/other"


def test_not_found_and_validation(client):
    with pytest.raises(NotFoundError):
        client.get_job("job-00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError):
        client.get_take("take-00000000-0000-0000-0000-000000000000")
    with pytest.raises((MoveValidationError, NotFoundError)):
        client.create_single_cam_take([SourceInput(device_label="c", file_id="file-nope")])


# ---------------------------------------------------------------------------------- fault injection


def test_query_recovers_from_a_5xx_burst(client, server, finished):
    server.set_faults([{"route": "graphql", "kind": "status", "status": 503, "count": 2, "operation": "getJob"}])
    assert client.get_job(finished["job"].id).is_finished
    assert server.fault_report()["faults"][0]["hits"] == 2


def test_query_waits_out_a_rate_limit(client, server):
    server.set_faults([{"route": "graphql", "kind": "rate_limit", "retry_after": 1, "count": 1}])
    start = time.monotonic()
    client.get_client()
    assert time.monotonic() - start >= 1.0


def test_create_after_5xx_is_outcome_unknown_and_not_resent(client, server):
    server.set_faults([{"route": "graphql", "kind": "status", "status": 502, "count": 1,
                        "operation": "createFile"}])
    with pytest.raises(OutcomeUnknownError):
        client.create_file("mp4", metadata={"tag": "once"})
    assert server.fault_report()["requests"]["graphql"] == 1


def test_timed_out_create_is_reconciled_by_metadata(server, finished):
    server.clear_faults()
    server.set_faults([{"route": "graphql", "kind": "slow", "delay": 2.0, "operation": "createSingleCamJob"}])
    with MoveClient(server.api_key, endpoint=server.url, timeout=(5.0, 0.5),
                    retry=RetryPolicy(attempts=3, base_delay=0.05)) as c:
        with pytest.raises(OutcomeUnknownError) as info:
            c.create_single_cam_job(finished["take"].id, outputs=["MOTION_DATA"], metadata={"request": "r-77"})
        assert info.value.metadata == {"request": "r-77"}
        time.sleep(2.0)  # the server finishes the slow request
        found = []
        for _ in range(20):
            found = c.find_jobs({"request": "r-77"}, take_id=finished["take"].id)
            if found:
                break
            time.sleep(0.25)
    assert len(found) == 1  # created exactly once: the client did not re-send it
    server.clear_faults()


def test_upload_reset_is_resent(client, server, tmp_path):
    server.set_faults([{"route": "upload", "kind": "reset", "after_bytes": 1_000_000, "count": 1}])
    file = client.upload_file(DEMO)
    assert server.fault_report()["requests"]["upload"] == 2
    back = client_download(client, file.id, tmp_path / "b.mp4")
    assert back.read_bytes() == DEMO.read_bytes()


def client_download(client: MoveClient, file_id: str, dest: Path) -> Path:
    return download_file(client.get_file(file_id).presigned_url, dest)


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_download_resumes_after_a_cut(client, server, finished, tmp_path, kind):
    server.set_faults([{"route": "download", "kind": kind, "after_bytes": 50_000, "count": 1}])
    path = client.download_output(finished["job"].id, "MAIN_FBX", tmp_path / "main.fbx")
    reference = client_download(client, finished["job"].output("MAIN_FBX").file.id, tmp_path / "ref.fbx")
    assert path.read_bytes() == reference.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["main.fbx", "ref.fbx"]


def test_download_refreshes_an_expired_url(client, server, finished, tmp_path):
    # URLs issued by the next getJob are already expired; the refresh re-reads the job for a valid one
    server.set_faults([{"route": "graphql", "kind": "expire_url", "count": 1, "operation": "getJob"}])
    path = client.download_output(finished["job"].id, "MOTION_DATA", tmp_path / "m.json")
    assert json.loads(path.read_text())["mocap_data"]
    assert server.fault_report()["requests"]["download"] == 2


def test_graphql_errors_are_typed(client, server):
    server.set_faults([{"route": "graphql", "kind": "graphql_error", "error_type": "BadRequestException",
                        "message": "Injected bad request", "operation": "listRigs"}])
    with pytest.raises(MoveValidationError) as info:
        client.list_rigs()
    assert info.value.error_type == "BadRequestException" and "Injected bad request" in str(info.value)


def test_server_down_is_a_network_error(tmp_path):
    dead = LocalServer(tmp_path / "dead")  # never started: its port refuses connections
    c = MoveClient(dead.api_key, endpoint=dead.url, retry=RetryPolicy(attempts=2, base_delay=0.01))
    with c, pytest.raises(NetworkError) as info:
        c.create_file("mp4")
    assert info.value.request_sent is False
