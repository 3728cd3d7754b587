"""The engine's rotation conversions (local_engine/rotations.py, on scipy) against formulas written out here:
the w-x-y-z order, rotation vectors (OpenCV's rvec), axis rotations, shortest arcs (also at and near a half
turn) and slerp."""

from __future__ import annotations

import numpy as np

from local_engine import rotations as R
from local_engine.pose.rotations import continuous


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _hamilton_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = _unit(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def test_quaternions_are_w_first_and_come_back_with_w_positive() -> None:
    rng = np.random.default_rng(5)
    q = rng.normal(size=(6, 5, 4))
    m = R.quat_to_matrix(q)
    assert m.shape == (6, 5, 3, 3)
    for idx in np.ndindex(6, 5):
        np.testing.assert_allclose(m[idx], _hamilton_matrix(q[idx]), atol=1e-12)
    back = R.matrix_to_quat(m)
    assert np.all(back[..., 0] >= 0)
    np.testing.assert_allclose(back, _unit(q) * np.sign(q[..., :1]), atol=1e-12)
    # 90 degrees about Z, written by hand: (cos 45, 0, 0, sin 45) turns +X into +Y.
    np.testing.assert_allclose(R.quat_to_matrix(np.array([np.sqrt(0.5), 0, 0, np.sqrt(0.5)])) @ [1, 0, 0],
                               [0, 1, 0], atol=1e-12)


def test_rotation_vectors_and_axis_rotations() -> None:
    rng = np.random.default_rng(6)
    v = rng.normal(size=(20, 3))
    v[0] = 0.0
    v[1] = [1e-9, 0, 0]
    for vec, m in zip(v, R.rotvec_to_matrix(v)):
        theta = np.linalg.norm(vec)
        k = np.array([[0, -vec[2], vec[1]], [vec[2], 0, -vec[0]], [-vec[1], vec[0], 0]]) / max(theta, 1e-300)
        np.testing.assert_allclose(m, np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * k @ k, atol=1e-12)
    small = v[2:] / np.linalg.norm(v[2:], axis=1, keepdims=True) * rng.uniform(0.1, 3.0, size=(18, 1))
    np.testing.assert_allclose(R.matrix_to_rotvec(R.rotvec_to_matrix(small)), small, atol=1e-10)
    a = np.radians(30.0)
    c, s = np.cos(a), np.sin(a)
    np.testing.assert_allclose(R.axis_matrix("x", np.array([a])), [[[1, 0, 0], [0, c, -s], [0, s, c]]], atol=1e-12)
    np.testing.assert_allclose(R.axis_matrix("Y", a), [[c, 0, s], [0, 1, 0], [-s, 0, c]], atol=1e-12)
    np.testing.assert_allclose(R.axis_matrix("Z", a), [[c, -s, 0], [s, c, 0], [0, 0, 1]], atol=1e-12)
    assert R.axis_matrix("Z", np.zeros((4, 2))).shape == (4, 2, 3, 3)


def test_shortest_arcs_including_half_turns() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(size=(50, 3))
    b = rng.normal(size=(50, 3))
    b[0] = -a[0]  # a half turn
    b[1] = 3 * a[1]  # no turn
    b[2] = -a[2] + 1e-7 * np.cross(a[2], [0, 0, 1])  # nearly a half turn
    b[3] = [-1.0, 0, 0]
    a[3] = [1.0, 0, 0]
    m = R.rotation_between(a, b)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", m, _unit(a)), _unit(b), atol=1e-9)
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)
    np.testing.assert_allclose(m[1], np.eye(3), atol=1e-12)
    # The shortest arc: its axis is perpendicular to both directions (no twist about either).
    axis = R.matrix_to_rotvec(m[4:])
    np.testing.assert_allclose(np.einsum("ni,ni->n", axis, a[4:]), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(axis, axis=1),
                               np.arccos(np.einsum("ni,ni->n", _unit(a[4:]), _unit(b[4:]))), atol=1e-9)


def test_slerp_and_sign_continuity() -> None:
    half = np.radians(40.0)
    q0 = np.array([1.0, 0, 0, 0])
    q1 = -np.array([np.cos(half), 0, np.sin(half), 0])  # the same rotation as +q1: the short way round
    t = np.array([[0.0], [0.25], [1.0]])
    got = R.slerp(np.tile(q0, (3, 1)), np.tile(q1, (3, 1)), t)
    want = np.array([[np.cos(k * half), 0, np.sin(k * half), 0] for k in (0.0, 0.25, 1.0)])
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(R.slerp(q0, q1, 0.5), [np.cos(half / 2), 0, np.sin(half / 2), 0], atol=1e-12)
    q = np.array([[1.0, 0, 0, 0], [-0.99, -0.1, 0, 0], [0.98, 0.2, 0, 0], [0.97, 0.3, 0, 0]])
    np.testing.assert_allclose(continuous(q), q * np.array([1, -1, 1, 1])[:, None])
