"""Forward kinematics of a MoveMotion (numpy only, no bpy): where every bone's head and tail is per frame.

Used by the MOTION_DATA writer, foot-contact detection and the tests that check exported files.
"""

from __future__ import annotations

import numpy as np

from .motion import MoveMotion
from .rotations import quat_to_matrix


def bone_matrices(motion: MoveMotion) -> np.ndarray:
    """(F, B, 3, 3) armature-space delta rotations (``rotations`` as matrices)."""
    return quat_to_matrix(motion.rotations)


def forward_kinematics(motion: MoveMotion, rot: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(heads, tails), each (F, B, 3) in armature space, metres; ``rot``: :func:`bone_matrices` if known."""
    rot = bone_matrices(motion) if rot is None else rot
    parents = motion.parents
    f, b = motion.rotations.shape[:2]
    heads = np.zeros((f, b, 3))
    for i, p in enumerate(parents):
        if p < 0:
            heads[:, i] = motion.hips_positions + np.einsum(
                "fij,j->fi", rot[:, i], motion.rest_heads[i] - motion.rest_heads[i]
            )
        else:
            heads[:, i] = heads[:, p] + np.einsum("fij,j->fi", rot[:, p], motion.rest_heads[i] - motion.rest_heads[p])
    tails = heads + np.einsum("fbij,bj->fbi", rot, motion.rest_tails - motion.rest_heads)
    return heads, tails


def foot_contacts(motion: MoveMotion, height: float = 0.05, speed: float = 0.5, own_floor: float = 0.04
                  ) -> np.ndarray:
    """(F, 2) bool: left/right foot planted (toe or ankle near the floor and nearly still).

    The floor is the 2nd percentile of the lowest foot point over the clip, so a clip that never touches
    z = 0 still finds its floor. Each foot is measured from its own lowest level when that is up to
    ``own_floor`` above the common floor: a retargeted capture can leave one foot a few centimetres higher
    than the other when both stand.
    """
    heads, tails = forward_kinematics(motion)
    index = {n: i for i, n in enumerate(motion.bones)}
    out = np.zeros((motion.frame_count, 2), dtype=bool)
    points = []
    for side in ("Left", "Right"):
        toe, foot = index[f"{side}ToeBase"], index[f"{side}Foot"]
        points.append(np.stack([heads[:, toe], tails[:, toe], heads[:, foot]], 1))  # (F, 3, 3)
    lowest = np.concatenate([p[:, :, 2] for p in points], 1).min(1)
    floor = np.percentile(lowest, 2) if len(lowest) else 0.0
    for k, p in enumerate(points):
        level = min(float(np.percentile(p[:, :, 2].min(1), 2)), floor + own_floor) if len(lowest) else floor
        low = p[:, :, 2].min(1) - max(level, floor) < height
        toe_head = p[:, 0]
        vel = np.zeros(motion.frame_count)
        if motion.frame_count > 1:
            v = np.linalg.norm(np.diff(toe_head[:, :2], axis=0), axis=1) * motion.fps
            vel[1:] = v
            vel[0] = v[0]
        out[:, k] = low & (vel < speed)
    return out
