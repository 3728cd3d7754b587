"""A MOTION_DATA file written by the engine, read back two ways: by the add-on's importer (move_mocap.core)
and by the tests' independent reader of Move's convention (tests/importers/move_reader.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.importers import move_reader

#: Move's hinge joints and the sign of their bend (Move's sample: knees and toes positive flex, elbows negative).
HINGES = {"Left_knee": "euler_x", "Right_knee": "euler_x", "Left_toe": "euler_x", "Right_toe": "euler_x",
          "Left_elbow": "euler_z", "Right_elbow": "euler_z"}


def assert_round_trip(path: Path, tol: float = 1e-3) -> dict[str, float]:
    """Both readers rebuild the file's joint positions within ``tol`` metres; returns the worst errors."""
    from move_mocap.core.motion_data import JOINTS, joint_errors, read_motion_data, solve_pose

    pos, world, types = move_reader.load(path)
    for joint, typ in HINGES.items():
        assert types[joint] == typ, (joint, types[joint])
    rebuilt = move_reader.reconstruct(pos, world)
    independent = max(float(np.linalg.norm(rebuilt[j] - pos[j], axis=-1).max()) for j in pos)
    pose = solve_pose(read_motion_data(path).take())
    importer = float(joint_errors(pose).max())
    assert independent <= tol, f"independent reader: {independent * 1000:.3f} mm"
    assert importer <= tol, f"importer: {importer * 1000:.3f} mm"
    assert len(JOINTS) == len(pos)
    return {"independent": independent, "importer": importer}
