"""Start and stop the local engine from Blender, and show its status in the Move panel.

The engine runs as a child process (``core.engine_process.LocalEngine``); its health is probed on a worker
thread, and a light ``bpy.app.timers`` callback only redraws the panel when the status line changes.
Starting it points the add-on's endpoint at it (the previous endpoint comes back on Stop) and gives it a
fresh random key kept in the add-on's secret store, never in a .blend.
"""

from __future__ import annotations

import atexit
from pathlib import Path

import bpy

from .bl_types import OperatorReturn
from .core.engine_process import EngineError, LocalEngine, find_engine_root, new_key, validate
from .paths import user_dir
from .preferences import get_preferences, secret_store

_ENGINE: list[LocalEngine] = []  # at most one, owned by this Blender session
_SHOWN: list[str] = [""]


def engine() -> LocalEngine | None:
    return _ENGINE[0] if _ENGINE else None


def engine_root(prefs: bpy.types.AddonPreferences) -> Path | None:
    if prefs.engine_root:  # type: ignore[attr-defined]
        return Path(bpy.path.abspath(prefs.engine_root))  # type: ignore[attr-defined]
    return find_engine_root(Path(__file__).resolve().parent)


def _problem(context: bpy.types.Context) -> str | None:
    prefs = get_preferences(context)
    python = bpy.path.abspath(prefs.engine_python) if prefs.engine_python else ""
    motion = bpy.path.abspath(prefs.engine_motion) if prefs.engine_motion else None
    return validate(python, engine_root(prefs), prefs.engine_solver, motion)


def status_line() -> tuple[str, str]:
    """(text, icon) for the panel."""
    eng = engine()
    if eng is None:
        return "Local engine stopped", "RADIOBUT_OFF"
    st = eng.status
    icon = {"running": "CHECKMARK", "starting": "TIME", "exited": "ERROR"}.get(st.state, "RADIOBUT_OFF")
    return st.message, icon


def _redraw_when_changed() -> float | None:
    text = status_line()[0]
    if text != _SHOWN[0]:
        _SHOWN[0] = text
        wm = bpy.context.window_manager
        for window in wm.windows if wm else ():
            for area in window.screen.areas:
                if area.type in ("VIEW_3D", "PREFERENCES"):
                    area.tag_redraw()
    return 0.5 if engine() is not None else None


class MOVE_MOCAP_OT_engine_start(bpy.types.Operator):
    """Start the local Move-compatible engine on this machine and use it for processing"""

    bl_idname = "move_mocap.engine_start"
    bl_label = "Start Local Engine"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        eng = engine()
        if eng is not None and eng.status.state in ("running", "starting"):
            cls.poll_message_set("The local engine is already running: stop it first")
            return False
        problem = _problem(context)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        prefs = get_preferences(context)
        stop_engine()
        root = engine_root(prefs)
        assert root is not None  # poll() checked it
        store = secret_store()
        key = new_key()
        eng = LocalEngine(bpy.path.abspath(prefs.engine_python), root, user_dir("engine"),
                          port=prefs.engine_port, api_key=key, solver=prefs.engine_solver,
                          motion=Path(bpy.path.abspath(prefs.engine_motion)) if prefs.engine_motion else None)
        try:
            eng.start()
        except EngineError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        _ENGINE.append(eng)
        store.set("local_engine_key", key)
        store.set("local_engine_url", eng.url)
        if prefs.endpoint.strip() != eng.url:
            store.set("endpoint_before_engine", prefs.endpoint)
        prefs.endpoint = eng.url
        if not bpy.app.timers.is_registered(_redraw_when_changed):
            bpy.app.timers.register(_redraw_when_changed, first_interval=0.2, persistent=True)
        if bpy.app.background or context.window is None:  # scripts: wait until it answers
            status = eng.wait_ready()
            if not status.running:
                self.report({"ERROR"}, status.message)
                stop_engine()
                return {"CANCELLED"}
        self.report({"INFO"}, f"Local engine starting at {eng.url}; the add-on now processes with it")
        return {"FINISHED"}


class MOVE_MOCAP_OT_engine_stop(bpy.types.Operator):
    """Stop the local engine and point the add-on back at the endpoint it used before"""

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


def stop_engine(context: bpy.types.Context | None = None) -> None:
    """Stop the engine (if any) and restore the endpoint used before it started."""
    eng = engine()
    if eng is None:
        return
    _ENGINE.clear()
    eng.stop()
    store = secret_store()
    previous = store.get("endpoint_before_engine")
    try:
        prefs = get_preferences(context)
    except RuntimeError:  # the add-on is being disabled
        prefs = None
    if prefs is not None and prefs.endpoint.strip() == eng.url and previous:
        prefs.endpoint = previous
    for name in ("local_engine_key", "local_engine_url", "endpoint_before_engine"):
        store.set(name, "")


class MOVE_MOCAP_PT_engine(bpy.types.Panel):
    bl_label = "Local Engine"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Move"
    bl_parent_id = "MOVE_MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        assert layout is not None
        text, icon = status_line()
        layout.label(text=text, icon=icon)  # type: ignore[arg-type]
        row = layout.row(align=True)
        row.operator("move_mocap.engine_start", icon="PLAY")
        row.operator("move_mocap.engine_stop", icon="PAUSE")
        prefs = get_preferences(context)
        layout.prop(prefs, "engine_solver")


CLASSES = (MOVE_MOCAP_OT_engine_start, MOVE_MOCAP_OT_engine_stop, MOVE_MOCAP_PT_engine)


def unregister_extra() -> None:
    atexit.unregister(stop_engine)
    stop_engine()
    if bpy.app.timers.is_registered(_redraw_when_changed):
        bpy.app.timers.unregister(_redraw_when_changed)


def register_extra() -> None:
    atexit.unregister(stop_engine)
    atexit.register(stop_engine)  # never leave an engine running after Blender quits
