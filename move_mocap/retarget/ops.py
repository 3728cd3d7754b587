"""Retarget operators (bpy layer): ``move_mocap.retarget`` (one undo step, blocking, scriptable),
``move_mocap.retarget_detect`` (fill the panel's mapping, :mod:`.settings`) and JSON preset load/save. The work itself is
:func:`.apply.retarget_with_report`; these classes only check the context, translate properties and
report."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..core.retarget.options import RetargetOptions
from .settings import (
    ROOT_MOTION_ITEMS,
    ROOT_ROTATION_DESCRIPTION,
    SETTING_OPTIONS,
    mapping_from_settings,
    options_from_settings,
    retarget_pair,
    settings_from_mapping,
)


def _pair_problem(context: Any) -> str | None:
    """Why the retarget operator cannot run, or None."""
    target = context.active_object
    if target is None or target.type != "ARMATURE":
        return "Make the target armature (your character) the active object"
    if target.mode not in ("OBJECT", "POSE"):
        return "Leave edit mode first"
    source, _ = retarget_pair(context)
    if source is None:
        return "Also select the source armature (the mocap) - the active one is the target"
    ad = source.animation_data
    if ad is None or ad.action is None:
        return f"The source armature {source.name!r} has no action to retarget"
    return None


def options_from_operator(op: Any, context: Any) -> RetargetOptions:
    """The retarget operator's properties as retarget options (the panel's mapping when ``use_mapping``; every
    setting of the Retarget panel, through its own builder, when ``use_panel_settings``: the panel's button);
    RetargetOptionsError (a ValueError) names a bad value."""
    settings = getattr(context.scene, "move_mocap_retarget", None)
    frames = dict(frame_start=op.frame_start if op.use_frame_range else None,
                  frame_end=op.frame_end if op.use_frame_range else None, source_fps=op.source_fps,
                  target_fps=op.target_fps, action_name=op.action_name, root_bone=op.root_bone)
    if op.use_panel_settings and settings is not None:
        return options_from_settings(settings).but(**frames)
    mapping = None
    if op.use_mapping and settings is not None and len(settings.slots):
        mapping = mapping_from_settings(settings)
    return RetargetOptions(mapping=mapping, **frames, **{name: getattr(op, name) for name in SETTING_OPTIONS})


class MOVE_MOCAP_OT_retarget(bpy.types.Operator):
    """Put the selected armature's animation onto the active armature as a new action"""

    bl_idname = "move_mocap.retarget"
    bl_label = "Retarget"
    bl_options = {"REGISTER", "UNDO"}

    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION_ITEMS, default="HIPS")  # type: ignore[valid-type]
    root_bone: StringProperty(name="Root Bone", description="Target bone for root motion (empty: detect)")  # type: ignore[valid-type]
    root_rotation: BoolProperty(name="Root Rotation", default=False, description=ROOT_ROTATION_DESCRIPTION)  # type: ignore[valid-type]
    fingers: BoolProperty(name="Fingers", default=True)  # type: ignore[valid-type]
    use_frame_range: BoolProperty(name="Frame Range", default=False, description="Only retarget a range of source frames")  # type: ignore[valid-type]
    frame_start: IntProperty(name="Start", default=1)  # type: ignore[valid-type]
    frame_end: IntProperty(name="End", default=250)  # type: ignore[valid-type]
    source_fps: FloatProperty(name="Source FPS", default=0.0, min=0.0, description="Frame rate of the source action (0: the scene's)")  # type: ignore[valid-type]
    target_fps: FloatProperty(name="Target FPS", default=0.0, min=0.0, description="Frame rate of the new action (0: same as the source)")  # type: ignore[valid-type]
    translation_scale: FloatProperty(name="Translation Scale", default=0.0, min=0.0, description="0: leg-length ratio")  # type: ignore[valid-type]
    floor_clamp: BoolProperty(name="Keep Feet Above Floor", default=True)  # type: ignore[valid-type]
    action_name: StringProperty(name="Action Name", description="Name of the new action (empty: target_source)")  # type: ignore[valid-type]
    use_mapping: BoolProperty(name="Use Panel Mapping", default=False, description="Use the mapping edited in the Retarget panel")  # type: ignore[valid-type]
    foot_lock: BoolProperty(name="Foot Lock", default=False, description="Keep planted feet where they were planted")  # type: ignore[valid-type]
    smooth: FloatProperty(name="Smoothing", default=0.0, min=0.0, max=1.0, subtype="FACTOR", description="Smoothing strength (0: off)")  # type: ignore[valid-type]
    keep_raw: BoolProperty(name="Keep Raw Take", default=False, description="With a clean-up, also keep the take before it (NLA)")  # type: ignore[valid-type]
    use_panel_settings: BoolProperty(  # type: ignore[valid-type]
        name="Use Panel Settings", default=False, options={"SKIP_SAVE"},
        description="Take the mapping and every option from the Retarget panel (its Retarget button does)")

    @classmethod
    def poll(cls, context):  # type: ignore[override]
        problem = _pair_problem(context)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def execute(self, context):  # type: ignore[override]
        from .apply import retarget_with_report

        source, target = retarget_pair(context)
        try:
            report = retarget_with_report(source, target, options_from_operator(self, context))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for w in report.warnings[:5]:
            self.report({"WARNING"}, w)
        self.report(
            {"INFO"},
            f"Retargeted {report.frames} frames onto {target.name} as '{report.action.name}' in {report.seconds:.2f} s: "
            f"{report.summary}",
        )
        return {"FINISHED"}


