"""Vectorised rotation helpers (rotation matrices and w-x-y-z quaternions over leading array axes) for the
skeleton fit. Pure numpy maths; it must not know about landmarks, skeletons or files. No bpy here.
"""

from __future__ import annotations

import numpy as np

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


def quat_from_matrix(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions w, x, y, z (w >= 0)."""
    m = np.asarray(m, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    q = np.empty((len(m), 4))
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    # Compute all four candidate forms; pick the numerically best per row.
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    best = np.argmax(cand, axis=1)
    for k in range(4):
        sel = best == k
        if not sel.any():
            continue
        r = m[sel]
        if k == 0:
            s = np.sqrt(np.maximum(1.0 + r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2], EPS)) * 2
            q[sel] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s,
                               (r[:, 1, 0] - r[:, 0, 1]) / s], axis=1)
        elif k == 1:
            s = np.sqrt(np.maximum(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2], EPS)) * 2
            q[sel] = np.stack([(r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                               (r[:, 0, 2] + r[:, 2, 0]) / s], axis=1)
        elif k == 2:
            s = np.sqrt(np.maximum(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2], EPS)) * 2
            q[sel] = np.stack([(r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s, 0.25 * s,
                               (r[:, 1, 2] + r[:, 2, 1]) / s], axis=1)
        else:
            s = np.sqrt(np.maximum(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1], EPS)) * 2
            q[sel] = np.stack([(r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s,
                               (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s], axis=1)
    q = normalize(q)
    q[q[:, 0] < 0] *= -1
    return q.reshape((*shape, 4))


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = normalize(np.asarray(q, dtype=np.float64))
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1)
    return m.reshape((*q.shape[:-1], 3, 3))


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
