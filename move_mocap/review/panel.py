"""The "Review" sub-panel of the Move panel (bpy layer): it only draws - the clean-up and comparison
buttons with their settings, each comparison button saying what it will do in the rig's current state
(showing the capture or the action before it, source armature shown or hidden, footage camera on or off);
each button's poll says what is missing."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import FloatProperty

from ..sidebar import MoveSidebarPanel


class MOVE_MOCAP_PG_review(bpy.types.PropertyGroup):
    strength: FloatProperty(  # type: ignore[valid-type]
        name="Strength", description="Smoothing strength (0: unchanged, 1: strongest)", default=0.5, min=0.0,
        max=1.0, subtype="FACTOR")
    blend: FloatProperty(  # type: ignore[valid-type]
        name="Blend", description="Foot lock: time to ease in and out of each contact", default=0.15, min=0.02,
        max=1.0, subtype="TIME_ABSOLUTE", unit="TIME_ABSOLUTE")


class MOVE_MOCAP_PT_review(MoveSidebarPanel, bpy.types.Panel):
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
        rig = obj if obj is not None and obj.type == "ARMATURE" else None
        ab, source, camera = "A/B: Capture / Before", "Show Source Armature", False
        if rig is not None:
            from ..retarget import action_io
            from .compare import CAPTURE, is_capture, source_armature
            from .footage import footage_camera

            action: Any = action_io.object_action(rig)
            if is_capture(action):
                ab = "A/B: Showing Capture"
            elif action is not None and action.get(CAPTURE):
                ab = "A/B: Showing Before"
            src = source_armature(rig)[0]
            if src is not None and not (src.hide_get(view_layer=context.view_layer) or src.hide_viewport):
                source = "Hide Source Armature"
            cam = footage_camera(rig)
            camera = cam is not None and context.scene.camera == cam
        col.operator("move_mocap.ab_toggle", icon="ARROW_LEFTRIGHT", text=ab)
        col.operator("move_mocap.source_toggle", icon="ARMATURE_DATA", text=source)
        col.operator("move_mocap.footage_camera", icon="CAMERA_DATA", depress=camera)


CLASSES = (MOVE_MOCAP_PG_review, MOVE_MOCAP_PT_review)


def register_extra() -> None:
    bpy.types.Scene.move_mocap_review = bpy.props.PointerProperty(type=MOVE_MOCAP_PG_review)  # type: ignore[attr-defined,func-returns-value]


def unregister_extra() -> None:
    del bpy.types.Scene.move_mocap_review  # type: ignore[attr-defined]
