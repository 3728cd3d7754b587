"""Forward kinematics of a MoveMotion (numpy only, no bpy): where every bone's head and tail is per frame.

Used by the MOTION_DATA writer, foot-contact detection, the skeleton fit and its reprojection refinement
(:func:`pose_points`), and the tests that check exported files.
"""

from __future__ import annotations

import numpy as np

from .motion import MoveMotion
from .rotations import quat_to_matrix


def pose_points(rotations: np.ndarray, hips_positions: np.ndarray, rest_heads: np.ndarray,
                rest_tails: np.ndarray, parents: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Posed (heads, tails), each (F, B, 3), from armature-space delta rotations: (F, B, 4) quaternions
    w, x, y, z or (F, B, 3, 3) matrices. ``parents[i]`` is bone i's parent index (-1: the root, placed at
    ``hips_positions``); parents come before their children."""
    mats = rotations if rotations.shape[-1] == 3 else quat_to_matrix(rotations)
    heads = np.zeros((len(hips_positions), len(parents), 3))
    for i, p in enumerate(parents):
        if p < 0:
            heads[:, i] = hips_positions
        else:
            heads[:, i] = heads[:, p] + mats[:, p] @ (rest_heads[i] - rest_heads[p])
    tails = heads + np.einsum("fbij,bj->fbi", mats, rest_tails - rest_heads)
    return heads, tails


def forward_kinematics(motion: MoveMotion, rot: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(heads, tails), each (F, B, 3) in armature space, metres; ``rot``: ``rotations`` as
    (F, B, 3, 3) matrices, when the caller has them already."""
    return pose_points(motion.rotations if rot is None else rot, motion.hips_positions, motion.rest_heads,
                       motion.rest_tails, motion.parents)


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
