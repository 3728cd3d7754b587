"""The add-on's Move skeleton and MOTION_DATA parser (no bpy): agreement with the local engine's skeleton,
the real sample's joint positions reproduced by the solved pose, errors for bad files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from move_mocap.core import move_skeleton as MS
from move_mocap.core.motion_data import (
    JOINTS,
    MotionDataError,
    joint_errors,
    read_motion_data,
    read_motion_data_bytes,
    solve_pose,
)


def test_skeleton_agrees_with_local_engine():
    from local_engine import motion as engine
    from local_engine.outputs.motion_data import JOINTS as ENGINE_JOINTS

    assert list(MS.MOVE_BONE_NAMES) == engine.MOVE_BONES
    assert dict(MS.MOVE_PARENTS) == engine.MOVE_PARENTS
    np.testing.assert_allclose([b.head for b in MS.MOVE_SKELETON], engine.rest_heads(), atol=1e-12)
    np.testing.assert_allclose([b.tail for b in MS.MOVE_SKELETON], engine.rest_tails(), atol=1e-12)
    assert {j: b for j, (b, _) in ENGINE_JOINTS.items()} == MS.MOTION_DATA_JOINTS
    assert MS.bone_name("Hips", 2) == engine.bone_name("Hips", 2) == "_2:Hips"
    assert MS.split_bone_name("_2:LeftArm") == (2, "LeftArm")
    assert MS.actors_in(["_1:Hips", "_2:Hips", "_2:Spine", "Hips"]) == [1, 2]


def test_real_sample_parses(motion_sample: Path):
    raw = json.loads(motion_sample.read_text())["mocap_data"]
    take = read_motion_data(motion_sample).take()
    assert take.frame_count == len(raw) == 4
    assert take.fps == pytest.approx(60.0)
    assert set(take.types) == set(JOINTS) and len(JOINTS) == 18
    assert take.types["Left_knee"] == "euler_x" and take.types["Left_elbow"] == "euler_z"
    for f, frame in enumerate(raw):
        for j, joint in enumerate(JOINTS):
            np.testing.assert_allclose(take.positions[f, j], frame["joint_data"][joint]["position"])
        # contacts follow the toes' reaction forces
        assert take.contacts[f, 0] == (frame["joint_data"]["Left_toe"]["reaction_forces"] > 1.0)
        assert take.contacts[f, 1] == (frame["joint_data"]["Right_toe"]["reaction_forces"] > 1.0)
    assert take.contacts[:, 0].all() and not take.contacts[:, 1].any()


def test_real_sample_pose_reproduces_joint_positions(motion_sample: Path):
    pose = solve_pose(read_motion_data(motion_sample).take())
    err = joint_errors(pose)
    body = [JOINTS.index(j) for j in JOINTS if "shoulder" not in j and "elbow" not in j and "wrist" not in j]
    assert err[:, body].max() < 1e-6  # hips, spine, legs: exact
    assert err.max() < 0.005  # arms: within 5 mm (Move's hidden clavicle stretches a little)
    # The hips frame comes from the Root rotation alone: the hip joints sit along its lateral axis.
    hips = pose.rotations[:, pose.bones.index("Hips")]
    lateral = pose.joint_positions[:, JOINTS.index("Left_hip")] - pose.joint_positions[:, JOINTS.index("Right_hip")]
    lateral /= np.linalg.norm(lateral, axis=-1, keepdims=True)
    assert np.einsum("fi,fi->f", hips[:, :, 0], lateral).min() > 0.999


def test_engine_motion_data_round_trip(move_take):
    """The local engine writes MOTION_DATA from a known motion: solving it gives that motion back."""
    from local_engine.kinematics import forward_kinematics
    from local_engine.rotations import quat_to_matrix

    motion, files = move_take
    pose = solve_pose(read_motion_data(files["MOTION_DATA"]).take())
    assert pose.frames.tolist() == list(range(motion.frame_count))
    err = joint_errors(pose)
    arms = [JOINTS.index(j) for j in JOINTS if "shoulder" in j or "elbow" in j or "wrist" in j]
    assert np.delete(err, arms, axis=1).max() < 1e-6
    assert err[:, arms].max() < 0.01  # MOTION_DATA has no clavicle joint: the arm root is rebuilt
    truth = quat_to_matrix(motion.rotations)
    heads, _ = forward_kinematics(motion)
    for name, tol in (("Hips", 0.01), ("Spine", 0.01), ("Spine1", 0.01), ("LeftUpLeg", 0.01), ("RightLeg", 0.01),
                      ("LeftFoot", 0.01), ("LeftArm", 3.0), ("RightForeArm", 3.0)):
        b = pose.bones.index(name)
        rel = np.swapaxes(truth[:, b], -1, -2) @ pose.rotations[:, b]
        angle = np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1))
        assert np.degrees(angle).max() < tol, name
        np.testing.assert_allclose(pose.heads()[:, b], heads[:, b], atol=1e-6 if tol < 1 else 0.01)


def test_zipped_equals_plain(motion_sample: Path, motion_sample_zip: Path):
    a = read_motion_data(motion_sample).take()
    b = read_motion_data(motion_sample_zip).take()
    np.testing.assert_array_equal(a.positions, b.positions)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"other": 1}', "no 'mocap_data'"),
        (b'{"mocap_data": []}', "no frames"),
        (b'{"mocap_data": [{"timestamp": "0", "joint_data": {"Root": {}}}]}', "joints missing"),
        (b"PK\x03\x04broken", "damaged"),
    ],
)
def test_bad_motion_data(payload: bytes, message: str):
    with pytest.raises(MotionDataError, match=message):
        read_motion_data_bytes(payload, "x.json")


def test_zip_without_json(tmp_path: Path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "nothing")
    with pytest.raises(MotionDataError, match=r"no \.json"):
        read_motion_data(path)


def test_missing_actor(motion_sample: Path):
    with pytest.raises(MotionDataError, match=r"Actor 2 .*actors present: 1"):
        read_motion_data(motion_sample).take(2)
