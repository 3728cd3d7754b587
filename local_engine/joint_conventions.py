"""Move's MOTION_DATA joint conventions, as read from Move's own sample file: the one table of them in the
engine (numpy only, no bpy; the add-on's reader never imports this: it decodes a file by its ``type`` strings
and the data, as a reader of any file must).

Each MOTION_DATA joint sits at the head of one bone of Move's skeleton (local_engine.motion) and rotates
relative to its parent joint's bone (the root's relative to the world). Relative rotations are expressed in
the T-pose frame, whose axes are the world's (Z up, the character faces -Y, its left is +X): ``Rel =
Q_parent^T Q_bone`` with Q the armature-space deltas from rest of a MoveMotion.

A joint's ``type`` (``euler_xyz``, ``euler_zyx``, ``euler_x``, ``euler_z``) names the angles in the order they
are listed in ``rotations``; ``factors`` says how Move composes them, left to right in the matrix product, each
factor a rotation about a signed world axis of the T-pose by one listed angle. Found on Move's sample
(move-ai/recipes ``mocap_data_sample.json``, 289 frames) as the only composition under which every child
joint keeps a constant offset in its parent joint's frame (to 1e-15 m):

- Root, Spine1, Spine2: ``Rx(a0) Ry(a1) Rz(a2)``.
- hips: ``Rz(a2) Ry(a1) Rx(a0)``; ankles: ``Rz(a0) Ry(a1) Rx(a2)``, the left ankle's first angle about -Z.
- knees and toes: hinges about +X (knee flexion and toe plantar flexion positive).
- elbows: hinges about +Z (left) and -Z (right): flexion is negative on both sides.
- shoulders: ``Rx(-a2) Ry(a1) Rz(a0)`` (left), ``Rx(a2) Ry(a1) Rz(-a0)`` (right): Move's arm frame has its Z
  axis along the arm, pointing at the body.
- wrists and neck: ``euler_zyx`` composed like the right ankle. These joints have no child joint in the file,
  so the sample cannot show their composition; this is the choice the zyx joints that can be checked make.

``hinge`` joints carry the range (radians) the solver keeps them in (local_engine.joint_limits); the bounds
near zero are those Move's sample shows (its knees never go below 0, its elbows never above 0.0099).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rotations import axis_matrix


@dataclass(frozen=True)
class JointConvention:
    name: str  # MOTION_DATA joint
    bone: str  # Move bone whose head is the joint
    parent: str | None  # Move bone the rotation is relative to (None: the world)
    type: str  # Move's type string
    factors: tuple[tuple[str, int, int], ...]  # (world axis x/y/z, sign, listed angle index), product order
    hinge: tuple[float, float] | None = None  # range of the one angle of a hinge joint, radians

    @property
    def angles(self) -> int:
        return len(self.factors)

    def hinge_axis(self) -> np.ndarray:
        """The unit hinge axis in the T-pose frame (parent bone's frame at rest)."""
        axis, sign, _ = self.factors[0]
        return sign * np.eye(3)["xyz".index(axis)]


_XYZ = (("x", 1, 0), ("y", 1, 1), ("z", 1, 2))
_ZYX_OF_XYZ = (("z", 1, 2), ("y", 1, 1), ("x", 1, 0))
_ZYX = (("z", 1, 0), ("y", 1, 1), ("x", 1, 2))
KNEE = (0.0, 2.6)  # 0 to 150 degrees of flexion
ELBOW = (-2.6, 0.0099)
TOE = (-1.0, 0.5)  # about 57 degrees of extension (push-off) to 29 of flexion

CONVENTIONS: dict[str, JointConvention] = {c.name: c for c in (
    JointConvention("Root", "Hips", None, "euler_xyz", _XYZ),
    JointConvention("Left_hip", "LeftUpLeg", "Hips", "euler_xyz", _ZYX_OF_XYZ),
    JointConvention("Left_knee", "LeftLeg", "LeftUpLeg", "euler_x", (("x", 1, 0),), KNEE),
    JointConvention("Left_ankle", "LeftFoot", "LeftLeg", "euler_zyx", (("z", -1, 0), ("y", 1, 1), ("x", 1, 2))),
    JointConvention("Left_toe", "LeftToeBase", "LeftFoot", "euler_x", (("x", 1, 0),), TOE),
    JointConvention("Right_hip", "RightUpLeg", "Hips", "euler_xyz", _ZYX_OF_XYZ),
    JointConvention("Right_knee", "RightLeg", "RightUpLeg", "euler_x", (("x", 1, 0),), KNEE),
    JointConvention("Right_ankle", "RightFoot", "RightLeg", "euler_zyx", _ZYX),
    JointConvention("Right_toe", "RightToeBase", "RightFoot", "euler_x", (("x", 1, 0),), TOE),
    JointConvention("Spine1", "Spine", "Hips", "euler_xyz", _XYZ),
    JointConvention("Spine2", "Spine1", "Spine", "euler_xyz", _XYZ),
    JointConvention("Left_shoulder_rotation", "LeftArm", "Spine1", "euler_xyz",
                    (("x", -1, 2), ("y", 1, 1), ("z", 1, 0))),
    JointConvention("Left_elbow", "LeftForeArm", "LeftArm", "euler_z", (("z", 1, 0),), ELBOW),
    JointConvention("Left_wrist", "LeftHand", "LeftForeArm", "euler_zyx", _ZYX),
    JointConvention("Neck", "Neck", "Spine1", "euler_zyx", _ZYX),
    JointConvention("Right_shoulder_rotation", "RightArm", "Spine1", "euler_xyz",
                    (("x", 1, 2), ("y", 1, 1), ("z", -1, 0))),
    JointConvention("Right_elbow", "RightForeArm", "RightArm", "euler_z", (("z", -1, 0),), ELBOW),
    JointConvention("Right_wrist", "RightHand", "RightForeArm", "euler_zyx", _ZYX),
)}


def _tait_bryan(m: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) angles (b0, b1, b2) with m = R_order[0](b0) @ R_order[1](b1) @ R_order[2](b2), distinct axes."""
    i, j, k = ("xyz".index(c) for c in order)
    e = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders (xyz, yzx, zxy)
    b1 = np.arcsin(np.clip(e * m[..., i, k], -1.0, 1.0))
    b0 = np.arctan2(-e * m[..., j, k], m[..., k, k])
    b2 = np.arctan2(-e * m[..., i, j], m[..., i, i])
    return np.stack([b0, b1, b2], -1)


def _hinge_angle(m: np.ndarray, axis: str) -> np.ndarray:
    """The angle of m about one axis (exact for a rotation about it; its twist part otherwise)."""
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    return np.arctan2(m[..., k, j] - m[..., j, k], m[..., j, j] + m[..., k, k])


def encode(conv: JointConvention, rel: np.ndarray) -> np.ndarray:
    """(..., n) Move angles of relative rotations ``rel`` (..., 3, 3) in the joint's convention."""
    out = np.empty((*rel.shape[:-2], conv.angles))
    if conv.angles == 1:
        axis, sign, _ = conv.factors[0]
        out[..., 0] = sign * _hinge_angle(rel, axis)
        return out
    b = _tait_bryan(rel, "".join(f[0] for f in conv.factors))
    for k, (_, sign, index) in enumerate(conv.factors):
        out[..., index] = sign * b[..., k]
    return out


def factor_matrices(conv: JointConvention, angles: np.ndarray) -> list[np.ndarray]:
    """The factors (each (..., 3, 3)) of the joint's rotation, in product order."""
    return [axis_matrix(axis, sign * angles[..., index]) for axis, sign, index in conv.factors]


def decode(conv: JointConvention, angles: np.ndarray) -> np.ndarray:
    """(..., 3, 3) relative rotations from Move angles (..., n)."""
    out = None
    for m in factor_matrices(conv, angles):
        out = m if out is None else out @ m
    assert out is not None
    return out


def angle_axes(conv: JointConvention, angles: np.ndarray) -> np.ndarray:
    """(..., n, 3) each listed angle's rotation axis in the parent bone's T-pose frame (what a torque is
    projected on to give that angle's generalised torque)."""
    mats = factor_matrices(conv, angles)
    out = np.empty((*angles.shape[:-1], conv.angles, 3))
    acc = np.broadcast_to(np.eye(3), (*angles.shape[:-1], 3, 3))
    for m, (axis, sign, index) in zip(mats, conv.factors):
        out[..., index, :] = sign * acc[..., :, "xyz".index(axis)]
        acc = acc @ m
    return out
