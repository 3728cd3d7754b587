"""The solver's joint limits: knees and elbows as hinges within their ranges, toes as hinges (numpy only,
no bpy; the conventions and ranges come from local_engine.joint_conventions, nothing is repeated here).

A solver's pose gives every bone three degrees of freedom; Move's skeleton has hinges. For a knee or an elbow
the hinge angle is the bend between the two bones (so the ankle or wrist keeps its place), the hinge axis is
turned to be normal to the bend plane by twisting the parent bone (hip or shoulder, which absorbs the
residual), and the child below (foot, hand) keeps its world orientation, so its joint (ankle, wrist) absorbs
the twist the forearm or shin loses. An angle out of range is clamped and the limb is aimed so the ankle or
wrist stays on its line from the hip or shoulder. A toe keeps the part of its rotation about its hinge axis.
Must not change the hips, spine, neck or anything above the limbs.
"""

from __future__ import annotations

import numpy as np

from .joint_conventions import CONVENTIONS, JointConvention
from .motion import MoveMotion
from .rotations import axis_matrix, matrix_to_quat, quat_to_matrix


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _perp(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    return v - np.einsum("...i,...i->...", v, n)[..., None] * n


def _frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) orthonormal frame with columns a, b' (b made normal to a), a x b'."""
    a = _unit(a)
    b = _unit(_perp(b, a))
    return np.stack([a, b, np.cross(a, b)], -1)


def _rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations about one fixed unit axis (3,) by ``angle`` (...,) (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def _limb(mats: np.ndarray, heads: np.ndarray, rest: np.ndarray, conv: JointConvention,
          index: dict[str, int]) -> None:
    """Make ``conv``'s joint a hinge in range in place (mats: (F, B, 3, 3) armature-space deltas)."""
    p, c = index[conv.parent or ""], index[conv.bone]
    # the bone below whose head is the next joint (ankle, wrist)
    g = index[next(j.bone for j in CONVENTIONS.values() if j.parent == conv.bone)]
    e = conv.hinge_axis()  # the listed angle is the rotation about e
    lo, hi = conv.hinge or (-np.pi, np.pi)
    o1, o2 = rest[c] - rest[p], rest[g] - rest[c]
    H, K, A = heads[:, p], heads[:, c], heads[:, g]
    u1, u2 = K - H, A - K
    bend = np.cross(u1, u2)
    a0 = mats[:, p] @ e  # the parent's current hinge axis
    s = np.where(np.einsum("fi,fi->f", bend, a0) < 0, -1.0, 1.0)
    chord = A - H
    # the hinge axis: the bend normal where the limb is bent, the parent's axis where it is straight
    strength = np.linalg.norm(bend, axis=-1) / (np.linalg.norm(u1, axis=-1) * np.linalg.norm(u2, axis=-1))
    w = np.clip(strength / np.sin(np.radians(5.0)), 0.0, 1.0)[:, None]
    axis = _unit(w * s[:, None] * _unit(bend) + (1 - w) * _unit(_perp(a0, _unit(chord))))
    axis = _unit(_perp(axis, _unit(chord)))
    bend_angle = s * np.arctan2(np.linalg.norm(bend, axis=-1), np.einsum("fi,fi->f", u1, u2))
    rest_angle = np.arctan2(np.dot(np.cross(o1, o2), e), np.dot(o1, o2))
    theta = np.clip(bend_angle - rest_angle, lo, hi)
    hinge = _rotation(e, theta)
    local_chord = o1 + hinge @ o2
    q_p = _frame(axis, chord) @ np.swapaxes(_frame(np.broadcast_to(e, local_chord.shape), local_chord), -1, -2)
    mats[:, p] = q_p
    mats[:, c] = q_p @ hinge


def _toe(mats: np.ndarray, conv: JointConvention, index: dict[str, int]) -> None:
    p, c = index[conv.parent or ""], index[conv.bone]
    rel = np.swapaxes(mats[:, p], -1, -2) @ mats[:, c]
    axis, sign, _ = conv.factors[0]
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    angle = np.arctan2(rel[:, k, j] - rel[:, j, k], rel[:, j, j] + rel[:, k, k])  # about +letter axis
    lo, hi = conv.hinge or (-np.pi, np.pi)
    angle = sign * np.clip(sign * angle, lo, hi)
    mats[:, c] = mats[:, p] @ axis_matrix(axis, angle)


def apply_joint_limits(motion: MoveMotion) -> MoveMotion:
    """``motion`` with knees, elbows and toes made hinges within their ranges (a new MoveMotion; the hips
    path, bone lengths, contacts and metadata are kept). Idempotent."""
    # Only the body matters (fingers follow their hand, which keeps its orientation): a sub-skeleton of the
    # bones down to the limbs, parents first, with their heads by forward kinematics.
    parents = motion.parents
    body = [i for i, n in enumerate(motion.bones) if not (n[-1].isdigit() and "Hand" in n)]
    index = {motion.bones[i]: k for k, i in enumerate(body)}
    mats = quat_to_matrix(motion.rotations[:, body])
    heads = np.zeros((motion.frame_count, len(body), 3))
    for k, i in enumerate(body):
        p = parents[i]
        if p < 0:
            heads[:, k] = motion.hips_positions
        else:
            kp = index[motion.bones[p]]
            heads[:, k] = heads[:, kp] + mats[:, kp] @ (motion.rest_heads[i] - motion.rest_heads[p])
    rest = motion.rest_heads[body]
    changed = set()
    for conv in CONVENTIONS.values():
        if conv.hinge is None:
            continue
        if conv.name.endswith("toe"):
            _toe(mats, conv, index)
        else:
            _limb(mats, heads, rest, conv, index)
            changed.add(index[conv.parent or ""])
        changed.add(index[conv.bone])
    quats = motion.rotations.copy()
    for k in sorted(changed):
        q = matrix_to_quat(mats[:, k])
        prev = motion.rotations[:, body[k]]
        quats[:, body[k]] = np.where(np.einsum("fi,fi->f", q, prev)[:, None] < 0, -q, q)
    return MoveMotion(fps=motion.fps, rotations=quats, hips_positions=motion.hips_positions.copy(),
                      bones=list(motion.bones), rest_heads=motion.rest_heads, rest_tails=motion.rest_tails,
                      foot_contacts=None if motion.foot_contacts is None else motion.foot_contacts.copy(),
                      metadata=dict(motion.metadata), actor=motion.actor)
