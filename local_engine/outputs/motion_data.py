"""MOTION_DATA writer: MoveMotion -> Move's JSON (numpy + json only, no bpy).

Shape, as Move's own sample (motion_data_excerpt.json)::

    {"mocap_data": [{"timestamp": "0.0", "joint_data": {"Root": {"position": [x, y, z], "type": "euler_xyz",
      "rotations": [rx, ry, rz], "torques": [...], "reaction_forces": 0.0}, ...}}, ...]}

Positions are joint centres in metres, Z up. Each joint's rotation relative to its parent joint (the root's
relative to the world) is written in Move's own convention for that joint (type, angle order, axes and signs:
local_engine.joint_conventions, the one table of them), in radians; knees, elbows and toes are hinges with one
angle, which the solver's joint limits (local_engine.joint_limits) guarantee and this writer re-applies, so the
angles always describe the positions written. ``torques`` (N m, one per angle) and the toes'
``reaction_forces`` (N) come from local_engine.dynamics. A second actor goes in ``mocap_data_actor_2`` and so on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..dynamics import body_dynamics
from ..joint_conventions import CONVENTIONS, encode
from ..joint_limits import apply_joint_limits
from ..kinematics import forward_kinematics
from ..motion import MoveMotion
from ..rotations import quat_to_matrix

#: Move's MOTION_DATA joint -> (Move bone whose head is the joint, parent joint's bone or None).
JOINTS: dict[str, tuple[str, str | None]] = {c.name: (c.bone, c.parent) for c in CONVENTIONS.values()}


def joint_angles(motion: MoveMotion, rot: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per joint, (F, n) angles in Move's convention of the (already limited) ``motion`` (``rot``: its
    rotations as matrices, if known)."""
    rot = quat_to_matrix(motion.rotations) if rot is None else rot
    index = {n: i for i, n in enumerate(motion.bones)}
    out = {}
    for joint, conv in CONVENTIONS.items():
        b = rot[:, index[conv.bone]]
        rel = b if conv.parent is None else np.swapaxes(rot[:, index[conv.parent]], -1, -2) @ b
        out[joint] = encode(conv, rel)
    return out


def motion_data_frames(motion: MoveMotion, dynamics: bool = True) -> list[dict]:
    """The frames of one actor; ``dynamics=False`` writes zero torques and forces (for benchmarks)."""
    motion = apply_joint_limits(motion)
    rot = quat_to_matrix(motion.rotations)
    heads, tails = forward_kinematics(motion, rot)
    index = {n: i for i, n in enumerate(motion.bones)}
    angles = joint_angles(motion, rot)
    f_count = motion.frame_count
    if dynamics:
        dyn = body_dynamics(motion, angles, (rot, heads, tails))
        torques, forces = dyn.torques, dyn.reaction_forces
    else:
        torques = {j: np.zeros_like(a) for j, a in angles.items()}
        forces = {}
    columns = []
    for joint, conv in CONVENTIONS.items():
        pos = heads[:, index[conv.bone]].tolist()
        rots = angles[joint].tolist()
        tq = torques[joint].tolist()
        fr = forces[joint].tolist() if joint in forces else [0.0] * f_count
        columns.append((joint, conv.type, pos, rots, tq, fr))
    frames = []
    for f in range(f_count):
        frames.append({
            "timestamp": repr(f / motion.fps),
            "joint_data": {joint: {"position": pos[f], "type": typ, "rotations": rots[f], "torques": tq[f],
                                   "reaction_forces": fr[f]}
                           for joint, typ, pos, rots, tq, fr in columns},
        })
    return frames


def write_motion_data(motions: list[MoveMotion], path: str | Path, dynamics: bool = True) -> Path:
    path = Path(path)
    doc: dict[str, list] = {}
    for k, m in enumerate(sorted(motions, key=lambda m: m.actor)):
        doc["mocap_data" if k == 0 else f"mocap_data_actor_{m.actor}"] = motion_data_frames(m, dynamics)
    path.write_text(json.dumps(doc))
    return path
