"""Job lifecycle with the replay solver through real HTTP: progress, every output, failures, restarts."""

from __future__ import annotations

import json
import time

import requests

from .flows import get_job, make_job, make_take, ok, upload, wait_job

ALL = ["MAIN_FBX", "MAIN_BLEND", "MAIN_GLB", "MAIN_USDC", "MAIN_USDZ", "ALL_BVH", "MOTION_DATA"]
# Blender 5.0 writes .blend files zstd-compressed.
MAGIC = {"fbx": b"Kaydara FBX Binary", "blend": (b"BLENDER", b"\x28\xb5\x2f\xfd"), "glb": b"glTF", "usdc": b"PXR-USDC", "usdz": b"PK",
         "bvh": b"HIERARCHY", "json": b'{"mocap_data"'}


def test_job_runs_to_finished_with_every_output(local_server):
    take = make_take(local_server)
    job = make_job(local_server, take, ALL, clip=(1.0, 2.0))
    assert job["state"] == "NOT_STARTED" and job["progress"] == {"state": "NOT_STARTED", "percentageComplete": 0}
    seen: list = []
    done = wait_job(local_server, job["id"], seen=seen)
    assert done["progress"] == {"state": "FINISHED", "percentageComplete": 100}, done
    assert done["state"] == "FINISHED"
    percents = [p for s, p in seen if s == "RUNNING"]
    assert percents and percents == sorted(percents) and 0 < percents[0] < 100
    by_key = {o["key"]: o for o in done["outputs"]}
    assert sorted(by_key) == sorted(ALL)
    for key, out in by_key.items():
        assert out["file"]["id"].startswith("file-") and out["file"]["type"] == f".{out['format']}"
        body = requests.get(out["file"]["presignedUrl"], timeout=30).content
        assert body.startswith(MAGIC[out["format"]]), key
    motion = requests.get(by_key["MOTION_DATA"]["file"]["presignedUrl"], timeout=30).json()
    assert len(motion["mocap_data"]) == 60  # 1 s at 60 fps
    assert float(motion["mocap_data"][1]["timestamp"]) == 1 / 60


def test_default_outputs_follow_upstream_defaults(local_server):
    job = wait_job(local_server, make_job(local_server, make_take(local_server), None, clip=(0, 0.5))["id"])
    assert job["progress"]["state"] == "FINISHED"
    # Upstream defaults: render_video, main_fbx, main_usdc, main_usdz, main_blend, motion_data, render_overlay_video;
    # the replay solver renders no video.
    assert sorted(o["key"] for o in job["outputs"]) == ["MAIN_BLEND", "MAIN_FBX", "MAIN_USDC", "MAIN_USDZ", "MOTION_DATA"]


def test_failed_job_carries_a_reason(local_server):
    take = make_take(local_server)
    job = wait_job(local_server, make_job(local_server, take, ["MOTION_DATA"], clip=(500.0, 510.0))["id"])
    assert job["progress"]["state"] == "FAILED" and job["outputs"] == []
    assert "clip window" in json.loads(job["metadata"])["error"]


def test_injected_job_failure(local_server):
    local_server.set_faults([{"kind": "fail_job", "message": "Nobody visible in the footage"}])
    take = make_take(local_server)
    failed = wait_job(local_server, make_job(local_server, take, ["MOTION_DATA"], metadata='{"mine": true}')["id"])
    assert failed["progress"]["state"] == "FAILED"
    assert json.loads(failed["metadata"]) == {"mine": True, "error": "Nobody visible in the footage"}
    ok_job = wait_job(local_server, make_job(local_server, take, ["MOTION_DATA"])["id"])
    assert ok_job["progress"]["state"] == "FINISHED"
    assert local_server.fault_report()["faults"][0]["hits"] == 1


def test_state_survives_restart_and_running_job_is_restarted(local_server):
    fid = upload(local_server, b"video bytes")
    take = make_take(local_server, fid)
    finished = wait_job(local_server, make_job(local_server, take, ["MOTION_DATA"])["id"])
    old_url = finished["outputs"][0]["file"]["presignedUrl"]
    # A long job, killed while RUNNING.
    long_job = make_job(local_server, take, ["MOTION_DATA", "MAIN_FBX"], clip=(0.0, 10.0))
    deadline = time.monotonic() + 60
    while get_job(local_server, long_job["id"])["progress"]["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    local_server.restart(hard=True)

    assert get_job(local_server, finished["id"])["progress"]["state"] == "FINISHED"
    assert requests.get(old_url, timeout=10).status_code == 200  # signing key persisted too
    got = ok(local_server.graphql(f'{{ getFile(fileId: "{fid}") {{ id presignedUrl }} }}'))["getFile"]
    assert requests.get(got["presignedUrl"], timeout=10).content == b"video bytes"
    ids = [j["id"] for j in ok(local_server.graphql("{ listJobs { items { id } } }"))["listJobs"]["items"]]
    assert ids == [long_job["id"], finished["id"]]
    resumed = wait_job(local_server, long_job["id"], timeout=180)
    assert resumed["progress"]["state"] == "FINISHED", resumed
    assert sorted(o["key"] for o in resumed["outputs"]) == ["MAIN_FBX", "MOTION_DATA"]


def _stance_force(server, metadata: str | None) -> tuple[dict, float]:
    job = wait_job(server, make_job(server, make_take(server), ["MOTION_DATA"], clip=(1.0, 2.0),
                                    metadata=metadata)["id"])
    if job["state"] != "FINISHED":
        return job, 0.0
    motion = requests.get(job["outputs"][0]["file"]["presignedUrl"], timeout=30).json()
    total = [sum(float(j.get("reaction_forces") or 0.0) for j in frame["joint_data"].values())
             for frame in motion["mocap_data"]]
    return job, sum(total)


def test_job_metadata_sets_the_body_mass(local_server):
    """``body_mass_kg`` in the job's metadata scales the ground reaction forces of its MOTION_DATA (the force is
    the body's weight plus its acceleration, so it is proportional to the mass); an implausible one fails the job
    with the reason instead of writing wrong forces."""
    _, light = _stance_force(local_server, json.dumps({"body_mass_kg": 60}))
    _, heavy = _stance_force(local_server, json.dumps({"body_mass_kg": 90}))
    assert light > 0 and abs(heavy / light - 1.5) < 1e-3, (light, heavy)
    for bad in (5000, "heavy"):
        job, _ = _stance_force(local_server, json.dumps({"body_mass_kg": bad}))
        assert job["state"] == "FAILED" and job["outputs"] == [], job
        error = json.loads(job["metadata"])["error"]
        assert "body_mass_kg" in error and "20-300 kg" in error, error
