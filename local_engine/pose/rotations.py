"""Vectorised rotation helpers (rotation matrices and w-x-y-z quaternions over leading array axes) for the
skeleton fit. Pure numpy maths; it must not know about landmarks, skeletons or files. No bpy here.
"""

from __future__ import annotations

import numpy as np

from ..rotations import matrix_to_quat as quat_from_matrix
from ..rotations import quat_to_matrix

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


def slerp(q0: np.ndarray, q1: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    q0 = normalize(q0)
    q1 = normalize(q1)
    d = (q0 * q1).sum(-1, keepdims=True)
    q1 = np.where(d < 0, -q1, q1)
    d = np.abs(d)
    t = np.asarray(t, dtype=np.float64)
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    sin = np.sin(theta)
    small = sin < 1e-6
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / np.where(small, 1.0, sin))
    w1 = np.where(small, t, np.sin(t * theta) / np.where(small, 1.0, sin))
    return normalize(w0 * q0 + w1 * q1)


def continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs along axis 0 so consecutive frames stay in one hemisphere (smooth curves)."""
    q = np.array(q, dtype=np.float64)
    for i in range(1, len(q)):
        flip = (q[i] * q[i - 1]).sum(-1) < 0
        q[i][flip] *= -1
    return q


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) between vectors along the last axis."""
    c = (normalize(a) * normalize(b)).sum(-1)
    return np.arccos(np.clip(c, -1.0, 1.0))
