"""Move's output skeleton as the add-on sees it: bone names, parents and the T-pose rest (no bpy here).

The local engine keeps its own copy (the add-on never imports it); tests/importers check that both agree.
Conventions of Move's files: Z up, the character faces -Y, its left is +X, metres; bones carry an actor
namespace (``_1:Hips``); rest is a T-pose (arms along +/-X, legs straight down).
Must not import bpy or anything outside the standard library and numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class MoveBone:
    name: str  # without namespace
    parent: str | None
    head: Vec  # rest, armature space, metres
    tail: Vec


def _add(a: Vec, b: Vec, k: float = 1.0) -> Vec:
    return (a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2])


def _build() -> tuple[MoveBone, ...]:
    bones = [
        MoveBone("Hips", None, (0.0, 0.0, 0.95), (0.0, 0.0, 1.05)),
        MoveBone("Spine", "Hips", (0.0, 0.0, 1.05), (0.0, 0.0, 1.20)),
        MoveBone("Spine1", "Spine", (0.0, 0.0, 1.20), (0.0, 0.0, 1.45)),
        MoveBone("Neck", "Spine1", (0.0, 0.0, 1.45), (0.0, 0.0, 1.58)),
        MoveBone("Head", "Neck", (0.0, 0.0, 1.58), (0.0, 0.0, 1.78)),
    ]
    # Finger roots (for the left hand, mirrored in X for the right) and the first phalanx vector; each
    # further phalanx is 15 % shorter than the one before.
    fingers: dict[str, tuple[Vec, Vec]] = {
        "Thumb": ((0.735, -0.03, 1.40), (0.030, -0.018, -0.006)),
        "Index": ((0.80, -0.025, 1.41), (0.035, 0.0, 0.0)),
        "Middle": ((0.805, -0.005, 1.41), (0.037, 0.0, 0.0)),
        "Ring": ((0.80, 0.013, 1.41), (0.034, 0.0, 0.0)),
        "Pinky": ((0.79, 0.03, 1.41), (0.027, 0.0, 0.0)),
    }
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        chain: list[tuple[str, str, Vec, Vec]] = [
            ("Shoulder", "Spine1", (0.03, 0.0, 1.41), (0.17, 0.0, 1.41)),
            ("Arm", "Shoulder", (0.17, 0.0, 1.41), (0.45, 0.0, 1.41)),
            ("ForeArm", "Arm", (0.45, 0.0, 1.41), (0.71, 0.0, 1.41)),
            ("Hand", "ForeArm", (0.71, 0.0, 1.41), (0.80, 0.0, 1.41)),
            ("UpLeg", "Hips", (0.09, 0.0, 0.92), (0.09, 0.0, 0.50)),
            ("Leg", "UpLeg", (0.09, 0.0, 0.50), (0.09, 0.0, 0.08)),
            ("Foot", "Leg", (0.09, 0.0, 0.08), (0.09, -0.13, 0.02)),
            ("ToeBase", "Foot", (0.09, -0.13, 0.02), (0.09, -0.20, 0.02)),
        ]
        for part, parent, head, tail in chain:
            p = parent if parent.startswith("Spine") or parent == "Hips" else side + parent
            bones.append(MoveBone(side + part, p, (sx * head[0], head[1], head[2]), (sx * tail[0], tail[1], tail[2])))
        for finger, (root, step) in fingers.items():
            parent = side + "Hand"
            head = (sx * root[0], root[1], root[2])
            d = (sx * step[0], step[1], step[2])
            for i in (1, 2, 3):
                tail = _add(head, d, 1.0 - 0.15 * (i - 1))
                bones.append(MoveBone(f"{side}Hand{finger}{i}", parent, head, tail))
                parent, head = f"{side}Hand{finger}{i}", tail
    return tuple(bones)


#: Move's skeleton, parents before children, names without namespace.
MOVE_SKELETON: tuple[MoveBone, ...] = _build()
MOVE_BONE_NAMES: tuple[str, ...] = tuple(b.name for b in MOVE_SKELETON)
MOVE_PARENTS: dict[str, str | None] = {b.name: b.parent for b in MOVE_SKELETON}
BY_NAME: dict[str, MoveBone] = {b.name: b for b in MOVE_SKELETON}
FINGER_BONES: tuple[str, ...] = tuple(n for n in MOVE_BONE_NAMES if "Hand" in n and n[-1].isdigit())
BODY_BONES: tuple[str, ...] = tuple(n for n in MOVE_BONE_NAMES if n not in FINGER_BONES)

#: MOTION_DATA joint -> the Move bone whose head sits at that joint.
MOTION_DATA_JOINTS: dict[str, str] = {
    "Root": "Hips",
    "Left_hip": "LeftUpLeg",
    "Left_knee": "LeftLeg",
    "Left_ankle": "LeftFoot",
    "Left_toe": "LeftToeBase",
    "Right_hip": "RightUpLeg",
    "Right_knee": "RightLeg",
    "Right_ankle": "RightFoot",
    "Right_toe": "RightToeBase",
    "Spine1": "Spine",
    "Spine2": "Spine1",
    "Neck": "Neck",
    "Left_shoulder_rotation": "LeftArm",
    "Left_elbow": "LeftForeArm",
    "Left_wrist": "LeftHand",
    "Right_shoulder_rotation": "RightArm",
    "Right_elbow": "RightForeArm",
    "Right_wrist": "RightHand",
}

#: MOTION_DATA joint -> its parent joint (the chain Move's rotations are relative to).
MOTION_DATA_PARENTS: dict[str, str | None] = {
    "Root": None,
    "Left_hip": "Root", "Left_knee": "Left_hip", "Left_ankle": "Left_knee", "Left_toe": "Left_ankle",
    "Right_hip": "Root", "Right_knee": "Right_hip", "Right_ankle": "Right_knee", "Right_toe": "Right_ankle",
    "Spine1": "Root", "Spine2": "Spine1", "Neck": "Spine2",
    "Left_shoulder_rotation": "Spine2", "Left_elbow": "Left_shoulder_rotation", "Left_wrist": "Left_elbow",
    "Right_shoulder_rotation": "Spine2", "Right_elbow": "Right_shoulder_rotation", "Right_wrist": "Right_elbow",
}

_NAMESPACE = re.compile(r"^_(\d+):(.+)$")


def bone_name(bone: str, actor: int = 1) -> str:
    """Move's namespaced bone name: ``bone_name("Hips", 1) == "_1:Hips"``."""
    return f"_{actor}:{bone}"


def split_bone_name(name: str) -> tuple[int | None, str]:
    """``"_2:Hips" -> (2, "Hips")``; names without a Move namespace give ``(None, name)``."""
    m = _NAMESPACE.match(name)
    return (int(m.group(1)), m.group(2)) if m else (None, name)


def actors_in(names: list[str] | tuple[str, ...]) -> list[int]:
    """The actor numbers whose namespaced Hips appear among ``names``, sorted."""
    found = {a for a, base in map(split_bone_name, names) if a is not None and base == "Hips"}
    return sorted(found)
