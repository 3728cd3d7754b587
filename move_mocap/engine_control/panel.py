"""The local engine as the user sees it: the backend switch at the top of the Move panel (where Process runs,
and the engine's state) and the "Local Engine" sub-panel. Drawing only: buttons call the operators of
:mod:`.ops`; the state shown is what :mod:`.engine` already knows."""

from __future__ import annotations

import bpy

from ..preferences import get_preferences
from ..sidebar import MoveSidebarPanel
from .engine import engine, problem, status_line


def draw_backend(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The top of the Move panel: where Process runs (one click to switch), and the engine's state."""
    prefs = get_preferences(context)
    row = layout.row(align=True)
    row.prop(prefs, "backend", expand=True)
    if prefs.backend != "LOCAL":
        return
    eng = engine()
    if eng is None:
        why = problem(context)
        if why:
            col = layout.column(align=True)
            col.alert = True
            col.label(text=why, icon="ERROR")
        else:
            row = layout.row(align=True)
            row.label(text="Starts when you press Process", icon="RADIOBUT_OFF")
            row.operator("move_mocap.engine_start", text="", icon="PLAY")
        return
    text, icon = status_line()
    row = layout.row(align=True)
    row.label(text=text, icon=icon)  # type: ignore[arg-type]
    row.operator("move_mocap.engine_stop", text="", icon="PAUSE")
    solver_problem = eng.health.get("solver_problem")
    if solver_problem:
        layout.label(text=str(solver_problem), icon="ERROR")


class MOVE_MOCAP_PT_engine(MoveSidebarPanel, bpy.types.Panel):
    bl_label = "Local Engine"
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
        eng = engine()
        if eng is not None:
            layout.label(text=f"Engine: {eng.launch.source}, log {eng.log_path.name}", icon="INFO")


CLASSES = (MOVE_MOCAP_PT_engine,)
