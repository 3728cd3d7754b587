"""What a retarget does: :class:`RetargetOptions`, one frozen, typed object, checked when it is made.

The Retarget panel (``retarget.settings.options_from_settings``), the retarget operator
(``retarget.ops.options_from_operator``), the import operator (``importers.ops.options_from_operator``)
and the command line (``--root-motion`` ...) each build it with one function; JSON presets of extra options
come in through :meth:`RetargetOptions.from_dict`. Plain data: must not import bpy.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .mapping import BoneMapping

#: Where the root motion goes on the target: (key, label, description), the panel's and operators' choices.
ROOT_MOTION_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("HIPS", "On Hips", "Root motion stays on the hips bone"),
    ("OBJECT", "To Object", "Horizontal root motion moves the armature object (keys in the new action)"),
    ("BONE", "To Root Bone", "Horizontal root motion moves the target's root bone"),
    ("IN_PLACE", "In Place", "Remove horizontal root motion"),
)
ROOT_MOTIONS: tuple[str, ...] = tuple(i[0] for i in ROOT_MOTION_ITEMS)
ROOT_ROTATION_DESCRIPTION = ("With root motion to the object or a root bone, it also turns with the hips' heading "
                             "(about the up axis); the bones below are counter-turned")
INTERPOLATIONS = ("BEZIER", "LINEAR")


class RetargetOptionsError(ValueError):
    """An option is unknown or out of range; the message names it and what it accepts."""


@dataclass(frozen=True)
class RetargetOptions:
    """What the retarget engine does. Frames are the source action's frames; output starts at
    ``frame_offset``. Made invalid, it raises :class:`RetargetOptionsError`."""

    # None: detected from bone names and geometry; a mapping with an empty source side has that side detected
    mapping: BoneMapping | None = None
    root_motion: str = "HIPS"  # one of ROOT_MOTIONS: 'HIPS', 'OBJECT' (armature object), 'BONE', 'IN_PLACE'
    root_bone: str = ""  # target bone for root_motion='BONE' (default: the mapping's root slot)
    root_rotation: bool = False  # OBJECT/BONE: the root also turns with the hips' heading (about up)
    fingers: bool = True
    frame_start: float | None = None  # None: first key of the source action
    frame_end: float | None = None  # None: last key
    source_fps: float = 0.0  # frame rate of the source action's frames; 0: the scene's
    target_fps: float = 0.0  # output frame rate; 0: same as source (one key per source frame)
    frame_offset: float | None = None  # first output frame; None: frame_start
    translation_scale: float = 0.0  # 0: target leg length / source leg length
    floor_clamp: bool = True  # lift the hips on frames where the target's feet would sink below the floor
    action_name: str = ""  # default "<target>_<source action>"
    stash_previous: bool = True  # keep the target's previous action in a muted NLA track
    fk_switch: bool = True  # key the rig's FK switches in the new action (Rigify IK_FK, neck/head follow;
    # Auto-Rig Pro ik_fk_switch), so its deforming bones follow the FK controls the retarget keys
    source_namespace: str | None = None  # Move actor, e.g. "_2:" (default: the first)
    interpolation: str = "BEZIER"  # or 'LINEAR' (keys are dense: values between frames differ slightly)
    # Clean-ups run on the retarget's own values before its one write, in the same undo step (review.legs: the
    # functions of the operators of the same names)
    foot_lock: bool = False  # planted feet stay where they were planted (contacts stored or detected)
    smooth: float = 0.0  # smoothing strength, 0 (off) to 1; planted feet are kept where they were
    keep_raw: bool = False  # with a clean-up: also keep the take before it ("<name>_raw", in a muted NLA track)

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise RetargetOptionsError(problem)

    def problem(self) -> str | None:
        """Why these options cannot be used, or None (the one check of every field)."""
        if self.root_motion not in ROOT_MOTIONS:
            return f"root_motion {self.root_motion!r} is not one of {', '.join(ROOT_MOTIONS)}"
        if self.interpolation not in INTERPOLATIONS:
            return f"interpolation {self.interpolation!r} is not one of {', '.join(INTERPOLATIONS)}"
        if self.mapping is not None and not isinstance(self.mapping, BoneMapping):
            return "mapping must be a bone mapping (load a preset with the Retarget panel)"
        for name in ("source_fps", "target_fps", "translation_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
                    or value < 0:
                return f"{name} must be a number, 0 or more (got {value!r})"
        for name in ("frame_start", "frame_end", "frame_offset"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                      or not math.isfinite(value)):
                return f"{name} must be a frame number (got {value!r})"
        if self.frame_start is not None and self.frame_end is not None and self.frame_end < self.frame_start:
            return f"frame_end ({self.frame_end:g}) is before frame_start ({self.frame_start:g})"
        if isinstance(self.smooth, bool) or not isinstance(self.smooth, numbers.Real) \
                or not 0.0 <= self.smooth <= 1.0:
            return f"smooth must be a strength from 0 (off) to 1 (got {self.smooth!r})"
        for name in ("root_rotation", "fingers", "floor_clamp", "stash_previous", "fk_switch", "foot_lock",
                     "keep_raw"):
            if not isinstance(getattr(self, name), bool):
                return f"{name} must be true or false (got {getattr(self, name)!r})"
        for name in ("root_bone", "action_name"):
            if not isinstance(getattr(self, name), str):
                return f"{name} must be text (got {getattr(self, name)!r})"
        if self.source_namespace is not None and not isinstance(self.source_namespace, str):
            return f"source_namespace must be text such as '_2:' (got {self.source_namespace!r})"
        return None

    def but(self, **changes: Any) -> RetargetOptions:
        """A copy with ``changes`` (checked like any new options)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: RetargetOptions | None = None) -> RetargetOptions:
        """``base`` (default: the defaults) with the fields in ``data`` (e.g. parsed JSON); an unknown field
        or a bad value raises :class:`RetargetOptionsError` naming it."""
        if not isinstance(data, Mapping):
            raise RetargetOptionsError(f"retarget options must be an object of names and values, not "
                                       f"{type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise RetargetOptionsError(f"unknown retarget options: {', '.join(unknown)} "
                                       f"(known: {', '.join(sorted(fields))})")
        changes = dict(data)
        if isinstance(changes.get("mapping"), Mapping):
            try:
                changes["mapping"] = BoneMapping.from_dict(dict(changes["mapping"]))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise RetargetOptionsError(f"mapping is not a bone mapping preset ({exc})") from exc
        try:
            return dataclasses.replace(base or cls(), **changes)
        except TypeError as exc:  # pragma: no cover - every field has a default and is checked above
            raise RetargetOptionsError(str(exc)) from exc
