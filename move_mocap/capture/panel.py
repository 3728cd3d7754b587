"""The sidebar panels of the 3D view's "Move" tab: footage (multi-camera: each camera's lens, the sync
method, the volume calibrated or reused), options, target, Process, progress of each submission, the actors a
finished result found (each onto its rig), history (with re-apply), share codes. Drawing only: no network, no
journal writes, no changes to Blender data (buttons call :mod:`.ops`; the progress rows read :mod:`.runtime`'s views; the
backend switch at the top is :mod:`..engine_control.panel`).
"""

from __future__ import annotations

from typing import Any

import bpy

from ..engine_control.engine import unavailable_outputs
from ..engine_control.panel import draw_backend
from ..preferences import get_preferences
from ..sidebar import MoveSidebarPanel
from . import thumbnails
from .network import calibration_file_refused, network_problem
from .props import actors, scene_props, server_choices
from .runtime import RUNTIME, View
from .target import resolve_target


def _progress(layout: bpy.types.UILayout, factor: float, text: str) -> None:
    layout.progress(factor=max(0.0, min(1.0, factor)), type="BAR", text=text)


class MOVE_MOCAP_UL_footage(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):  # type: ignore[override]
        row = layout.row(align=True)
        name = bpy.path.basename(item.filepath) or "(no file)"
        row.label(text=name, icon="FILE_MOVIE")
        if getattr(data, "camera_mode", "SINGLE") == "MULTI" or active_propname == "calibration_index":
            row.label(text=item.device_label or f"cam{index + 1:02d}")
            if item.lens and active_propname != "calibration_index":
                row.label(text=item.lens, icon="OUTLINER_OB_CAMERA")


class MOVE_MOCAP_UL_history(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):  # type: ignore[override]
        icons = {"done": "CHECKMARK", "ready": "IMPORT", "failed": "ERROR", "cancelled": "CANCEL",
                 "active": "SORTTIME", "finished": "CHECKMARK", "running": "SORTTIME", "not_started": "SORTTIME"}
        row = layout.row(align=True)
        row.label(text=item.title, icon=icons.get(item.state, "DOT"))
        row.label(text=item.detail)
        if not item.local:
            row.label(text="", icon="WORLD")


class MOVE_MOCAP_PT_main(MoveSidebarPanel, bpy.types.Panel):
    bl_label = "Move Mocap"
    bl_idname = "MOVE_MOCAP_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        assert layout is not None
        p = scene_props(context)
        draw_backend(layout, context)  # where Process runs: Move's cloud or this computer
        if RUNTIME.notice:
            box = layout.box()
            box.label(text=RUNTIME.notice, icon="ERROR" if RUNTIME.notice_level != "INFO" else "INFO")
        layout.row().prop(p, "camera_mode", expand=True)
        layout.label(text="Footage" if p.camera_mode == "SINGLE" else "Cameras (one video each)")
        row = layout.row()
        row.template_list("MOVE_MOCAP_UL_footage", "footage", p, "footage", p, "footage_index", rows=2)
        col = row.column(align=True)
        col.operator("move_mocap.footage_add", text="", icon="ADD").role = "TAKE"
        col.operator("move_mocap.footage_remove", text="", icon="REMOVE").role = "TAKE"
        if p.camera_mode == "MULTI":
            _draw_multi_camera(layout, context, p)

        layout.separator()
        layout.prop(p, "target", icon="ARMATURE_DATA")
        target = resolve_target(context)
        if p.target is None:
            layout.label(text=f"Using the active armature: {target.name}" if target else
                         "No armature: a new one is created", icon="INFO")
        row = layout.row()
        row.scale_y = 1.5
        row.operator("move_mocap.process", icon="PLAY")
        problem = network_problem(context)
        if problem:
            layout.label(text=problem, icon="ERROR")

        views = RUNTIME.visible_views()
        if views:
            layout.separator()
            for view in views:
                _draw_view(layout.box(), view, context)


