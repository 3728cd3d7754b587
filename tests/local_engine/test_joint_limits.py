"""The solver's joint limits on real motion (CMU 01_01 on Move's skeleton) made to break them: knees, elbows
and toes become hinges, every joint stays where the capture put it while in range, and out-of-range bends are
clamped with the ankle kept on its line from the hip."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from local_engine.joint_conventions import CONVENTIONS, decode, encode
from local_engine.joint_limits import apply_joint_limits
from local_engine.kinematics import forward_kinematics
from local_engine.rotations import matrix_to_quat, quat_to_matrix


@pytest.fixture(scope="module")
def walk(cmu_bvh_01):
    from local_engine.bvh import read_bvh
    from local_engine.solvers.replay import retarget_cmu

    return retarget_cmu(read_bvh(cmu_bvh_01), 0, 1200, 2)


@pytest.fixture(scope="module")
def raw(walk):
    """The walk with its knees and elbows splayed 8 degrees sideways and their lower bones twisted 20 degrees
    (as a landmark fit can make them); feet and hands keep their world orientation."""
    from local_engine.rotations import axis_matrix

    q = quat_to_matrix(walk.rotations)
    for upper, lower in (("LeftUpLeg", "LeftLeg"), ("RightUpLeg", "RightLeg"), ("LeftArm", "LeftForeArm"),
                         ("RightArm", "RightForeArm")):
        u, low = walk.bones.index(upper), walk.bones.index(lower)
        along = "z" if "Leg" in lower else "x"
        splay = "y"
        q[:, low] = q[:, u] @ axis_matrix(splay, np.full(walk.frame_count, np.radians(8))) @ \
            np.swapaxes(q[:, u], -1, -2) @ q[:, low] @ axis_matrix(along, np.full(walk.frame_count, np.radians(20)))
    out = copy.copy(walk)
    out.rotations = matrix_to_quat(q)
    return out


def _rel(motion, conv):
    q = quat_to_matrix(motion.rotations)
    i = motion.bones.index
    return np.swapaxes(q[:, i(conv.parent)], -1, -2) @ q[:, i(conv.bone)]


def test_hinges_keep_every_joint_in_place(raw):
    limited = apply_joint_limits(raw)
    before, _ = forward_kinematics(raw)
    after, _ = forward_kinematics(limited)
    hinges = [c for c in CONVENTIONS.values() if c.hinge]
    in_range = np.ones(raw.frame_count, bool)
    for conv in hinges:
        rel = _rel(limited, conv)
        angle = encode(conv, rel)
        np.testing.assert_allclose(decode(conv, angle), rel, atol=1e-9, err_msg=conv.name)  # a pure hinge
        assert conv.hinge[0] - 1e-9 <= angle.min() and angle.max() <= conv.hinge[1] + 1e-9
        if not conv.name.endswith("toe"):
            in_range &= (np.abs(angle[:, 0] - conv.hinge[0]) > 1e-6) & (np.abs(angle[:, 0] - conv.hinge[1]) > 1e-6)
    assert in_range.mean() > 0.95  # (the first frame, CMU's T-pose, splayed, bends the left elbow backwards)
    # the input was not a hinge (so this test can fail): its knees twist and splay
    for name in ("Left_knee", "Right_elbow"):
        raw_rel = _rel(raw, CONVENTIONS[name])
        assert np.abs(decode(CONVENTIONS[name], encode(CONVENTIONS[name], raw_rel)) - raw_rel).max() > 0.1
    # in range, nothing moves: joints and toe tips (the toes' hinge keeps their bend)
    bones = [raw.bones.index(c.bone) for c in CONVENTIONS.values()]
    np.testing.assert_allclose(after[in_range][:, bones], before[in_range][:, bones], atol=1e-9)
    # the feet and hands keep their world orientation; hips and spine are untouched
    for bone in ("LeftFoot", "RightHand", "Hips", "Spine1", "Neck"):
        b = raw.bones.index(bone)
        np.testing.assert_allclose(quat_to_matrix(limited.rotations[:, b]), quat_to_matrix(raw.rotations[:, b]),
                                   atol=1e-9, err_msg=bone)
    again = apply_joint_limits(limited)
    np.testing.assert_allclose(again.rotations, limited.rotations, atol=1e-9)


def test_out_of_range_knee_is_clamped_with_the_ankle_on_its_line(walk):
    """Turn the left shin 25 degrees forwards past straight (hyperextension): the knee ends straight (its
    lower bound, 0) and the ankle stays on the line from the hip through where it was."""
    motion = copy.copy(walk)
    q = quat_to_matrix(motion.rotations)
    up, leg = motion.bones.index("LeftUpLeg"), motion.bones.index("LeftLeg")
    hyper = decode(CONVENTIONS["Left_knee"], np.full((motion.frame_count, 1), -np.radians(25)))
    q[:, leg] = q[:, up] @ hyper
    for b, name in enumerate(motion.bones):  # the foot keeps following the shin
        if name in ("LeftFoot", "LeftToeBase"):
            q[:, b] = q[:, leg]
    motion.rotations = matrix_to_quat(q)
    heads, _ = forward_kinematics(motion)
    limited = apply_joint_limits(motion)
    angle = encode(CONVENTIONS["Left_knee"], _rel(limited, CONVENTIONS["Left_knee"]))
    np.testing.assert_allclose(angle, 0.0, atol=1e-9)
    after, _ = forward_kinematics(limited)
    hip, ankle = motion.bones.index("LeftUpLeg"), motion.bones.index("LeftFoot")
    d0 = heads[:, ankle] - heads[:, hip]
    d1 = after[:, ankle] - after[:, hip]
    assert np.linalg.norm(np.cross(d0 / np.linalg.norm(d0, axis=1, keepdims=True), d1), axis=1).max() < 1e-9
    length = np.linalg.norm(motion.rest_heads[ankle] - motion.rest_heads[hip])
    np.testing.assert_allclose(np.linalg.norm(d1, axis=1), length, atol=1e-9)  # straight leg: full length
    assert np.linalg.norm(d0, axis=1).max() < length - 0.01  # it was shorter, bent the wrong way
