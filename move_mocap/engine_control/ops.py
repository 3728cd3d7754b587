"""The local engine's operators: Start (also switches Process to "This Computer") and Stop. Blocking and
scriptable: in background mode or a scripted call Start waits until the engine answers. The work is in
:mod:`.engine`; no drawing here."""

from __future__ import annotations

import bpy

from ..bl_types import OperatorReturn
from ..preferences import get_preferences
from .engine import engine, problem, start_engine, stop_engine


class MOVE_MOCAP_OT_engine_start(bpy.types.Operator):
    """Start the local engine on this computer and process with it (Process also starts it when needed)"""

    bl_idname = "move_mocap.engine_start"
    bl_label = "Start Local Engine"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        eng = engine()
        if eng is not None and eng.status.state in ("running", "starting"):
            cls.poll_message_set("The local engine is already running: stop it first")
            return False
        why = problem(context)
        if why:
            cls.poll_message_set(why)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        wait = bpy.app.background or context.window is None  # scripts: wait until it answers
        error = start_engine(context, wait=wait)
        if error:
            self.report({"ERROR"}, error)
            return {"CANCELLED"}
        prefs = get_preferences(context)
        prefs.backend = "LOCAL"
        eng = engine()
        assert eng is not None
        self.report({"INFO"}, f"Local engine {'running' if eng.status.running else 'starting'} at {eng.url}; "
                              "Process now runs on this computer")
        return {"FINISHED"}


class MOVE_MOCAP_OT_engine_stop(bpy.types.Operator):
    """Stop the local engine (Process starts it again when it needs it)"""

    bl_idname = "move_mocap.engine_stop"
    bl_label = "Stop Local Engine"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if engine() is None:
            cls.poll_message_set("The local engine is not running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        stop_engine(context)
        self.report({"INFO"}, "Local engine stopped")
        return {"FINISHED"}


CLASSES = (MOVE_MOCAP_OT_engine_start, MOVE_MOCAP_OT_engine_stop)
