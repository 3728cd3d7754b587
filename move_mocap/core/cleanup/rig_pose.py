"""A rig's pose over a whole take from its action's channels, through the retarget's dependency model
(numpy only, no bpy here).

The retarget engine describes a target rig by a :class:`~..retarget.solver.TargetModel`: for each solved bone,
its armature-space orientation and head with identity channels, and which solved bone its rotation and its
position follow (learnt by probing Blender for rigs driven by constraints, such as Rigify). The retarget uses
it one way (world pose -> channels); the clean-up tools need both ways: :func:`evaluate` gives the pose an
action's channels produce, :func:`basis_rotation` the channel rotation that gives a wanted orientation.

Bones outside the model are not evaluated; :func:`closure` gives the bones a few wanted ones depend on, so a
clean-up touching only the legs evaluates (and reads) only those. Scale channels are not evaluated (mocap does not scale bones).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from ..retarget import quat as Q
from ..retarget.solver import TargetModel

_NO_HEAD = np.empty((0, 3))  # a head not evaluated (evaluate's ``heads``)


@dataclass
class Pose:
    """Armature-space orientations and heads (F, 4) / (F, 3) of the model's bones, by name."""

    rot: dict[str, np.ndarray]
    head: dict[str, np.ndarray]


def closure(model: TargetModel, bones: Iterable[str]) -> set[str]:
    """``bones`` and every model bone they follow (rotation or position), recursively."""
    out: set[str] = set()
    todo = [model.bones.index(b) for b in bones if b in model.bones]
    while todo:
        k = todo.pop()
        name = model.bones[k]
        if name in out:
            continue
        out.add(name)
        todo += [a for a in (model.rot_follow[k], model.pos_follow[k]) if a >= 0]
    return out


def head_closure(model: TargetModel, bones: Iterable[str]) -> set[str]:
    """``bones`` and every model bone their heads follow, recursively: the heads to evaluate when only
    ``bones``' positions are used (:func:`evaluate`'s ``heads``)."""
    out: set[str] = set()
    todo = [model.bones.index(b) for b in bones if b in model.bones]
    while todo:
        k = todo.pop()
        if model.bones[k] in out:
            continue
        out.add(model.bones[k])
        if model.pos_follow[k] >= 0:
            todo.append(model.pos_follow[k])
    return out


def dependents(model: TargetModel, bones: Iterable[str]) -> set[str]:
    """``bones`` and every model bone following one of them (rotation or position), recursively: what to
    evaluate again when only ``bones``' channels changed."""
    out = set(bones)
    for k, name in enumerate(model.bones):  # dependency order: followed bones come first
        if any(a >= 0 and model.bones[a] in out for a in (model.rot_follow[k], model.pos_follow[k])):
            out.add(name)
    return out


def _parent_rot(model: TargetModel, k: int, rot: list[np.ndarray], frames: int) -> np.ndarray:
    a = model.rot_follow[k]
    if a < 0:
        return np.broadcast_to(model.p0_rot[k], (frames, 4))
    return Q.mul(rot[a], Q.mul(Q.conj(model.p0_rot[a]), model.p0_rot[k])[None])


def evaluate(model: TargetModel, basis_rot: dict[str, np.ndarray], basis_loc: dict[str, np.ndarray],
             frames: int, bones: Collection[str] | None = None, known: Pose | None = None,
             heads: Collection[str] | None = None) -> Pose:
    """The pose the channels give: ``basis_rot`` (F, 4) and ``basis_loc`` (F, 3) per bone (missing: rest).
    ``bones``: only these (a :func:`closure`, or with ``known``, the :func:`dependents` of changed bones);
    default all the model's. ``known``: an earlier pose the bones outside ``bones`` are taken from.
    ``heads``: only these bones' heads are evaluated (a :func:`head_closure`; ``known`` made with the same);
    default all: orientations are cheap next to positions, and a clean-up uses the legs' positions only."""
    rot: list[np.ndarray] = []
    head: list[np.ndarray] = []
    names: list[str] = []
    for k, bone in enumerate(model.bones):
        if bones is not None and bone not in bones:
            if known is not None and bone in known.rot:
                rot.append(known.rot[bone])
                head.append(known.head.get(bone, _NO_HEAD))
                names.append(bone)
            else:  # never read: a closure holds every bone its members follow
                rot.append(np.empty((0, 4)))
                head.append(np.empty((0, 3)))
            continue
        names.append(bone)
        p_rot = _parent_rot(model, k, rot, frames)
        q = basis_rot.get(bone)
        r = np.asarray(p_rot) if q is None else Q.mul(p_rot, q)
        rot.append(np.ascontiguousarray(r))
        if heads is not None and bone not in heads:
            head.append(_NO_HEAD)
            continue
        a = model.pos_follow[k]
        if a >= 0:
            local = Q.rotate(Q.conj(model.p0_rot[a]), model.p0_pos[k] - model.p0_pos[a])
            p_pos = head[a] + Q.rotate(rot[a], local[None])
        else:
            p_pos = np.broadcast_to(model.p0_pos[k], (frames, 3))
        loc = basis_loc.get(bone)
        pos = np.asarray(p_pos) if loc is None else p_pos + Q.rotate(p_rot, loc)
        head.append(np.ascontiguousarray(pos))
    index = {b: k for k, b in enumerate(model.bones)}
    return Pose({b: rot[index[b]] for b in names},
                {b: head[index[b]] for b in names if head[index[b]] is not _NO_HEAD})


def parent_frame(model: TargetModel, bone: str, pose_rot: dict[str, np.ndarray], frames: int) -> np.ndarray:
    """(F, 4) orientation of ``bone``'s parent frame given the orientations of the bones it follows."""
    k = model.bones.index(bone)
    a = model.rot_follow[k]
    if a < 0:
        return np.broadcast_to(model.p0_rot[k], (frames, 4)).copy()
    return Q.mul(pose_rot[model.bones[a]], Q.mul(Q.conj(model.p0_rot[a]), model.p0_rot[k])[None])


def parent_position(model: TargetModel, bone: str, pose: Pose, frames: int) -> np.ndarray:
    """(F, 3) where ``bone``'s head is with a zero location channel, given the pose of the bones it follows."""
    k = model.bones.index(bone)
    a = model.pos_follow[k]
    if a < 0:
        return np.broadcast_to(model.p0_pos[k], (frames, 3)).copy()
    name = model.bones[a]
    local = Q.rotate(Q.conj(model.p0_rot[a]), model.p0_pos[k] - model.p0_pos[a])
    return pose.head[name] + Q.rotate(pose.rot[name], local[None])


def basis_rotation(model: TargetModel, bone: str, want: np.ndarray, pose_rot: dict[str, np.ndarray]) -> np.ndarray:
    """Channel rotations (F, 4) giving ``bone`` the armature-space orientations ``want`` (F, 4), given the
    orientations of the bones it follows (``pose_rot``, already updated for any changed ancestor)."""
    return Q.normalize(Q.mul(Q.conj(parent_frame(model, bone, pose_rot, len(want))), want))
