"""The Retarget panel's settings (bpy layer): the mapping being edited and the retarget options, stored on the
scene (``Scene.move_mocap_retarget``), and the conversions between them and the core's ``BoneMapping`` /
``RetargetOptions``. Read by the panel (:mod:`.panel`), the operators (:mod:`.ops`) and the apply path
(``Runtime.apply_now``, through :func:`options_from_settings`); no drawing here."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..core.retarget.mapping import BoneMapping
from ..core.retarget.options import ROOT_MOTION_ITEMS as _ROOT_MOTION_ITEMS
from ..core.retarget.options import ROOT_ROTATION_DESCRIPTION as ROOT_ROTATION_DESCRIPTION
from ..core.retarget.options import RetargetOptions

ROOT_MOTION_ITEMS = list(_ROOT_MOTION_ITEMS)  # EnumProperty items
#: The panel's settings that are retarget options of the same name (what the panel's Retarget button and
#: Process use).
SETTING_OPTIONS = ("root_motion", "root_rotation", "fingers", "floor_clamp", "translation_scale", "foot_lock",
                   "smooth", "keep_raw")


def retarget_pair(context: Any) -> tuple[Any, Any]:
    """(source, target): the target is the active armature, the source the other selected armature."""
    target = context.active_object
    if target is None or target.type != "ARMATURE":
        return None, None
    sources = [o for o in context.selected_objects if o.type == "ARMATURE" and o != target]
    return (sources[0] if sources else None), target


class MOVE_MOCAP_PG_retarget_slot(bpy.types.PropertyGroup):
    slot: StringProperty(name="Slot", description="Canonical humanoid slot")  # type: ignore[valid-type]
    source_bone: StringProperty(name="Source Bone", description="Bone of the source armature driving this slot")  # type: ignore[valid-type]
    target_bone: StringProperty(name="Target Bone", description="Bone of the target armature this slot drives")  # type: ignore[valid-type]


class MOVE_MOCAP_PG_retarget(bpy.types.PropertyGroup):
    slots: CollectionProperty(type=MOVE_MOCAP_PG_retarget_slot)  # type: ignore[valid-type]
    active_index: IntProperty(default=0)  # type: ignore[valid-type]
    use_mapping: BoolProperty(  # type: ignore[valid-type]
        name="Use This Mapping",
        description="Retarget with the mapping below (off: detect it again from the bone names)",
        default=False,
    )
    show_fingers: BoolProperty(name="Show Fingers", default=False)  # type: ignore[valid-type]
    source_profile: StringProperty(name="Source Profile")  # type: ignore[valid-type]
    target_profile: StringProperty(name="Target Profile")  # type: ignore[valid-type]
    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION_ITEMS, default="HIPS")  # type: ignore[valid-type]
    root_rotation: BoolProperty(name="Root Rotation", default=False, description=ROOT_ROTATION_DESCRIPTION)  # type: ignore[valid-type]
    fingers: BoolProperty(name="Fingers", default=True, description="Retarget finger bones")  # type: ignore[valid-type]
    floor_clamp: BoolProperty(  # type: ignore[valid-type]
        name="Keep Feet Above Floor", default=True,
        description="Lift the hips on frames where the target's feet would sink below the floor",
    )
    translation_scale: FloatProperty(  # type: ignore[valid-type]
        name="Translation Scale", default=0.0, min=0.0, soft_max=10.0,
        description="Scale of the hips translation (0: target leg length / source leg length)",
    )
    foot_lock: BoolProperty(  # type: ignore[valid-type]
        name="Foot Lock", default=False,
        description=("Keep planted feet where they were planted (by the legs' rotations; IK targets keyed too), "
                     "as part of the retarget (same undo step)"))
    smooth: FloatProperty(  # type: ignore[valid-type]
        name="Smoothing", default=0.0, min=0.0, max=1.0, subtype="FACTOR",
        description=("Smooth the motion with this strength (0: off), planted feet kept, as part of the retarget "
                     "(same undo step)"))
    keep_raw: BoolProperty(  # type: ignore[valid-type]
        name="Keep Raw Take", default=False,
        description=("With Foot Lock or Smoothing, also keep the take before them as an action (\"<name>_raw\", in "
                     "a muted NLA track) to compare; the rig's previous action is kept either way"))


def options_from_settings(settings: Any, target_side_only: bool = False) -> RetargetOptions:
    """The Retarget panel's choices as retarget options (what Process, History's Apply and the panel's
    Retarget button use). With ``target_side_only`` the edited mapping keeps only the target's bones: the
    source side belongs to the armature it was detected on, and is detected again on a new source (a Move
    result)."""
    mapping = None
    if settings.use_mapping and len(settings.slots):
        mapping = mapping_from_settings(settings)
        if target_side_only:
            mapping = BoneMapping(target=mapping.target, target_profile=mapping.target_profile)
    return RetargetOptions(mapping=mapping, **{name: getattr(settings, name) for name in SETTING_OPTIONS})


def mapping_from_settings(settings: Any) -> BoneMapping:
    mapping = BoneMapping(source_profile=settings.source_profile, target_profile=settings.target_profile)
    for item in settings.slots:
        if item.source_bone:
            mapping.source[item.slot] = item.source_bone
        if item.target_bone:
            mapping.target[item.slot] = item.target_bone
    return mapping


def settings_from_mapping(settings: Any, mapping: BoneMapping) -> None:
    from ..core.retarget.mapping import SLOTS

    settings.slots.clear()
    for slot in SLOTS:
        item = settings.slots.add()
        item.slot = slot
        item.source_bone = mapping.source.get(slot, "")
        item.target_bone = mapping.target.get(slot, "")
    settings.source_profile = mapping.source_profile
    settings.target_profile = mapping.target_profile
    settings.active_index = 0


CLASSES = (MOVE_MOCAP_PG_retarget_slot, MOVE_MOCAP_PG_retarget)


def register_extra() -> None:
    scene_type: Any = bpy.types.Scene
    scene_type.move_mocap_retarget = PointerProperty(type=MOVE_MOCAP_PG_retarget)  # type: ignore[func-returns-value]


def unregister_extra() -> None:
    scene_type: Any = bpy.types.Scene
    del scene_type.move_mocap_retarget