def _draw_multi_camera(layout: bpy.types.UILayout, context: bpy.types.Context, p: Any) -> None:
    """Per camera its label and lens (offered from the server's list once loaded, a free field otherwise),
    the take's sync method, and the volume: calibrated from film of a person of known height, or a finished one
    reused (its state and, failed, why)."""
    choices = server_choices(context)
    lenses = choices is not None and len(choices.lenses) > 0
    if 0 <= p.footage_index < len(p.footage):
        item = p.footage[p.footage_index]
        sub = layout.column(align=True)
        sub.prop(item, "device_label")
        if lenses:
            sub.prop_search(item, "lens", choices, "lenses", icon="OUTLINER_OB_CAMERA")
        else:
            sub.prop(item, "lens")
    row = layout.row(align=True)
    row.prop(p, "sync_method", expand=True)
    if p.sync_method == "CLAP":
        row = layout.row(align=True)
        row.prop(p, "clap_start")
        row.prop(p, "clap_end")

    box = layout.box()
    head = box.row(align=True)
    head.label(text="Calibration Volume", icon="CUBE")
    head.operator("move_mocap.load_capture_choices", text="", icon="FILE_REFRESH")
    box.row().prop(p, "volume_source", expand=True)
    if p.volume_source == "EXISTING":
        volumes = choices.volumes if choices is not None else None
        if volumes is not None and len(volumes):
            box.prop_search(p, "volume_id", choices, "volumes", icon="CUBE")
        else:
            box.prop(p, "volume_id")
        chosen = volumes.get(p.volume_id) if volumes is not None and p.volume_id else None
        if chosen is not None:
            icon = {"FINISHED": "CHECKMARK", "FAILED": "ERROR"}.get(chosen.state, "TIME")
            title = chosen.title or chosen.name
            height = f", {chosen.human_height:.2f} m person" if chosen.human_height else ""
            box.label(text=f"{title}: {chosen.state.lower().replace('_', ' ') or 'state unknown'}{height}",
                      icon=icon)  # type: ignore[arg-type]
            if chosen.state == "FAILED":
                col = box.column(align=True)
                col.alert = True
                for line in _wrap(chosen.reason or "The server gave no reason", 60)[:4]:
                    col.label(text=line)
                box.label(text="Calibrate a new volume instead", icon="INFO")
            elif chosen.state != "FINISHED":
                box.label(text="Not finished yet: Process waits for it", icon="INFO")
        elif p.volume_id:
            box.label(text="Not in the server's list (press the refresh button)", icon="QUESTION")
    else:
        box.prop(p, "use_take_for_calibration")
        if not p.use_take_for_calibration:
            row = box.row()
            row.template_list("MOVE_MOCAP_UL_footage", "calibration", p, "calibration", p,
                              "calibration_index", rows=2)
            col = row.column(align=True)
            col.operator("move_mocap.footage_add", text="", icon="ADD").role = "CALIBRATION"
            col.operator("move_mocap.footage_remove", text="", icon="REMOVE").role = "CALIBRATION"
        refused = calibration_file_refused(context)
        row = box.row()
        row.active = refused is None  # greyed out, still editable: a file given before can be cleared
        row.alert = bool(refused and p.calibration_file.strip())
        row.prop(p, "calibration_file")
        if refused:
            box.label(text="Calibration file: read by the local engine on this computer only", icon="INFO")
            if p.calibration_file.strip():
                box.label(text="Clear it, or Process On This Computer", icon="ERROR")
        box.prop(p, "human_height")
        box.prop(p, "area_type")
    if choices is not None and choices.state == "loading":
        box.label(text="Loading lenses and volumes from the server...", icon="SORTTIME")
    elif choices is not None and choices.error:
        for line in _wrap(choices.error, 60)[:3]:
            box.label(text=line, icon="ERROR")


#: What Capture does, and where: offered only for results whose job listed the people it saw (the local engine
#: does; Move's cloud lists none, and would ignore the request).
CAPTURE_NOTE = ("Capture: a new job on the same take for that person, applied like any other result. Offered when "
                "the server lists the people it saw (the local engine does; Move's cloud does not, and would "
                "ignore the request).")


