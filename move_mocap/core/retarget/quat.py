"""Vectorised quaternion and rigid-transform maths for the retarget engine (numpy only, no bpy here).

Quaternions are arrays ``[..., 4]`` in Blender's order (w, x, y, z), unit length, acting on column vectors.
Every function broadcasts over leading axes, so a whole take (frames x bones) is one call.
"""

from __future__ import annotations

import numpy as np

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products over the last axis (einsum: several times faster than a sum over an axis of 4)."""
    return np.einsum("...i,...i->...", a, b)


def normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q)
    if q.dtype.kind != "f":
        q = q.astype(np.float64)
    n = np.sqrt(_dot(q, q))[..., None]
    return q / np.where(n == 0.0, 1.0, n)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both operands as floats of the larger operand's precision (a whole take may be float32; a constant
    quaternion or vector must not turn it into float64)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if b.dtype.kind != "f":
        b = b.astype(np.float64)
    if a.dtype != b.dtype:
        dtype = a.dtype if a.size >= b.size else b.dtype
        a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    return a, b


def right_matrix(b: np.ndarray) -> np.ndarray:
    """(4, 4) matrix ``M`` with ``a @ M == mul(a, b)`` for one quaternion ``b``."""
    w, x, y, z = np.asarray(b, dtype=np.float64).reshape(4)
    return np.array([[w, x, y, z], [-x, w, -z, y], [-y, z, w, -x], [-z, -y, x, w]])


def left_matrix(a: np.ndarray) -> np.ndarray:
    """(4, 4) matrix ``M`` with ``b @ M == mul(a, b)`` for one quaternion ``a``."""
    w, x, y, z = np.asarray(a, dtype=np.float64).reshape(4)
    return np.array([[w, x, y, z], [-x, w, z, -y], [-y, -z, w, x], [-z, y, -x, w]])


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` (apply b first, then a). A single quaternion against many is one matrix
    product (see :func:`right_matrix`, :func:`left_matrix`)."""
    a, b = _pair(a, b)
    if b.size == 4 and a.size > 64 and a.ndim >= b.ndim:
        return a @ right_matrix(b).astype(a.dtype)
    if a.size == 4 and b.size > 64 and b.ndim >= a.ndim:
        return b @ left_matrix(a).astype(b.dtype)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=a.dtype)
    out[..., 0] = aw * bw - ax * bx - ay * by - az * bz
    out[..., 1] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 2] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 3] = aw * bz + ax * by - ay * bx + az * bw
    return out


def mul_matrix(q: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``q @ m`` in ``q``'s precision: many quaternions times a product of :func:`left_matrix` /
    :func:`right_matrix` factors (fuses several constant products into one pass)."""
    q = np.asarray(q)
    return q @ np.asarray(m).astype(q.dtype, copy=False)


def conj(q: np.ndarray) -> np.ndarray:
    """Inverse of a unit quaternion."""
    q = np.asarray(q)
    if q.dtype.kind != "f":
        q = q.astype(np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.empty(np.broadcast_shapes(u.shape, v.shape), dtype=np.result_type(u, v))
    out[..., 0] = u[..., 1] * v[..., 2] - u[..., 2] * v[..., 1]
    out[..., 1] = u[..., 2] * v[..., 0] - u[..., 0] * v[..., 2]
    out[..., 2] = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    return out


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v[..., 3]`` by unit quaternions ``q[..., 4]``."""
    q, v = _pair(q, v)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * _cross(u, v)
    return v + w * t + _cross(u, t)


def from_matrix(m: np.ndarray, orthonormalize: bool = True) -> np.ndarray:
    """Unit quaternions (w >= 0) from rotation matrices ``[..., 3, 3]``, orthonormalised first unless the
    caller knows they are rotations already (``orthonormalize=False``: no SVD, for large batches)."""
    r = np.asarray(m, dtype=np.float64)[..., :3, :3]
    if orthonormalize:
        u, _, vt = np.linalg.svd(r)
        r = u @ vt
        det = np.linalg.det(r)
        if np.any(det < 0):
            u = u.copy()
            u[det < 0, :, -1] *= -1
            r = u @ vt
    tr = r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2]
    cands = np.stack(
        (
            np.stack((1 + tr, r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]), -1),
            np.stack((r[..., 2, 1] - r[..., 1, 2], 1 + r[..., 0, 0] - r[..., 1, 1] - r[..., 2, 2],
                      r[..., 0, 1] + r[..., 1, 0], r[..., 0, 2] + r[..., 2, 0]), -1),
            np.stack((r[..., 0, 2] - r[..., 2, 0], r[..., 0, 1] + r[..., 1, 0],
                      1 - r[..., 0, 0] + r[..., 1, 1] - r[..., 2, 2], r[..., 1, 2] + r[..., 2, 1]), -1),
            np.stack((r[..., 1, 0] - r[..., 0, 1], r[..., 0, 2] + r[..., 2, 0], r[..., 1, 2] + r[..., 2, 1],
                      1 - r[..., 0, 0] - r[..., 1, 1] + r[..., 2, 2]), -1),
        ),
        axis=-2,
    )
    diag = np.stack((tr, r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]), -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = normalize(q)
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def to_matrix(q: np.ndarray) -> np.ndarray:
    q = normalize(np.asarray(q, dtype=np.float64))
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        (
            np.stack((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)), -1),
            np.stack((2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)), -1),
            np.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), -1),
        ),
        axis=-2,
    )


