"""Small vectorised rotation helpers (numpy only): quaternions are (..., 4) arrays w, x, y, z.

No bpy here; used by the replay solver, forward kinematics and the MOTION_DATA writer.
"""

from __future__ import annotations

import numpy as np


def axis_matrix(axis: str, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices about X, Y or Z by ``angle`` radians (column-vector convention)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    rows = {
        "X": ((one, zero, zero), (zero, c, -s), (zero, s, c)),
        "Y": ((c, zero, s), (zero, one, zero), (-s, zero, c)),
        "Z": ((c, -s, zero), (s, c, zero), (zero, zero, one)),
    }[axis.upper()]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions w, x, y, z (normalised here) -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices to unit quaternions with w >= 0 (Shepperd's method, branch per element)."""
    m = np.asarray(m, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    q = np.empty((len(m), 4))
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    diag = np.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], -1)
    best = np.where(tr > diag.max(-1), 3, diag.argmax(-1))
    for case in range(4):
        i = best == case
        if not i.any():
            continue
        r = m[i]
        if case == 3:
            s = np.sqrt(np.maximum(1.0 + tr[i], 1e-12)) * 2
            q[i] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s,
                             (r[:, 1, 0] - r[:, 0, 1]) / s], -1)
        elif case == 0:
            s = np.sqrt(np.maximum(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2], 1e-12)) * 2
            q[i] = np.stack([(r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                             (r[:, 0, 2] + r[:, 2, 0]) / s], -1)
        elif case == 1:
            s = np.sqrt(np.maximum(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2], 1e-12)) * 2
            q[i] = np.stack([(r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s, 0.25 * s,
                             (r[:, 1, 2] + r[:, 2, 1]) / s], -1)
        else:
            s = np.sqrt(np.maximum(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1], 1e-12)) * 2
            q[i] = np.stack([(r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s,
                             (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s], -1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return q.reshape(*shape, 4)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The shortest-arc rotation matrices (..., 3, 3) turning directions ``a`` into directions ``b`` (..., 3);
    opposite directions turn half a turn about an axis perpendicular to ``a``."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    v = np.cross(a, b)
    c = np.einsum("...i,...i->...", a, b)
    vx = np.zeros((*v.shape[:-1], 3, 3))
    vx[..., 0, 1], vx[..., 0, 2], vx[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    vx[..., 1, 0], vx[..., 2, 0], vx[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    out = np.eye(3) + vx + vx @ vx / np.maximum(1 + c, 1e-12)[..., None, None]
    opposite = c < -0.999999
    if np.any(opposite):
        ao = a[opposite]
        other = np.where((np.abs(ao[:, 0]) < 0.9)[:, None], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        axis = np.cross(ao, other)
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        out[opposite] = 2 * np.einsum("ni,nj->nij", axis, axis) - np.eye(3)
    return out


def matrix_to_move_euler_xyz(m: np.ndarray) -> np.ndarray:
    """(..., 3) angles (x, y, z) with m = Rx @ Ry @ Rz: Move's MOTION_DATA ``euler_xyz`` (the angles applied
    in the order the axes are named, as Move's own sample file shows)."""
    y = np.arcsin(np.clip(m[..., 0, 2], -1.0, 1.0))
    x = np.arctan2(-m[..., 1, 2], m[..., 2, 2])
    z = np.arctan2(-m[..., 0, 1], m[..., 0, 0])
    return np.stack([x, y, z], -1)
