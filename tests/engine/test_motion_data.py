"""MOTION_DATA from the mediapipe solver (the four-camera pose2sim take): the fitted pose respects Move's
hinges, and the add-on's importer and the tests' independent reader of Move's convention read the file back
to within 1 mm."""

from __future__ import annotations

import json

import numpy as np

from tests.importers.round_trip import assert_round_trip


def test_mediapipe_motion_data_round_trip(p2s_multi, tmp_path):
    from local_engine.joint_conventions import CONVENTIONS, decode, encode
    from local_engine.kinematics import forward_kinematics
    from local_engine.outputs.motion_data import write_motion_data
    from local_engine.rotations import quat_to_matrix

    (motion,) = p2s_multi.motions
    q = quat_to_matrix(motion.rotations)
    for conv in CONVENTIONS.values():  # the solver's own pose is already hinged
        if conv.hinge:
            rel = np.swapaxes(q[:, motion.bones.index(conv.parent)], -1, -2) @ q[:, motion.bones.index(conv.bone)]
            np.testing.assert_allclose(decode(conv, encode(conv, rel)), rel, atol=1e-6, err_msg=conv.name)
    path = write_motion_data([motion], tmp_path / "motion_data.json")
    assert_round_trip(path)
    frames = json.loads(path.read_text())["mocap_data"]
    heads, _ = forward_kinematics(motion)
    written = np.array([f["joint_data"]["Left_ankle"]["position"] for f in frames])
    np.testing.assert_allclose(written, heads[:, motion.bones.index("LeftFoot")], atol=1e-6)
    knee = np.array([f["joint_data"]["Right_knee"]["rotations"][0] for f in frames])
    assert knee.max() - knee.min() > 0.3  # the subject walks: the knee bends and straightens
