"""Review operators (bpy layer): foot lock, smooth, A/B toggle, source armature toggle, footage camera.

Each checks the context in ``poll`` (with a message saying what is missing), runs blocking (scriptable,
background-safe), makes one undo step for scene changes and reports what it did with the measured figures.
The work is in :mod:`.legs`, :mod:`.compare` and :mod:`.footage`.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..retarget import action_io

CONTACT_ITEMS = [
    ("AUTO", "Auto", "The capture's stored contacts (Move's motion data) if any, else detected from the motion"),
    ("STORED", "Stored", "Only the contacts stored with the capture (Move's motion data)"),
    ("DETECT", "Detect", "Detect contacts from the feet's height over the floor and their speed"),
]


def rig_problem(context: Any) -> str | None:
    """Why a clean-up cannot run on the active object, or None."""
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        return "Make the rig (an armature with a capture) the active object"
    if obj.mode not in ("OBJECT", "POSE"):
        return "Leave edit mode first"
    if obj.library is not None and obj.override_library is None:
        return "The rig is linked from another file: make a library override first"
    if action_io.object_action(obj) is None:
        return "The rig has no action (apply or retarget a capture first)"
    return None


def _report_warnings(op: bpy.types.Operator, warnings: list[str]) -> None:
    for w in warnings[:5]:
        op.report({"WARNING"}, w)


class RigPollMixin:
    """poll() for the review operators: an armature with a capture (``rig_problem``), then the operator's own
    ``extra_problem``; the reason becomes the disabled button's poll message."""

    @classmethod
    def extra_problem(cls, context: Any) -> str | None:
        return None

    @classmethod
    def poll(cls, context: Any) -> bool:
        problem = rig_problem(context) or cls.extra_problem(context)
        if problem:
            cls.poll_message_set(problem)  # type: ignore[attr-defined]
        return problem is None


class MOVE_MOCAP_OT_foot_lock(RigPollMixin, bpy.types.Operator):
    """Keep planted feet where they were planted: a new action from the active one (legs' FK adjusted by
    two-bone IK; IK controls keyed to match), the old one kept"""

    bl_idname = "move_mocap.foot_lock"
    bl_label = "Lock Feet"
    bl_options = {"REGISTER", "UNDO"}

    contacts: EnumProperty(name="Contacts", items=CONTACT_ITEMS, default="AUTO")  # type: ignore[valid-type]
    blend: FloatProperty(  # type: ignore[valid-type]
        name="Blend", description="Time to ease in and out of each contact", default=0.15, min=0.02, max=1.0,
        subtype="TIME_ABSOLUTE", unit="TIME_ABSOLUTE")
    key_ik: BoolProperty(  # type: ignore[valid-type]
        name="Key IK Controls", default=True,
        description="On rigs with leg IK controls (Rigify, Auto-Rig Pro), also key them onto the locked legs")

    def execute(self, context):  # type: ignore[override]
        from .legs import foot_lock

        try:
            report = foot_lock(context.active_object, self.contacts, self.blend, self.key_ik)
        except ValueError as exc:
            self.report({"ERROR"}, f"Foot lock: {exc}")
            return {"CANCELLED"}
        _report_warnings(self, report.warnings)
        self.report({"INFO"}, report.message())
        return {"FINISHED"}


class MOVE_MOCAP_OT_smooth(RigPollMixin, bpy.types.Operator):
    """Smooth the capture (zero-phase, in rotation space, keeping fast motion and planted feet): a new
    action from the active one, the old one kept"""

    bl_idname = "move_mocap.smooth"
    bl_label = "Smooth"
    bl_options = {"REGISTER", "UNDO"}

    strength: FloatProperty(  # type: ignore[valid-type]
        name="Strength", description="0: unchanged; 1: strongest (about 3 Hz cut-off)", default=0.5, min=0.0,
        max=1.0, subtype="FACTOR")
    keep_contacts: BoolProperty(  # type: ignore[valid-type]
        name="Keep Planted Feet", default=True, description="Put planted feet back where they were after smoothing")

    def execute(self, context):  # type: ignore[override]
        from .legs import smooth

        try:
            report = smooth(context.active_object, self.strength, self.keep_contacts)
        except ValueError as exc:
            self.report({"ERROR"}, f"Smooth: {exc}")
            return {"CANCELLED"}
        _report_warnings(self, report.warnings)
        self.report({"INFO"}, report.message())
        return {"FINISHED"}


