"""The ``move_mocap.import_output`` operator (File > Import > Move AI Output) around
:func:`.load.import_output` (bpy layer). One undo step; the work is in the function.
Must not run anything from the imported file or touch the network."""

from __future__ import annotations

import json
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from ..bl_types import OperatorReturn
from ..core.retarget.options import RetargetOptions
from ..retarget.settings import ROOT_MOTION_ITEMS, ROOT_ROTATION_DESCRIPTION
from .formats import FILTER_GLOB, KINDS

_KIND_ITEMS = [("AUTO", "Automatic", "Detect the output from the file's extension and content")] + [
    (k, k.replace("_", " ").title(), f"Read the file as {k}") for k in KINDS
]


def options_from_operator(op: Any) -> RetargetOptions:
    """The import operator's retarget properties (and its JSON of further options) as retarget options;
    a ValueError names what is wrong."""
    options = RetargetOptions(fingers=op.retarget_fingers, root_motion=op.retarget_root_motion,
                              root_rotation=op.retarget_root_rotation)
    if not op.retarget_options_json:
        return options
    try:
        extra = json.loads(op.retarget_options_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON object ({exc})") from exc
    return RetargetOptions.from_dict(extra, base=options)


class MOVE_MOCAP_OT_import_output(bpy.types.Operator):
    """Import a Move AI output (FBX, .blend, MOTION_DATA JSON or zip, BVH, GLB) as a new action, on a new
    armature or retargeted onto an armature of the scene"""

    bl_idname = "move_mocap.import_output"
    bl_label = "Import Move AI Output"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="File Path", subtype="FILE_PATH", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    filter_glob: StringProperty(default=FILTER_GLOB, options={"HIDDEN"})  # type: ignore[valid-type]
    kind: EnumProperty(name="Output", items=_KIND_ITEMS, default="AUTO")  # type: ignore[valid-type]
    target: StringProperty(  # type: ignore[valid-type]
        name="Target Armature",
        description="Armature object to put the motion on (empty: keep the imported armature)",
        default="",
    )
    use_active_target: BoolProperty(  # type: ignore[valid-type]
        name="Onto Active Armature",
        description="When started from the interface, use the active armature as the target",
        default=False,
    )
    actor: IntProperty(  # type: ignore[valid-type]
        name="Actor", description="Actor of a multi-actor file (0: the first)", default=0, min=0, max=64,
    )
    action_name: StringProperty(  # type: ignore[valid-type]
        name="Action Name", description="Name of the new action (empty: after the file); never overwrites",
        default="",
    )
    keep_source: BoolProperty(  # type: ignore[valid-type]
        name="Keep Imported Objects",
        description="Keep the imported armature beside the target and any meshes the file brings",
        default=False,
    )
    set_scene_range: BoolProperty(  # type: ignore[valid-type]
        name="Set Scene Frame Range", description="Make the scene's frame range that of the new action",
        default=True,
    )
    retarget_fingers: BoolProperty(name="Fingers", default=True)  # type: ignore[valid-type]
    retarget_root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION_ITEMS, default="HIPS")  # type: ignore[valid-type]
    retarget_root_rotation: BoolProperty(  # type: ignore[valid-type]
        name="Root Rotation", default=False, description=ROOT_ROTATION_DESCRIPTION,
    )
    retarget_options_json: StringProperty(  # type: ignore[valid-type]
        name="Retarget Options", description="More retarget engine options, as a JSON object", default="",
        options={"HIDDEN"},
    )

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        active = context.active_object
        if self.use_active_target and not self.target and active is not None and active.type == "ARMATURE":
            self.target = active.name
        wm: Any = context.window_manager
        wm.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        layout.use_property_split = True
        layout.prop(self, "kind")
        layout.prop_search(self, "target", bpy.data, "objects")
        layout.prop(self, "use_active_target")
        layout.prop(self, "actor")
        layout.prop(self, "action_name")
        layout.prop(self, "keep_source")
        layout.prop(self, "set_scene_range")
        col = layout.column(heading="Retarget")
        col.active = bool(self.target)
        col.prop(self, "retarget_fingers")
        col.prop(self, "retarget_root_motion")
        sub = col.column()
        sub.active = self.retarget_root_motion in ("OBJECT", "BONE")
        sub.prop(self, "retarget_root_rotation")

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        from .load import ImportOutputError, import_output

        try:
            options = options_from_operator(self)
        except ValueError as exc:
            self.report({"ERROR"}, f"Retarget options: {exc}")
            return {"CANCELLED"}
        try:
            result = import_output(
                self.filepath,
                target=self.target or None,
                kind=None if self.kind == "AUTO" else self.kind,
                actor=self.actor or None,
                action_name=self.action_name or None,
                keep_source=self.keep_source,
                retarget_options=options if self.target else None,
                set_scene_range=self.set_scene_range,
                context=context,
            )
        except ImportOutputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for warning in result.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"{result.kind}: action {result.action.name!r} on {result.armature.name!r}, "
                              f"frames {result.frame_start:g}-{result.frame_end:g}"
                              + (f"; retarget {result.retarget_summary}" if result.retarget_summary else ""))
        return {"FINISHED"}


def _menu(self: bpy.types.Menu, _context: bpy.types.Context) -> None:
    layout: Any = self.layout
    layout.operator(MOVE_MOCAP_OT_import_output.bl_idname, text="Move AI Output")


CLASSES = (MOVE_MOCAP_OT_import_output,)


# Blender calls a menu draw function as (menu, context); fake-bpy-module 5.2 types it as (context) only.
def register_extra() -> None:
    bpy.types.TOPBAR_MT_file_import.append(_menu)  # type: ignore[arg-type]


def unregister_extra() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(_menu)  # type: ignore[arg-type]