def draw_actors(layout: bpy.types.UILayout, context: bpy.types.Context, sid: str) -> bool:
    """The people a finished job found: each actor with the rig it goes to (empty: a new armature), how long
    each is visible and the frame where best seen; people seen but not captured are listed greyed. Returns
    whether anything was drawn (a job that found one person has nothing to choose)."""
    found = actors(context, sid)
    if not found:
        return False
    box = layout.box()
    captured = [a for a in found if a.actor > 0]
    box.label(text=f"People found: {len(found)} ({len(captured)} captured)", icon="COMMUNITY")
    for item in found:
        entry = box.row()
        icon = thumbnails.icon_id(item.thumbnail)  # made when the result was read (memory only)
        if icon:  # the person where best seen
            entry.template_icon(icon_value=icon, scale=2.5)
        col = entry.column(align=True)
        row = col.row(align=True)
        if item.actor > 0:
            row.prop(item, "use", text=f"Actor {item.actor}")
            sub = row.row(align=True)
            sub.active = item.use
            sub.prop(item, "target", text="", icon="ARMATURE_DATA")
        else:
            label = row.row()
            label.active = False
            label.label(text=f"Person {item.person}: seen, not captured", icon="HIDE_ON")
            if item.can_capture:
                op = row.operator("move_mocap.capture_person", text="Capture", icon="REC")
                op.submission_id, op.person = sid, item.person
        line = col.row()
        line.active = item.actor > 0 and item.use
        line.scale_y = 0.8
        line.label(text=item.summary, icon="BLANK1")
    if found[0].note:
        for text in _wrap(found[0].note, 60)[:2]:
            box.label(text=text, icon="INFO")
    if any(item.can_capture for item in found):
        col = box.column(align=True)
        col.scale_y = 0.8
        for text in _wrap(CAPTURE_NOTE, 60):
            col.label(text=text, icon="BLANK1")
    row = box.row(align=True)
    op = row.operator("move_mocap.apply_actors", text="Apply Actors", icon="IMPORT")
    op.submission_id = sid
    op = row.operator("move_mocap.apply_actors", text="New Rig per Actor", icon="ADD")
    op.submission_id, op.new_rigs = sid, True
    return True


def _draw_view(box: bpy.types.UILayout, view: View, context: bpy.types.Context) -> None:
    head = box.row(align=True)
    head.label(text=view.title, icon="ARMATURE_DATA" if view.state == "done" else "FILE_MOVIE")
    if view.active:
        head.operator("move_mocap.cancel", text="", icon="CANCEL").submission_id = view.sid
    else:
        head.operator("move_mocap.dismiss", text="", icon="X", emboss=False).submission_id = view.sid
    if view.state in ("active", "ready", "done"):
        _progress(box, view.fraction, view.text)
    else:
        box.label(text=view.text, icon="ERROR" if view.state == "failed" else "CANCEL")
    if view.error_message:
        col = box.column(align=True)
        col.scale_y = 0.8
        for line in _wrap(view.error_message, 60)[:4]:
            col.label(text=line)
        for line in _wrap(view.error_hint, 60)[:3]:
            col.label(text=line, icon="BLANK1")
    row = box.row(align=True)
    if view.state in ("failed", "cancelled"):
        row.operator("move_mocap.retry", icon="FILE_REFRESH").submission_id = view.sid
        if view.create_unknown:
            op = row.operator("move_mocap.retry", text=f"Create {view.create_unknown.title()} Anyway (may be billed twice)",
                              icon="ERROR")
            op.submission_id, op.create_anyway = view.sid, True
    if view.state in ("ready", "done"):
        op = row.operator("move_mocap.apply", text="Apply" if view.state == "ready" else "Apply Again",
                          icon="IMPORT")
        op.submission_id = view.sid
        op.use_scene_target = True
        row.operator("move_mocap.open_output_folder", text="", icon="FILE_FOLDER").submission_id = view.sid
    if view.job_id:
        row.operator("move_mocap.copy_job_id", text="", icon="COPYDOWN").job_id = view.job_id
    if view.state in ("ready", "done"):
        draw_actors(box, context, view.sid)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