class MOVE_MOCAP_OT_retarget_detect(bpy.types.Operator):
    """Detect the bone mapping of the selected (source) and active (target) armatures"""

    bl_idname = "move_mocap.retarget_detect"
    bl_label = "Detect Mapping"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):  # type: ignore[override]
        source, target = retarget_pair(context)
        if target is None:
            cls.poll_message_set("Make the target armature the active object")
            return False
        if source is None:
            cls.poll_message_set("Also select the source armature")
            return False
        return True

    def execute(self, context):  # type: ignore[override]
        from .apply import auto_mapping

        source, target = retarget_pair(context)
        mapping = auto_mapping(source, target)
        settings = context.scene.move_mocap_retarget
        settings_from_mapping(settings, mapping)
        settings.use_mapping = True
        both = sum(1 for s in mapping.source if mapping.target.get(s))
        self.report({"INFO"}, f"Mapped {both} slots ({mapping.source_profile or 'geometry'} -> "
                              f"{mapping.target_profile or 'geometry'})")
        return {"FINISHED"}


class MOVE_MOCAP_OT_retarget_preset_save(bpy.types.Operator):
    """Save the Retarget panel's bone mapping as a JSON preset"""

    bl_idname = "move_mocap.retarget_preset_save"
    bl_label = "Save Mapping Preset"
    filepath: StringProperty(name="File Path", subtype="FILE_PATH", default="mapping.json")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context, event):  # type: ignore[override]
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    @classmethod
    def poll(cls, context):  # type: ignore[override]
        settings = getattr(context.scene, "move_mocap_retarget", None)
        if settings is None or not len(settings.slots):
            cls.poll_message_set("Detect or load a mapping first")
            return False
        return True

    def execute(self, context):  # type: ignore[override]
        mapping_from_settings(context.scene.move_mocap_retarget).save(self.filepath)
        self.report({"INFO"}, f"Saved mapping to {self.filepath}")
        return {"FINISHED"}


class MOVE_MOCAP_OT_retarget_preset_load(bpy.types.Operator):
    """Load a bone mapping JSON preset into the Retarget panel"""

    bl_idname = "move_mocap.retarget_preset_load"
    bl_label = "Load Mapping Preset"
    bl_options = {"REGISTER", "UNDO"}
    filepath: StringProperty(name="File Path", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context, event):  # type: ignore[override]
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):  # type: ignore[override]
        from ..core.retarget.mapping import BoneMapping

        try:
            mapping = BoneMapping.load(self.filepath)
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"Cannot load {self.filepath}: {exc}")
            return {"CANCELLED"}
        settings = context.scene.move_mocap_retarget
        settings_from_mapping(settings, mapping)
        settings.use_mapping = True
        self.report({"INFO"}, f"Loaded mapping from {self.filepath}")
        return {"FINISHED"}


CLASSES = (
    MOVE_MOCAP_OT_retarget,
    MOVE_MOCAP_OT_retarget_detect,
    MOVE_MOCAP_OT_retarget_preset_save,
    MOVE_MOCAP_OT_retarget_preset_load,
)
