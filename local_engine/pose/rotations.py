"""Vectorised rotation helpers (rotation matrices and w-x-y-z quaternions over leading array axes) for the
skeleton fit: frames from directions and sign continuity; the conversions and slerp are the engine's
(:mod:`..rotations`, on scipy). Pure maths; it must not know about landmarks, skeletons or files. No bpy here.
"""

from __future__ import annotations

import numpy as np

from ..rotations import matrix_to_quat as quat_from_matrix
from ..rotations import quat_to_matrix, slerp

__all__ = ["angle_between", "continuous", "frame", "normalize", "perpendicular_part", "quat_from_matrix",
           "quat_to_matrix", "slerp"]

EPS = 1e-9


def normalize(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, EPS)


def frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Right-handed orthonormal frames (..., 3, 3) whose columns are: primary, secondary made perpendicular
    to primary, and their cross product."""
    a = normalize(primary)
    s = secondary - (secondary * a).sum(-1, keepdims=True) * a
    b = normalize(s)
    c = np.cross(a, b)
    return np.stack([a, b, c], axis=-1)


def perpendicular_part(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    a = normalize(axis)
    return v - (v * a).sum(-1, keepdims=True) * a


def continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs along axis 0 so consecutive frames stay in one hemisphere (smooth curves)."""
    q = np.array(q, dtype=np.float64)
    if len(q) > 1:
        flips = np.cumprod(np.where(np.einsum("...i,...i->...", q[1:], q[:-1]) < 0, -1.0, 1.0), axis=0)
        q[1:] *= flips[..., None]
    return q


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) between vectors along the last axis."""
    c = (normalize(a) * normalize(b)).sum(-1)
    return np.arccos(np.clip(c, -1.0, 1.0))
