"""The Retarget panel (3D View sidebar, tab "Move"): the mapping editor (a UI list of slot -> source bone /
target bone) and the retarget options. Drawing only: the settings it shows are :mod:`.settings`; its buttons
call the operators of :mod:`.ops`."""

from __future__ import annotations

from typing import Any

import bpy

from ..core.retarget.mapping import FINGER_SLOTS, PROFILE_LABELS
from ..sidebar import MoveSidebarPanel
from .settings import retarget_pair


def profile_label(profile: str) -> str:
    """A naming profile as the panel shows it ("Rigify (FK controls)"; "?" when none was detected)."""
    return PROFILE_LABELS.get(profile, profile) or "?"


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


class MOVE_MOCAP_PT_retarget(MoveSidebarPanel, bpy.types.Panel):
    bl_idname = "MOVE_MOCAP_PT_retarget"
    bl_label = "Retarget"

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
        col = layout.column(heading="Clean Up")
        col.prop(settings, "foot_lock")
        col.prop(settings, "smooth", slider=True)
        sub = col.column()
        sub.active = settings.foot_lock or settings.smooth > 0.0
        sub.prop(settings, "keep_raw")
        # The operator reads these settings itself (one builder: retarget.settings.options_from_settings).
        layout.operator("move_mocap.retarget", icon="ARMATURE_DATA").use_panel_settings = True


CLASSES = (MOVE_MOCAP_UL_retarget_slots,)

_PARENT_PANEL = "MOVE_MOCAP_PT_main"


def register_extra() -> None:
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
