"""The multi-camera flow through the engine's GraphQL API, as a client drives it: upload the four pose2sim
views, create a volume with the person's height (calibrated by the engine from the person), a multi-camera
take with it, and a job that comes back FINISHED with the motion."""

from __future__ import annotations

import json
import time

import requests

from tests.local_engine.flows import JOB, make_job, make_take, ok, upload, wait_job

VOLUME = "id state humanHeight metadata progress { state percentageComplete }"


def wait_volume(server, volume_id: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        q = f'{{ getVolume(id: "{volume_id}") {{ ... on HumanVolume {{ {VOLUME} }} }} }}'
        vol = ok(server.graphql(q))["getVolume"]
        if vol["state"] in ("FINISHED", "FAILED"):
            return vol
        time.sleep(0.5)
    raise AssertionError(f"volume {volume_id} did not finish in {timeout} s; server log:\n{server.log()}")


def sources(server, videos) -> list[dict]:
    return [{"deviceLabel": p.stem, "fileId": upload(server, p.read_bytes()), "format": "MP4"} for p in videos]


def test_volume_take_and_job_through_the_api(requires_mediapipe, local_server_factory, pose2sim_single):
    server = local_server_factory(solver="mediapipe", motion=None)
    videos = sorted((pose2sim_single / "videos").glob("cam0*.mp4"))
    assert len(videos) == 4
    srcs = sources(server, videos)
    q = ("mutation($s: [SourceInput!]) { createVolumeWithHuman(humanHeight: 1.70, areaType: NORMAL, sources: $s) "
         f"{{ {VOLUME} }} }}")
    vol = ok(server.graphql(q, {"s": srcs}))["createVolumeWithHuman"]
    assert vol["state"] == "RUNNING"
    vol = wait_volume(server, vol["id"])
    assert vol["state"] == "FINISHED", vol
    cal = json.loads(vol["metadata"])["calibration"] if isinstance(vol["metadata"], str) else vol["metadata"]["calibration"]
    assert cal["method"] == "person" and cal["cameras"] == ["cam01", "cam02", "cam03", "cam04"]
    # pose2sim's views are synchronised: after the refinement with the calibrated geometry, no offset
    assert cal["sync"]["method"] == "motion" and cal["sync"]["offsets_frames"] == [0, 0, 0, 0], cal["sync"]
    assert cal["report"]["reprojection_px_rms"] < 30

    q = ("mutation($v: String!, $s: [SourceInput!]) { createMultiCamTake(volumeId: $v, sources: $s) { id } }")
    take = ok(server.graphql(q, {"v": vol["id"], "s": srcs}))["createMultiCamTake"]
    q = (f'mutation($t: String!) {{ createMultiCamJob(takeId: $t, outputs: [MOTION_DATA]) {{ {JOB} }} }}')
    job = ok(server.graphql(q, {"t": take["id"]}))["createMultiCamJob"]
    deadline = time.monotonic() + 300
    while job["progress"]["state"] not in ("FINISHED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = ok(server.graphql(f'{{ getJob(jobId: "{job["id"]}") {{ {JOB} }} }}'))["getJob"]
    assert job["progress"]["state"] == "FINISHED", (job, server.log())
    sync = json.loads(job["metadata"])["sync"]
    assert sync["method"] == "motion" and max(abs(o) for o in sync["offsets_frames"]) <= 1, sync
    out = job["outputs"][0]
    assert out["key"] == "MOTION_DATA"
    data = requests.get(out["file"]["presignedUrl"], timeout=30)
    assert data.status_code == 200 and len(data.content) > 1000


def test_two_actors_and_another_person_through_the_api(requires_mediapipe, local_server_factory, pose2sim_multi,
                                                       demo_video):
    """Demo_MultiPerson on a volume given its calibration file: a job with numberOfActors 2 captures both
    people, one MOTION_DATA key each, and says who it captured in the job's metadata; a single-camera job on the
    Sports2D demo lists the people seen, and one whose metadata names person 2 captures the other person."""
    server = local_server_factory(solver="mediapipe", motion=None)
    srcs = sources(server, sorted((pose2sim_multi / "videos").glob("cam0*.mp4")))
    calib = upload(server, (pose2sim_multi / "calibration" / "Calib.qca.txt").read_bytes(), ext="txt")
    q = ("mutation($s: [SourceInput!]) { createVolumeWithHuman(humanHeight: 1.70, areaType: NORMAL, sources: $s) "
         f"{{ {VOLUME} }} }}")
    vol = ok(server.graphql(q, {"s": [*srcs, {"deviceLabel": "calibration", "fileId": calib, "format": "MP4"}]}))
    vol = wait_volume(server, vol["createVolumeWithHuman"]["id"])
    assert vol["state"] == "FINISHED", vol
    q = "mutation($v: String!, $s: [SourceInput!]) { createMultiCamTake(volumeId: $v, sources: $s) { id } }"
    take = ok(server.graphql(q, {"v": vol["id"], "s": srcs}))["createMultiCamTake"]
    q = f'mutation($t: String!) {{ createMultiCamJob(takeId: $t, numberOfActors: 2, outputs: [MOTION_DATA]) {{ {JOB} }} }}'
    job = wait_job(server, ok(server.graphql(q, {"t": take["id"]}))["createMultiCamJob"]["id"], timeout=300)
    assert job["progress"]["state"] == "FINISHED", (job, server.log())
    people = json.loads(job["metadata"])["people"]
    assert people["asked"] == 2 and people["captured"] == 2 and [p["person"] for p in people["seen"]] == [1, 2]
    doc = requests.get(job["outputs"][0]["file"]["presignedUrl"], timeout=30).json()
    assert sorted(doc) == ["mocap_data", "mocap_data_actor_2"]
    # pose2sim's views are synchronised: found so (within a frame) from both people's motion
    sync = json.loads(job["metadata"])["sync"]
    assert sync["method"] == "motion" and max(abs(o) for o in sync["offsets_frames"]) <= 1, sync
    assert len(doc["mocap_data"]) == len(doc["mocap_data_actor_2"]) >= 99

    take = make_take(server, upload(server, demo_video.read_bytes()))
    first = wait_job(server, make_job(server, take, ["MOTION_DATA"], clip=(0.0, 4.0))["id"], timeout=300)
    assert first["progress"]["state"] == "FINISHED", (first, server.log())
    seen = json.loads(first["metadata"])["people"]
    assert seen["captured"] == 1 and len(seen["seen"]) == 2
    other = wait_job(server, make_job(server, take, ["MOTION_DATA"], clip=(0.0, 4.0),
                                      metadata=json.dumps({"person": 2}))["id"], timeout=300)
    assert other["progress"]["state"] == "FINISHED", (other, server.log())
    meta = json.loads(other["metadata"])
    assert meta["person"] == 2 and meta["people"]["captured"] == 2 and meta["people"]["seen"] == seen["seen"]
    wrong = wait_job(server, make_job(server, take, ["MOTION_DATA"], clip=(0.0, 4.0),
                                      metadata=json.dumps({"person": 5}))["id"], timeout=300)
    assert wrong["progress"]["state"] == "FAILED" and "person 5" in json.loads(wrong["metadata"])["error"]
