"""MOTION_DATA in Move's convention: the tests' own reading of Move's sample (tests/importers/move_reader.py)
is checked against Move's file, the engine's table against that reading, and files the engine writes from
the replayed CMU walk are read back by the add-on's importer and by that independent reader to within 1 mm."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import require_move_api
from tests.importers import move_reader
from tests.importers.round_trip import assert_round_trip


def test_the_independent_reading_fits_moves_own_sample():
    """Under the reading, every child joint of Move's sample sits where a T-pose puts it in its parent's frame:
    legs straight down, arms straight out, spine straight up, the feet mirror images of each other."""
    pos, world, types = move_reader.load(require_move_api("motion_data_excerpt.json"))
    off = move_reader.offsets(pos, world)
    along = {"x": ("Left_hip", "Right_hip", "Left_elbow", "Left_wrist", "Right_elbow", "Right_wrist"),
             "z": ("Left_knee", "Left_ankle", "Right_knee", "Right_ankle", "Spine1", "Spine2", "Neck")}
    for axis, joints in along.items():
        k = "xyz".index(axis)
        for joint in joints:
            across = np.delete(off[joint], k, axis=1)
            assert np.abs(across).max() < 1e-9, (joint, off[joint])
            assert np.abs(off[joint][:, k]).min() > 0.1, joint
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        assert (sign * off[f"{side}_elbow"][:, 0] > 0).all() and (off[f"{side}_knee"][:, 2] < 0).all()
    np.testing.assert_allclose(off["Left_toe"] * [-1, 1, 1], off["Right_toe"], atol=1e-9)
    # the reading is not vacuous: Move's sample bends its left elbow (about 96 degrees) and its right knee
    upper = pos["Left_elbow"] - pos["Left_shoulder_rotation"]
    fore = pos["Left_wrist"] - pos["Left_elbow"]
    cos = np.einsum("fi,fi->f", upper, fore) / np.linalg.norm(upper, axis=1) / np.linalg.norm(fore, axis=1)
    assert np.degrees(np.arccos(cos)).min() > 60
    assert types["Left_ankle"] == "euler_zyx" and types["Left_elbow"] == "euler_z"


def test_engine_table_is_the_independent_reading():
    from local_engine.joint_conventions import CONVENTIONS, decode

    rng = np.random.default_rng(7)
    for joint, conv in CONVENTIONS.items():
        angles = rng.uniform(-1.2, 1.2, (50, conv.angles))
        np.testing.assert_allclose(decode(conv, angles), move_reader.relative(joint, conv.type, angles),
                                   atol=1e-12, err_msg=joint)


@pytest.mark.parametrize("take", ["01_01", "01_03"])
def test_replayed_cmu_walk_round_trip(take, cmu_bvh, cmu_bvh_01, tmp_path):
    from local_engine.joint_conventions import CONVENTIONS
    from local_engine.kinematics import forward_kinematics
    from local_engine.outputs.motion_data import write_motion_data
    from local_engine.solvers import make_solver
    from local_engine.solvers.base import SolveRequest

    bvh = cmu_bvh_01 if take == "01_01" else cmu_bvh
    (motion,) = make_solver("replay", motion=bvh).solve(
        SolveRequest(cameras=[], work_dir=tmp_path, clip_window=(0.0, 6.0))).motions
    path = write_motion_data([motion], tmp_path / "motion_data.json")
    errors = assert_round_trip(path)
    # the solver's motion already respects Move's hinges: the file's positions are its joints, unchanged
    pos, _, _ = move_reader.load(path)
    heads, _ = forward_kinematics(motion)
    for joint, conv in CONVENTIONS.items():
        np.testing.assert_allclose(pos[joint], heads[:, motion.bones.index(conv.bone)], atol=1e-9, err_msg=joint)
    import json

    frames = json.loads(path.read_text())["mocap_data"]
    for joint, conv in CONVENTIONS.items():
        if conv.hinge:
            a = np.array([f["joint_data"][joint]["rotations"] for f in frames])
            assert a.shape == (len(frames), 1)
            assert conv.hinge[0] - 1e-9 <= a.min() and a.max() <= conv.hinge[1] + 1e-9, joint
    knees = np.array([f["joint_data"]["Left_knee"]["rotations"][0] for f in frames])
    elbows = np.array([f["joint_data"]["Right_elbow"]["rotations"][0] for f in frames])
    assert knees.max() > 0.8 and elbows.min() < -0.1  # a walk bends its knees (and the CMU subject's elbows)
    assert errors["independent"] < 1e-3
