"""Volumes given a calibration file instead of a person to calibrate from (a Pose2Sim .toml among the
sources), and what a multi-camera job says when its volume failed. Runs with the replay solver (no model)."""

from __future__ import annotations

import json
import time

from local_engine.calibration import read_qca, write_toml
from tests.local_engine.flows import JOB, ok, upload

VOLUME = "id state metadata progress { state percentageComplete }"


def _volume(server, srcs):
    q = ("mutation($s: [SourceInput!]) { createVolumeWithHuman(humanHeight: 1.7, areaType: NORMAL, sources: $s) "
         f"{{ {VOLUME} }} }}")
    vol = ok(server.graphql(q, {"s": srcs}))["createVolumeWithHuman"]
    deadline = time.monotonic() + 30
    while vol["state"] not in ("FINISHED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.1)
        vol = ok(server.graphql(f'{{ getVolume(id: "{vol["id"]}") {{ ... on HumanVolume {{ {VOLUME} }} }} }}'))["getVolume"]
    meta = vol["metadata"]
    return vol, json.loads(meta) if isinstance(meta, str) else meta


def test_calibration_file_as_a_source(local_server, pose2sim_single, tmp_path):
    toml = write_toml(read_qca(pose2sim_single / "calibration" / "Calib.qca.txt"), tmp_path / "Calib.toml")
    videos = [{"deviceLabel": f"cam0{i}", "fileId": upload(local_server), "format": "MP4"} for i in (2, 1)]
    calib = {"deviceLabel": "calibration", "fileId": upload(local_server, toml.read_bytes(), "toml"), "format": "MOVE"}
    vol, meta = _volume(local_server, [*videos, calib])
    assert vol["state"] == "FINISHED" and vol["progress"]["percentageComplete"] == 100
    # matched by name, in the order of the videos
    assert meta["calibration"]["method"] == "file" and meta["calibration"]["cameras"] == ["cam02", "cam01"]


def test_bad_calibration_file_fails_the_volume_and_its_jobs(local_server):
    videos = [{"deviceLabel": f"cam0{i}", "fileId": upload(local_server), "format": "MP4"} for i in (1, 2)]
    bad = {"deviceLabel": "calibration", "fileId": upload(local_server, b"[cam01]\nmatrix = 3\n", "toml"),
           "format": "MOVE"}
    vol, meta = _volume(local_server, [*videos, bad])
    assert vol["state"] == "FAILED" and "calibration file" in meta["error"] and "cam01" in meta["error"]
    q = "mutation($v: String!, $s: [SourceInput!]) { createMultiCamTake(volumeId: $v, sources: $s) { id } }"
    take = ok(local_server.graphql(q, {"v": vol["id"], "s": videos}))["createMultiCamTake"]
    q = f'mutation($t: String!) {{ createMultiCamJob(takeId: $t, outputs: [MOTION_DATA]) {{ {JOB} }} }}'
    job = ok(local_server.graphql(q, {"t": take["id"]}))["createMultiCamJob"]
    deadline = time.monotonic() + 30
    while job["progress"]["state"] not in ("FINISHED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = ok(local_server.graphql(f'{{ getJob(jobId: "{job["id"]}") {{ {JOB} }} }}'))["getJob"]
    assert job["progress"]["state"] == "FAILED"
    assert "volume is FAILED" in json.loads(job["metadata"])["error"]


def test_pose2sims_own_toml_recognised_by_content(local_server, pose2sim_single):
    """Pose2Sim's own Calib_qualisys.toml uploaded as if it were a video (type mp4): recognised by its content,
    its cameras (cam_01..) matched to the sources cam01.. by name whatever the order."""
    toml = (pose2sim_single / "calibration" / "Calib_qualisys.toml").read_bytes()
    videos = [{"deviceLabel": f"cam0{i}", "fileId": upload(local_server), "format": "MP4"} for i in (3, 1, 4, 2)]
    calib = {"deviceLabel": "calibration", "fileId": upload(local_server, toml, "mp4"), "format": "MP4"}
    vol, meta = _volume(local_server, [calib, *videos])
    assert vol["state"] == "FINISHED", meta
    cal = meta["calibration"]
    assert cal["method"] == "file" and cal["cameras"] == ["cam03", "cam01", "cam04", "cam02"], cal
    assert cal["file_cameras"] == ["cam_01", "cam_02", "cam_03", "cam_04"]


def test_broken_and_hostile_calibration_files_fail_the_volume_clearly(local_server, pose2sim_single):
    toml = (pose2sim_single / "calibration" / "Calib_qualisys.toml").read_text()
    one_camera = toml[:toml.index("[cam_02]")]
    cases = [
        (b"<?xml version='1.0'?><!DOCTYPE z [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;'>]>"
         b"<calibration><cameras>&b;</cameras></calibration>", "txt", "declares a DOCTYPE"),
        (toml.replace("1681.244873046875", "nan", 1).encode(), "toml", "not finite"),
        (one_camera.encode(), "toml", "describes 1 camera; a multi-camera volume needs two or more"),
        (b"\x00\x01binary" * 100, "txt", "neither a Pose2Sim calibration"),
        (toml.encode() + b"#" * (2 << 20), "toml", "too large to be a calibration file"),
    ]
    for content, ext, message in cases:
        videos = [{"deviceLabel": f"cam0{i}", "fileId": upload(local_server), "format": "MP4"} for i in (1, 2)]
        calib = {"deviceLabel": "calibration", "fileId": upload(local_server, content, ext), "format": "MOVE"}
        vol, meta = _volume(local_server, [*videos, calib])
        assert vol["state"] == "FAILED" and message in meta["error"], (message, meta)
        assert meta["error"].startswith("The volume's calibration file") or "camera" in meta["error"], meta


def test_calibration_of_another_video_mode_fails_the_volume(local_server, pose2sim_single, demo_video):
    """Pose2Sim's cameras (portrait 1088 x 1920) given to videos filmed in landscape (the Sports2D demo, 1768 x 994): refused."""
    toml = (pose2sim_single / "calibration" / "Calib_qualisys.toml").read_bytes()
    video = demo_video.read_bytes()
    videos = [{"deviceLabel": f"cam0{i}", "fileId": upload(local_server, video), "format": "MP4"} for i in (1, 2)]
    calib = {"deviceLabel": "calibration", "fileId": upload(local_server, toml, "toml"), "format": "MOVE"}
    vol, meta = _volume(local_server, [*videos, calib])
    assert vol["state"] == "FAILED", meta
    assert "camera cam01 is calibrated for 1088 x 1920 pixels but its video is 1768 x 994" in meta["error"], meta


def test_volume_without_calibration_file_on_the_replay_solver_is_usable_at_once(local_server):
    videos = [{"deviceLabel": f"cam0{i}", "fileId": upload(local_server), "format": "MP4"} for i in (1, 2)]
    vol, meta = _volume(local_server, videos)
    assert vol["state"] == "FINISHED" and "calibration" not in meta


def test_every_offered_lens_has_a_focal_length():
    from local_engine.schema import CAMERA_LENSES
    from local_engine.volumes import LENS_35MM

    assert set(CAMERA_LENSES) == set(LENS_35MM) and all(12 <= f <= 200 for f in LENS_35MM.values())
