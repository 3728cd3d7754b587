"""The "Review" sub-panel of the Move panel (bpy layer): it only draws - the clean-up and comparison
buttons with their settings; each button's poll says what is missing."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import FloatProperty


class MOVE_MOCAP_PG_review(bpy.types.PropertyGroup):
    strength: FloatProperty(  # type: ignore[valid-type]
        name="Strength", description="Smoothing strength (0: unchanged, 1: strongest)", default=0.5, min=0.0,
        max=1.0, subtype="FACTOR")
    blend: FloatProperty(  # type: ignore[valid-type]
        name="Blend", description="Foot lock: time to ease in and out of each contact", default=0.15, min=0.02,
        max=1.0, subtype="TIME_ABSOLUTE", unit="TIME_ABSOLUTE")


class MOVE_MOCAP_PT_review(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Move"
    bl_label = "Review"
    bl_parent_id = "MOVE_MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):  # type: ignore[override]
        layout: Any = self.layout
        settings = getattr(context.scene, "move_mocap_review", None)
        obj = context.active_object
        if obj is None or obj.type != "ARMATURE":
            layout.label(text="Select the rig with the capture", icon="INFO")
        col = layout.column(align=True)
        col.label(text="Clean Up")
        row = col.row(align=True)
        op = row.operator("move_mocap.foot_lock", icon="SNAP_ON")
        if settings is not None:
            op.blend = settings.blend
            row.prop(settings, "blend", text="")
        row = col.row(align=True)
        op = row.operator("move_mocap.smooth", icon="SMOOTHCURVE")
        if settings is not None:
            op.strength = settings.strength
            row.prop(settings, "strength", text="")
        col = layout.column(align=True)
        col.label(text="Compare")
        col.operator("move_mocap.ab_toggle", icon="ARROW_LEFTRIGHT")
        col.operator("move_mocap.source_toggle", icon="ARMATURE_DATA")
        col.operator("move_mocap.footage_camera", icon="CAMERA_DATA")


CLASSES = (MOVE_MOCAP_PG_review, MOVE_MOCAP_PT_review)


def register_extra() -> None:
    bpy.types.Scene.move_mocap_review = bpy.props.PointerProperty(type=MOVE_MOCAP_PG_review)  # type: ignore[attr-defined,func-returns-value]


def unregister_extra() -> None:
    del bpy.types.Scene.move_mocap_review  # type: ignore[attr-defined]
