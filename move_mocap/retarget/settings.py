"""Retarget panel: the mapping editor (3D View sidebar, tab "Move", panel "Retarget") and its scene
properties (bpy layer). It only draws and stores; the work is done by the operators in
:mod:`.retarget_ops`, which read the mapping stored here, and by the apply path (``Runtime.apply_now``),
which reads the panel's choices as ``RetargetOptions`` through :func:`options_from_settings`."""

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

from ..core.retarget.mapping import FINGER_SLOTS, PROFILE_LABELS, BoneMapping
from ..core.retarget.options import ROOT_MOTION_ITEMS as _ROOT_MOTION_ITEMS
from ..core.retarget.options import ROOT_ROTATION_DESCRIPTION as ROOT_ROTATION_DESCRIPTION
from ..core.retarget.options import RetargetOptions

ROOT_MOTION_ITEMS = list(_ROOT_MOTION_ITEMS)  # EnumProperty items
#: The panel's settings that are retarget options of the same name (what the panel's Retarget button and
#: Process use).
SETTING_OPTIONS = ("root_motion", "root_rotation", "fingers", "floor_clamp", "translation_scale")


def profile_label(profile: str) -> str:
    """A naming profile as the panel shows it ("Rigify (FK controls)"; "?" when none was detected)."""
    return PROFILE_LABELS.get(profile, profile) or "?"


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


class MOVE_MOCAP_UL_retarget_slots(bpy.types.UIList):
    """Slot -> source bone / target bone, editable with bone search fields."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):  # type: ignore[override]
        source, target = retarget_pair(context)
        row = layout.row(align=True)
        split = row.split(factor=0.28, align=True)
        split.label(text=item.slot)
        pair = split.split(factor=0.5, align=True)
        if source is not None:
            pair.prop_search(item, "source_bone", source.data, "bones", text="")
        else:
            pair.prop(item, "source_bone", text="")
        if target is not None:
            pair.prop_search(item, "target_bone", target.data, "bones", text="")
        else:
            pair.prop(item, "target_bone", text="")

    def filter_items(self, context, data, propname):  # type: ignore[override]
        items = getattr(data, propname)
        show_fingers = data.show_fingers
        flags = [
            self.bitflag_filter_item if (show_fingers or it.slot not in FINGER_SLOTS) else 0 for it in items
        ]
        if self.filter_name:
            needle = self.filter_name.lower()
            flags = [
                f if needle in f"{it.slot} {it.source_bone} {it.target_bone}".lower() else 0
                for f, it in zip(flags, items)
            ]
        return flags, []


class MOVE_MOCAP_PT_retarget(bpy.types.Panel):
    bl_idname = "MOVE_MOCAP_PT_retarget"
    bl_label = "Retarget"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Move"

    def draw(self, context):  # type: ignore[override]
        layout: Any = self.layout
        settings = context.scene.move_mocap_retarget
        source, target = retarget_pair(context)
        col = layout.column(align=True)
        col.label(text=f"Source: {source.name if source else '(select an animated armature)'}", icon="ARMATURE_DATA")
        col.label(text=f"Target: {target.name if target else '(make your character active)'}", icon="OUTLINER_OB_ARMATURE")

        box = layout.box()
        row = box.row(align=True)
        row.operator("move_mocap.retarget_detect", icon="VIEWZOOM")
        row.operator("move_mocap.retarget_preset_load", text="", icon="FILE_FOLDER")
        row.operator("move_mocap.retarget_preset_save", text="", icon="FILE_TICK")
        if settings.slots:
            if settings.source_profile or settings.target_profile:
                box.label(text=f"{profile_label(settings.source_profile)} -> "
                               f"{profile_label(settings.target_profile)}")
            box.prop(settings, "use_mapping")
            box.prop(settings, "show_fingers")
            box.template_list("MOVE_MOCAP_UL_retarget_slots", "", settings, "slots", settings, "active_index", rows=8)

        col = layout.column()
        col.prop(settings, "root_motion")
        sub = col.column()
        sub.active = settings.root_motion in ("OBJECT", "BONE")
        sub.prop(settings, "root_rotation")
        col.prop(settings, "fingers")
        col.prop(settings, "floor_clamp")
        col.prop(settings, "translation_scale")
        op = layout.operator("move_mocap.retarget", icon="ARMATURE_DATA")
        for name in SETTING_OPTIONS:
            setattr(op, name, getattr(settings, name))
        op.use_mapping = settings.use_mapping and bool(settings.slots)


CLASSES = (
    MOVE_MOCAP_PG_retarget_slot,
    MOVE_MOCAP_PG_retarget,
    MOVE_MOCAP_UL_retarget_slots,
)

_PARENT_PANEL = "MOVE_MOCAP_PT_main"


def register_extra() -> None:
    scene_type: Any = bpy.types.Scene
    scene_type.move_mocap_retarget = PointerProperty(type=MOVE_MOCAP_PG_retarget)  # type: ignore[func-returns-value]
    # A sub-panel of the add-on's main "Move" panel when that is registered (it is, before this module,
    # in the add-on); a panel of its own in the "Move" tab otherwise (e.g. when registered alone in tests).
    panel: Any = MOVE_MOCAP_PT_retarget
    if hasattr(bpy.types, _PARENT_PANEL):
        panel.bl_parent_id = _PARENT_PANEL
    elif hasattr(panel, "bl_parent_id"):
        del panel.bl_parent_id
    bpy.utils.register_class(MOVE_MOCAP_PT_retarget)


def unregister_extra() -> None:
    bpy.utils.unregister_class(MOVE_MOCAP_PT_retarget)
    scene_type: Any = bpy.types.Scene
    del scene_type.move_mocap_retarget