class MOVE_MOCAP_PT_options(MoveSidebarPanel, bpy.types.Panel):
    bl_label = "Options"
    bl_parent_id = "MOVE_MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        assert layout is not None
        layout.use_property_split = True
        p = scene_props(context)
        layout.prop(p, "take_name")
        layout.prop(p, "model_multi" if p.camera_mode == "MULTI" else "model_single")
        col = layout.column(heading="Track")
        col.prop(p, "track_fingers")
        col.prop(p, "track_ball")
        local = get_preferences(context).backend == "LOCAL"
        col.prop(p, "floor_plane_local" if local else "floor_plane")
        if p.camera_mode == "MULTI":
            layout.prop(p, "number_of_actors")
        row = layout.row(heading="Clip Window")
        row.prop(p, "use_clip_window", text="")
        sub = row.row(align=True)
        sub.active = p.use_clip_window
        sub.prop(p, "clip_start")
        sub.prop(p, "clip_end")
        layout.label(text="Outputs")
        grid = layout.grid_flow(columns=2, align=True)
        missing = unavailable_outputs(context) if local else {}
        for item in p.bl_rna.properties["outputs"].enum_items:  # type: ignore[attr-defined]
            cell = grid.row()
            cell.enabled = item.identifier not in missing  # the local engine cannot make it: greyed out
            cell.prop_enum(p, "outputs", item.identifier)
        for reason in dict.fromkeys(missing.values()):
            for line in _wrap(reason, 60)[:3]:
                layout.label(text=line, icon="INFO")


class MOVE_MOCAP_PT_history(MoveSidebarPanel, bpy.types.Panel):
    bl_label = "History"
    bl_parent_id = "MOVE_MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        assert layout is not None
        wm = context.window_manager
        hist = wm.move_mocap_history  # type: ignore[union-attr]
        row = layout.row()
        row.template_list("MOVE_MOCAP_UL_history", "history", hist, "items", hist, "index", rows=4)
        row.column().operator("move_mocap.refresh_history", text="", icon="FILE_REFRESH")
        if hist.error:
            layout.label(text=hist.error[:120], icon="ERROR")
        if 0 <= hist.index < len(hist.items):
            item = hist.items[hist.index]
            row = layout.row(align=True)
            op = row.operator("move_mocap.apply", text="Apply to Target", icon="IMPORT")
            op.job_id = item.job_id
            op.submission_id = item.submission_id if not item.job_id else ""
            op.use_scene_target = True
            sub = row.row(align=True)
            sub.enabled = item.downloaded
            o = sub.operator("move_mocap.open_output_folder", text="", icon="FILE_FOLDER")
            o.job_id, o.submission_id = item.job_id, item.submission_id
            row.operator("move_mocap.copy_job_id", text="", icon="COPYDOWN").job_id = item.job_id
            if item.state in ("failed", "cancelled") and item.submission_id:
                layout.operator("move_mocap.retry", icon="FILE_REFRESH").submission_id = item.submission_id
            if item.submission_id and item.downloaded:
                draw_actors(layout, context, item.submission_id)


class MOVE_MOCAP_PT_share(MoveSidebarPanel, bpy.types.Panel):
    bl_label = "Move One Share Code"
    bl_parent_id = "MOVE_MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        assert layout is not None
        p = scene_props(context)
        row = layout.row(align=True)
        row.prop(p, "share_code", text="")
        row.operator("move_mocap.import_share_code", text="Import", icon="IMPORT")


CLASSES = (MOVE_MOCAP_UL_footage, MOVE_MOCAP_UL_history, MOVE_MOCAP_PT_main, MOVE_MOCAP_PT_options,
           MOVE_MOCAP_PT_history, MOVE_MOCAP_PT_share)