class MOVE_MOCAP_OT_ab_toggle(RigPollMixin, bpy.types.Operator):
    """Switch the rig between the capture and the action it had before"""

    bl_idname = "move_mocap.ab_toggle"
    bl_label = "A/B: Capture / Before"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def extra_problem(cls, context: Any) -> str | None:
        from .compare import partner

        return partner(context.active_object)[1] or None

    def execute(self, context):  # type: ignore[override]
        from .compare import toggle

        try:
            now, other = toggle(context.active_object)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Now showing {now.name} (was {other.name})")
        return {"FINISHED"}


class MOVE_MOCAP_OT_source_toggle(RigPollMixin, bpy.types.Operator):
    """Show or hide the imported source armature beside the rig"""

    bl_idname = "move_mocap.source_toggle"
    bl_label = "Show Source Armature"
    bl_options = {"REGISTER", "UNDO"}

    offset: FloatProperty(  # type: ignore[valid-type]
        name="Offset", description="How far beside the rig to show it (along X)", default=1.0, unit="LENGTH")

    @classmethod
    def extra_problem(cls, context: Any) -> str | None:
        from .compare import source_armature

        return source_armature(context.active_object)[1] or None

    def execute(self, context):  # type: ignore[override]
        from .compare import toggle_source

        try:
            shown = toggle_source(context.active_object, self.offset, context.view_layer)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, "Source armature shown" if shown else "Source armature hidden")
        return {"FINISHED"}


class MOVE_MOCAP_OT_footage_camera(RigPollMixin, bpy.types.Operator):
    """Toggle a camera seeing the rig as the footage's camera did, the video as its background (made on
    first use)"""

    bl_idname = "move_mocap.footage_camera"
    bl_label = "Footage Camera"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(  # type: ignore[valid-type]
        name="Video", subtype="FILE_PATH", description="The video to show (empty: the capture's own)")
    distance: FloatProperty(name="Distance", default=4.0, min=0.5, max=100.0, unit="LENGTH")  # type: ignore[valid-type]
    lens: FloatProperty(name="Focal Length", default=35.0, min=8.0, max=300.0, unit="CAMERA")  # type: ignore[valid-type]
    frame_offset: IntProperty(  # type: ignore[valid-type]
        name="Frame Offset", default=0, description="Video frames start this many frames after the action's first")
    match_rate: BoolProperty(  # type: ignore[valid-type]
        name="Match Frame Rate", default=True, description="Set the scene's frame rate to the video's")
    rebuild: BoolProperty(name="Rebuild", default=False, description="Make the camera again")  # type: ignore[valid-type]

    def execute(self, context):  # type: ignore[override]
        from .footage import find_video, footage_camera, make_camera, toggle_camera

        obj = context.active_object
        if footage_camera(obj) is not None and not self.rebuild:
            shown = toggle_camera(obj, context.scene, context.view_layer)
            self._view(context, shown)
            self.report({"INFO"}, "Footage camera shown" if shown else "Footage camera hidden")
            return {"FINISHED"}
        path, origin = (bpy.path.abspath(self.filepath), "given") if self.filepath else \
            find_video(obj, context.scene)
        try:
            cam, notes = make_camera(obj, context.scene, path, self.distance, self.lens, self.frame_offset,
                                     self.match_rate)
        except (RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, f"Footage camera: cannot load the video {path!r} ({exc})")
            return {"CANCELLED"}
        for n in notes:
            self.report({"WARNING"} if "drift" in n or "no video" in n else {"INFO"}, n)
        self._view(context, True)
        self.report({"INFO"}, f"Footage camera {cam.name}: {origin}" + (f" {path}" if path else ""))
        return {"FINISHED"}

    @staticmethod
    def _view(context: Any, shown: bool) -> None:
        space = getattr(context, "space_data", None)
        r3d = getattr(space, "region_3d", None)
        if r3d is not None and getattr(space, "type", "") == "VIEW_3D":
            r3d.view_perspective = "CAMERA" if shown else "PERSP"


CLASSES = (MOVE_MOCAP_OT_foot_lock, MOVE_MOCAP_OT_smooth, MOVE_MOCAP_OT_ab_toggle, MOVE_MOCAP_OT_source_toggle,
           MOVE_MOCAP_OT_footage_camera)