def from_axis_angle(axis: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = np.asarray(angle, dtype=np.float64)[..., None] * 0.5
    return np.concatenate((np.cos(half), np.sin(half) * axis), axis=-1)


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc rotation taking direction ``a`` onto direction ``b`` (no twist about either)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    d = np.sum(a * b, axis=-1, keepdims=True)
    c = np.cross(a, b)
    q = np.concatenate((1.0 + d, c), axis=-1)
    # Opposite directions: rotate half a turn about any axis perpendicular to a.
    opposite = (1.0 + d[..., 0]) < 1e-9
    if np.any(opposite):
        perp = np.cross(a, np.array([1.0, 0.0, 0.0]))
        small = np.linalg.norm(perp, axis=-1) < 1e-6
        perp = np.where(small[..., None], np.cross(a, np.array([0.0, 1.0, 0.0])), perp)
        q = np.where(opposite[..., None], np.concatenate((np.zeros_like(d), perp), -1), q)
    return normalize(q)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation (shortest path); t broadcasts against the leading axes. The per-quaternion
    weights are computed on (..., 1) arrays and the sign flip folded into ``b``'s weight, so the (..., 4)
    arrays are only read twice and written once."""
    a, b = _pair(a, b)
    t = np.asarray(t, dtype=a.dtype)[..., None] if np.ndim(t) else a.dtype.type(t)
    d = _dot(a, b)[..., None]
    sign = np.where(d < 0, -1.0, 1.0)
    d = np.abs(d, out=d)
    theta = np.arccos(np.minimum(d, 1.0, out=d), out=d)
    s = np.sin(theta)
    lin = s < 1e-6
    safe = np.where(lin, 1.0, s)
    wa = np.where(lin, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(lin, t, np.sin(t * theta) / safe)
    wb *= sign
    out = wa * a
    out += wb * b
    return normalize(out)


def make_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` (frames) so consecutive quaternions lie in the same hemisphere."""
    q = np.asarray(q)
    q = np.moveaxis(np.array(q, dtype=q.dtype if q.dtype.kind == "f" else np.float64), axis, 0)
    if len(q) > 1:
        dots = _dot(q[1:], q[:-1])
        flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
        q[1:] *= flips[..., None]
    return np.moveaxis(q, 0, axis)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in radians between direction vectors (broadcasting)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    c = np.sum(a * b, axis=-1) / np.maximum(na * nb, 1e-12)
    return np.arccos(np.clip(c, -1.0, 1.0))


# -- Euler angles (Blender's rotation modes), vectorised ----------------------------------------------------

_AXIS = {"X": 0, "Y": 1, "Z": 2}


def from_euler(e: np.ndarray, order: str) -> np.ndarray:
    """Quaternions from Blender Euler angles ``[..., 3]`` (x, y, z) with rotation mode ``order`` ('XYZ', ...).

    Blender's 'XYZ' applies X first, then Y, then Z (R = Rz Ry Rx)."""
    e = np.asarray(e, dtype=np.float64)
    q = np.broadcast_to(IDENTITY, (*e.shape[:-1], 4))
    for ch in order:
        i = _AXIS[ch]
        axis = np.zeros(3)
        axis[i] = 1.0
        q = mul(from_axis_angle(axis, e[..., i]), q)
    return q


def to_euler(q: np.ndarray, order: str) -> np.ndarray:
    """Blender Euler angles ``[..., 3]`` (x, y, z) for rotation mode ``order``, from unit quaternions."""
    m = to_matrix(q)
    i, j, k = (_AXIS[c] for c in order)
    parity = (j - i) % 3 == 1  # even permutation (XYZ, YZX, ZXY)
    sgn = 1.0 if parity else -1.0
    # R = R_k R_j R_i; angles a_i, a_j, a_k.
    sj = np.clip(-sgn * m[..., k, i], -1.0, 1.0)
    aj = np.arcsin(sj)
    cj = np.cos(aj)
    regular = cj > 1e-6
    ai = np.arctan2(sgn * m[..., k, j], m[..., k, k])
    ak = np.arctan2(sgn * m[..., j, i], m[..., i, i])
    # Gimbal lock: put everything on a_i.
    ai_lock = np.arctan2(-sgn * m[..., j, k], m[..., j, j])
    ai = np.where(regular, ai, ai_lock)
    ak = np.where(regular, ak, 0.0)
    out = np.empty((*m.shape[:-2], 3))
    out[..., i] = ai
    out[..., j] = aj
    out[..., k] = ak
    return out


def euler_continuous(e: np.ndarray, order: str, axis: int = 0) -> np.ndarray:
    """Make Euler angles continuous over frames (``axis``): remove 2 pi wraps and, where the canonical
    solution flips branch near gimbal lock, use the equivalent triple (a_i + pi, pi - a_j, a_k + pi)
    that is closest to the previous frame."""
    e = np.moveaxis(np.asarray(e, dtype=np.float64), axis, 0)
    out = np.unwrap(e, axis=0)
    if len(out) < 2 or np.max(np.abs(np.diff(out, axis=0))) < 0.5:
        return np.moveaxis(out, 0, axis)
    i, j, k = (_AXIS[c] for c in order)
    alt = e.copy()
    alt[..., i] += np.pi
    alt[..., j] = np.pi - alt[..., j]
    alt[..., k] += np.pi
    two_pi = 2.0 * np.pi
    flat_e = e.reshape(len(e), -1, 3)
    flat_a = alt.reshape(len(e), -1, 3)
    res = np.empty_like(flat_e)
    res[0] = flat_e[0]
    for f in range(1, len(e)):
        prev = res[f - 1]
        c1 = flat_e[f] + two_pi * np.round((prev - flat_e[f]) / two_pi)
        c2 = flat_a[f] + two_pi * np.round((prev - flat_a[f]) / two_pi)
        better = np.sum((c2 - prev) ** 2, axis=-1) < np.sum((c1 - prev) ** 2, axis=-1)
        res[f] = np.where(better[:, None], c2, c1)
    return np.moveaxis(res.reshape(e.shape), 0, axis)
