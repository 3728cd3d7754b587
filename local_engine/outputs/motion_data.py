"""MOTION_DATA writer: MoveMotion -> Move's JSON (numpy + json only, no bpy).

Shape, as Move's own sample (motion_data_excerpt.json)::

    {"mocap_data": [{"timestamp": "0.0", "joint_data": {"Root": {"position": [x, y, z], "type": "euler_xyz",
      "rotations": [rx, ry, rz], "torques": [...], "reaction_forces": 0.0}, ...}}, ...]}

Positions are joint centres in metres, Z up. Rotations are each joint's rotation relative to its parent
joint (the root's relative to the world), as XYZ Euler angles in radians in Move's convention
(``euler_xyz``: R = Rx(a0) @ Ry(a1) @ Rz(a2), the order the real sample fits), so every joint is ``euler_xyz``
(Move reduces some joints to one axis; we keep all three). No dynamics are estimated: torques are zeros.
``reaction_forces`` is the body weight (75 kg x g) shared between the toes of the feet in contact.
A second actor goes in ``mocap_data_actor_2`` and so on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..kinematics import forward_kinematics
from ..motion import MoveMotion
from ..rotations import matrix_to_move_euler_xyz, quat_to_matrix

BODY_WEIGHT_N = 75.0 * 9.81

#: Move's MOTION_DATA joint -> (Move bone whose head is the joint, parent joint's bone or None).
JOINTS: dict[str, tuple[str, str | None]] = {
    "Root": ("Hips", None),
    "Left_hip": ("LeftUpLeg", "Hips"),
    "Left_knee": ("LeftLeg", "LeftUpLeg"),
    "Left_ankle": ("LeftFoot", "LeftLeg"),
    "Left_toe": ("LeftToeBase", "LeftFoot"),
    "Right_hip": ("RightUpLeg", "Hips"),
    "Right_knee": ("RightLeg", "RightUpLeg"),
    "Right_ankle": ("RightFoot", "RightLeg"),
    "Right_toe": ("RightToeBase", "RightFoot"),
    "Spine1": ("Spine", "Hips"),
    "Spine2": ("Spine1", "Spine"),
    "Left_shoulder_rotation": ("LeftArm", "Spine1"),
    "Left_elbow": ("LeftForeArm", "LeftArm"),
    "Left_wrist": ("LeftHand", "LeftForeArm"),
    "Neck": ("Neck", "Spine1"),
    "Right_shoulder_rotation": ("RightArm", "Spine1"),
    "Right_elbow": ("RightForeArm", "RightArm"),
    "Right_wrist": ("RightHand", "RightForeArm"),
}


def motion_data_frames(motion: MoveMotion) -> list[dict]:
    heads, _ = forward_kinematics(motion)
    rot = quat_to_matrix(motion.rotations)
    index = {n: i for i, n in enumerate(motion.bones)}
    contacts = motion.foot_contacts if motion.foot_contacts is not None else np.zeros((motion.frame_count, 2), bool)
    per_joint = {}
    for joint, (bone, parent) in JOINTS.items():
        b = index[bone]
        rel = rot[:, b] if parent is None else np.swapaxes(rot[:, index[parent]], -1, -2) @ rot[:, b]
        per_joint[joint] = (heads[:, b], matrix_to_move_euler_xyz(rel))
    frames = []
    for f in range(motion.frame_count):
        n_contact = int(contacts[f].sum())
        force = BODY_WEIGHT_N / n_contact if n_contact else 0.0
        joint_data = {}
        for joint, (pos, eul) in per_joint.items():
            side = 0 if joint == "Left_toe" else 1 if joint == "Right_toe" else None
            joint_data[joint] = {
                "position": [float(v) for v in pos[f]],
                "type": "euler_xyz",
                "rotations": [float(v) for v in eul[f]],
                "torques": [0.0, 0.0, 0.0],
                "reaction_forces": force if side is not None and contacts[f, side] else 0.0,
            }
        frames.append({"timestamp": repr(f / motion.fps), "joint_data": joint_data})
    return frames


def write_motion_data(motions: list[MoveMotion], path: str | Path) -> Path:
    path = Path(path)
    doc: dict[str, list] = {}
    for k, m in enumerate(sorted(motions, key=lambda m: m.actor)):
        doc["mocap_data" if k == 0 else f"mocap_data_actor_{m.actor}"] = motion_data_frames(m)
    path.write_text(json.dumps(doc))
    return path
