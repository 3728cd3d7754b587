"""The engine's rotation conversions, on scipy's ``Rotation`` (numpy arrays over any leading axes).

The engine's quaternions are (..., 4) arrays in Blender's and Move's order w, x, y, z; scipy's default is
x, y, z, w. :func:`from_quat` and :func:`as_quat` are the one place that order is stated: every other
function here goes through them or through matrices / rotation vectors, which have no order to mind.
Rotation matrices act on column vectors. No bpy here (the add-on's core has its own numpy code: Blender does
not ship scipy); used by the replay solver, forward kinematics, the camera calibrations and the MOTION_DATA
writer.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

_AXES = {"X": np.array([1.0, 0.0, 0.0]), "Y": np.array([0.0, 1.0, 0.0]), "Z": np.array([0.0, 0.0, 1.0])}


def from_quat(q: np.ndarray) -> Rotation:
    """Rotations from (..., 4) quaternions w, x, y, z (normalised by scipy)."""
    return Rotation.from_quat(np.asarray(q, dtype=np.float64), scalar_first=True)


def as_quat(r: Rotation) -> np.ndarray:
    """(..., 4) unit quaternions w, x, y, z of ``r``, with w >= 0."""
    return r.as_quat(canonical=True, scalar_first=True)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions w, x, y, z -> (..., 3, 3) rotation matrices."""
    return from_quat(q).as_matrix()


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices (orthonormalised by scipy) -> unit quaternions w, x, y, z with w >= 0."""
    return as_quat(Rotation.from_matrix(np.asarray(m, dtype=np.float64)))


def slerp(q0: np.ndarray, q1: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Shortest-arc interpolation of w-x-y-z quaternions (..., 4): q0 turned by the fraction ``t`` (a number,
    or (..., 1) like the quaternions' shape; 0 gives q0, 1 gives q1) of the rotation from q0 to q1."""
    r0 = from_quat(q0)
    step = (r0.inv() * from_quat(q1)).as_rotvec()
    return as_quat(r0 * Rotation.from_rotvec(step * np.asarray(t, dtype=np.float64)))


def rotvec_to_matrix(v: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (axis times angle, radians; OpenCV's ``rvec``) -> (..., 3, 3) matrices."""
    return Rotation.from_rotvec(np.asarray(v, dtype=np.float64)).as_matrix()


def matrix_to_rotvec(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) rotation vectors, angle in [0, pi]."""
    return Rotation.from_matrix(np.asarray(m, dtype=np.float64)).as_rotvec()


def axis_matrix(axis: str, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices about X, Y or Z by ``angle`` (...,) radians."""
    return rotvec_to_matrix(np.multiply.outer(np.asarray(angle, dtype=np.float64), _AXES[axis.upper()]))


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The shortest-arc rotation matrices (..., 3, 3) turning directions ``a`` into directions ``b`` (..., 3);
    opposite directions turn half a turn about an axis perpendicular to ``a``."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(sin, np.einsum("...i,...i->...", a, b)[..., None])
    opposite = (sin[..., 0] < 1e-9) & (angle[..., 0] > 1.0)
    if np.any(opposite):
        ao = a[opposite]
        other = np.where((np.abs(ao[:, 0]) < 0.9)[:, None], _AXES["X"], _AXES["Y"])
        axis[opposite] = np.cross(ao, other)
        sin[opposite] = np.linalg.norm(axis[opposite], axis=-1, keepdims=True)
    return rotvec_to_matrix(axis / np.maximum(sin, 1e-300) * angle)
