"""Move's output skeleton and the motion every solver produces, before it is written to any file format.

A solver (replay, mediapipe, ...) turns its input into a :class:`MoveMotion`; the output writers turn a
MoveMotion into MAIN_FBX / MAIN_BLEND / MAIN_GLB / ALL_BVH / MOTION_DATA files. No bpy here.

Conventions (those of Move's own FBX as imported by Move's add-on):
- Z up, the character faces -Y, its left side is +X; metres.
- Rest pose is a T-pose: arms along +/-X, legs straight down, fingers along the arms.
- Bone names carry an actor namespace: ``_1:Hips`` for actor 1 (see :func:`bone_name`).
- ``rotations[f, b]`` is bone b's rotation at frame f *in armature space relative to its rest*
  (a world-space delta, quaternion w, x, y, z): the bone's posed orientation is
  ``rotations[f, b] @ rest_orientation[b]``. This is independent of bone roll.
- ``hips_positions[f]`` is where the Hips bone's head is at frame f, in armature space.
  Every other bone's head follows from the hierarchy (its rest offset from its parent, rotated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# (name, parent, rest head, rest tail) in armature space, metres. Adult of about 1.78 m.
_BODY: list[tuple[str, str | None, tuple[float, float, float], tuple[float, float, float]]] = [
    ("Hips", None, (0.0, 0.0, 0.95), (0.0, 0.0, 1.05)),
    ("Spine", "Hips", (0.0, 0.0, 1.05), (0.0, 0.0, 1.20)),
    ("Spine1", "Spine", (0.0, 0.0, 1.20), (0.0, 0.0, 1.45)),
    ("Neck", "Spine1", (0.0, 0.0, 1.45), (0.0, 0.0, 1.58)),
    ("Head", "Neck", (0.0, 0.0, 1.58), (0.0, 0.0, 1.78)),
]


def _side(prefix: str, sx: float) -> list[tuple[str, str | None, tuple[float, float, float], tuple[float, float, float]]]:
    p = prefix
    bones: list[tuple[str, str | None, tuple[float, float, float], tuple[float, float, float]]] = [
        (f"{p}Shoulder", "Spine1", (0.03 * sx, 0.0, 1.41), (0.17 * sx, 0.0, 1.41)),
        (f"{p}Arm", f"{p}Shoulder", (0.17 * sx, 0.0, 1.41), (0.45 * sx, 0.0, 1.41)),
        (f"{p}ForeArm", f"{p}Arm", (0.45 * sx, 0.0, 1.41), (0.71 * sx, 0.0, 1.41)),
        (f"{p}Hand", f"{p}ForeArm", (0.71 * sx, 0.0, 1.41), (0.80 * sx, 0.0, 1.41)),
        (f"{p}UpLeg", "Hips", (0.09 * sx, 0.0, 0.92), (0.09 * sx, 0.0, 0.50)),
        (f"{p}Leg", f"{p}UpLeg", (0.09 * sx, 0.0, 0.50), (0.09 * sx, 0.0, 0.08)),
        (f"{p}Foot", f"{p}Leg", (0.09 * sx, 0.0, 0.08), (0.09 * sx, -0.13, 0.02)),
        (f"{p}ToeBase", f"{p}Foot", (0.09 * sx, -0.13, 0.02), (0.09 * sx, -0.20, 0.02)),
    ]
    # Fingers: thumb angled forward (-Y) and down, the others spread across Y, all along +/-X.
    finger_roots = {
        "Thumb": ((0.735, -0.03, 1.40), (0.030, -0.018, -0.006)),
        "Index": ((0.80, -0.025, 1.41), (0.035, 0.0, 0.0)),
        "Middle": ((0.805, -0.005, 1.41), (0.037, 0.0, 0.0)),
        "Ring": ((0.80, 0.013, 1.41), (0.034, 0.0, 0.0)),
        "Pinky": ((0.79, 0.03, 1.41), (0.027, 0.0, 0.0)),
    }
    for finger, (root, step) in finger_roots.items():
        parent = f"{p}Hand"
        head = np.array([root[0] * sx, root[1], root[2]])
        d = np.array([step[0] * sx, step[1], step[2]])
        for i in (1, 2, 3):
            tail = head + d * (1.0 - 0.15 * (i - 1))
            bones.append((f"{p}Hand{finger}{i}", parent, tuple(head), tuple(tail)))  # type: ignore[arg-type]
            parent = f"{p}Hand{finger}{i}"
            head = tail
    return bones


#: Move's skeleton without namespace, parents before children.
MOVE_SKELETON = _BODY + _side("Left", 1.0) + _side("Right", -1.0)
MOVE_BONES = [b[0] for b in MOVE_SKELETON]
MOVE_PARENTS = {b[0]: b[1] for b in MOVE_SKELETON}
MOVE_FINGER_BONES = [b for b in MOVE_BONES if "Hand" in b and b[-1].isdigit()]


def parent_indices(bones: list[str]) -> list[int]:
    """Parent index per bone of ``bones`` (Move's hierarchy; -1 for the root)."""
    index = {n: i for i, n in enumerate(bones)}
    return [index[MOVE_PARENTS[n]] if MOVE_PARENTS.get(n) else -1 for n in bones]


def bone_name(bone: str, actor: int = 1) -> str:
    """Move's namespaced bone name: ``bone_name("Hips", 1) == "_1:Hips"``."""
    return f"_{actor}:{bone}"


def rest_heads() -> np.ndarray:
    """(B, 3) rest head positions, in MOVE_BONES order."""
    return np.array([b[2] for b in MOVE_SKELETON], dtype=np.float64)


def rest_tails() -> np.ndarray:
    """(B, 3) rest tail positions, in MOVE_BONES order."""
    return np.array([b[3] for b in MOVE_SKELETON], dtype=np.float64)


@dataclass
class MoveMotion:
    """One actor's motion on Move's skeleton (see the module docstring for the conventions)."""

    fps: float
    rotations: np.ndarray  # (F, B, 4) float, w x y z, armature-space delta from rest, B = len(bones)
    hips_positions: np.ndarray  # (F, 3) float, metres, armature space
    bones: list[str] = field(default_factory=lambda: list(MOVE_BONES))
    rest_heads: np.ndarray = field(default_factory=rest_heads)  # (B, 3)
    rest_tails: np.ndarray = field(default_factory=rest_tails)  # (B, 3)
    foot_contacts: np.ndarray | None = None  # (F, 2) bool: left, right foot on the floor
    metadata: dict[str, Any] = field(default_factory=dict)
    actor: int = 1

    def __post_init__(self) -> None:
        f, b = self.rotations.shape[:2]
        if self.rotations.shape != (f, len(self.bones), 4):
            raise ValueError(f"rotations must be (frames, {len(self.bones)}, 4), got {self.rotations.shape}")
        if self.hips_positions.shape != (f, 3):
            raise ValueError(f"hips_positions must be ({f}, 3), got {self.hips_positions.shape}")
        if self.rest_heads.shape != (b, 3) or self.rest_tails.shape != (b, 3):
            raise ValueError("rest_heads and rest_tails must be (bones, 3)")
        if self.foot_contacts is not None and self.foot_contacts.shape != (f, 2):
            raise ValueError(f"foot_contacts must be ({f}, 2)")
        if not np.isfinite(self.rotations).all() or not np.isfinite(self.hips_positions).all():
            raise ValueError("motion contains NaN or infinite values")

    @property
    def frame_count(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def parents(self) -> list[int]:
        """Parent index per bone (-1 for the root of the hierarchy)."""
        return parent_indices(self.bones)

    def save(self, path: str | Path) -> None:
        """Write to a .npz file (the hand-over format between a solver and the output writers)."""
        import json

        np.savez_compressed(
            path,
            fps=np.array(self.fps),
            rotations=self.rotations,
            hips_positions=self.hips_positions,
            bones=np.array(self.bones),
            rest_heads=self.rest_heads,
            rest_tails=self.rest_tails,
            foot_contacts=self.foot_contacts if self.foot_contacts is not None else np.zeros((0, 2), bool),
            metadata=np.array(json.dumps(self.metadata)),
            actor=np.array(self.actor),
        )

    @classmethod
    def load(cls, path: str | Path) -> MoveMotion:
        import json

        with np.load(path, allow_pickle=False) as z:
            contacts = z["foot_contacts"]
            return cls(
                fps=float(z["fps"]),
                rotations=z["rotations"],
                hips_positions=z["hips_positions"],
                bones=[str(b) for b in z["bones"]],
                rest_heads=z["rest_heads"],
                rest_tails=z["rest_tails"],
                foot_contacts=contacts if len(contacts) else None,
                metadata=json.loads(str(z["metadata"])),
                actor=int(z["actor"]),
            )
