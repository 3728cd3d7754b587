"""Forward kinematics of a MoveMotion (numpy only, no bpy): where every bone's head and tail is per frame.

Used by the MOTION_DATA writer, foot-contact detection (local_engine.contacts), the skeleton fit and its reprojection refinement
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


def foot_contacts(motion: MoveMotion) -> np.ndarray:
    """(F, 2) bool: left/right foot planted, decided over the whole clip by local_engine.contacts."""
    from .contacts import detect_on_skeleton

    heads, tails = forward_kinematics(motion)
    return detect_on_skeleton(heads, tails, motion.rest_heads, motion.rest_tails, motion.bones, motion.fps)
