"""The Blender side of the pipeline: one ``Pipeline`` per session, the main-thread tick that drains its
events, the panel's in-memory view of each submission, applying outputs, and resuming after a restart.

Threading rules (the whole add-on follows them): worker threads (``core.pipeline``) never touch bpy; they
post events. Only the main thread reads the queue, changes Blender data and writes the journal's "applied"
record. ``tick()`` is what ``bpy.app.timers`` calls: it drains events within ``TICK_BUDGET`` seconds and
tags the sidebar for redraw; applying (a scene change, its own undo step) runs in a separate one-shot
timer so the tick stays short. In background mode (no timers) the blocking operators drain the same queue
through ``handle()``. No network calls on the main thread here.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
from bpy.app.handlers import persistent

from ..core import people
from ..core.outputs import pick_applicable
from ..core.pipeline import (
    Cancelled,
    CaptureChoices,
    Event,
    Failed,
    HistoryLoaded,
    Journal,
    Notice,
    Pipeline,
    PipelineConfig,
    Progress,
    ReadyToApply,
    Stage,
    StageChanged,
    State,
    SubmissionRow,
)
from ..core.retarget.options import RetargetOptions
from ..paths import user_dir
from ..preferences import Settings, settings
from .client import client_factory
from .network import network_problem
from .target import find_target

log = logging.getLogger(__name__)

TICK_BUDGET = 0.004       # seconds of event handling per tick
ACTIVE_INTERVAL = 0.1     # seconds between ticks while something runs
HISTORY_LIMIT = 50
JOURNAL_NAME = "journal.sqlite3"

_STAGE_TEXT = {
    "new": "Queued", "files": "Files created", "uploaded": "Uploaded", "volume": "Volume ready",
    "take": "Take created", "job": "Job created", "processed": "Processed", "downloaded": "Ready to apply",
    "applied": "Applied",
}


@dataclass
class View:
    """What the panel shows for one submission (main thread only)."""

    sid: str
    title: str
    stage: str
    state: str
    fraction: float = 0.0
    text: str = ""
    job_id: str = ""
    target: str = ""
    applied_to: str = ""
    error_kind: str = ""
    error_message: str = ""
    error_hint: str = ""
    output_dir: str = ""
    updated: float = field(default_factory=time.time)
    dismissed: bool = False
    create_unknown: str = ""  # "job", "take" or "volume": a create whose outcome is unknown (see reconcile.py)

    @classmethod
    def from_row(cls, row: SubmissionRow) -> View:
        fraction = {Stage.PROCESSED: 1.0, Stage.DOWNLOADED: 1.0, Stage.APPLIED: 1.0}.get(row.stage, row.percent / 100)
        text = _STAGE_TEXT.get(row.stage.value, row.stage.value)
        if row.state is State.DONE:
            text = f"Applied to {row.applied_to}" if row.applied_to else "Applied"
        elif row.state is State.CANCELLED:
            text = "Cancelled"
        elif row.state is State.FAILED:
            text = f"{(row.error_kind or 'stage').capitalize()} failed"
        out = ""
        if row.outputs:
            out = str(Path(next(iter(row.outputs.values()))).parent)
        unknown = next((w for w in ("job", "take", "volume")
                        if getattr(row, f"{w}_pending") and not getattr(row, f"{w}_id")), "")
        return cls(row.id, row.title, row.stage.value, row.state.value, fraction, text, row.job_id or "",
                   row.spec.target, row.applied_to or "", row.error_kind or "", row.error_message or "",
                   row.error_hint or "", out, updated=row.updated, create_unknown=unknown)

    @property
    def active(self) -> bool:
        return self.state == State.ACTIVE.value


@dataclass
class Applied:
    """What :meth:`Runtime.apply_now` did: ``result`` is the importer's ``ImportResult`` when ``ok``."""

    ok: bool
    message: str
    hint: str = ""
    result: Any = None


class Runtime:
    """The session's pipeline, the panel's views and the timers (one instance: ``RUNTIME``)."""

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.pipeline: Pipeline | None = None
        self.reader: Journal | None = None  # the main thread's own connection (WAL: never waits on writers)
        self.views: dict[str, View] = {}
        self.notice = ""
        self.notice_level = "INFO"
        self.pending_apply: list[tuple[str, str]] = []
        self.history_jobs: list[dict[str, Any]] = []
        self.history_error = ""
        self.history_dirty = True
        self.config_overrides: dict[str, Any] = {}  # PipelineConfig fields (tests, benchmarks)
        self._settings_key: tuple[Any, ...] | None = None
        self._timer_on = False
        self._apply_scheduled = False
        self._listing = False  # the server's lenses and volumes are being listed (keep ticking for the answer)
        self._choices_thread: Any = None
        self.on_event: Callable[[Event], None] | None = None  # observers (tests, benchmarks)

    # ------------------------------------------------------------------------------ the pipeline

    def journal_path(self) -> Path:
        return user_dir() / JOURNAL_NAME

    def get_pipeline(self, context: bpy.types.Context | None = None) -> Pipeline:
        """The session's pipeline, following the current preferences (endpoint, key, folder, timeout)."""
        s = settings(context)
        key = (s.endpoint, s.api_key, str(s.download_dir), s.timeout, tuple(sorted(self.config_overrides.items())))
        path = self.journal_path()
        if self.pipeline is None or self.pipeline.journal.path != path:
            if self.pipeline is not None:
                self.pipeline.shutdown(timeout=2.0)
            self.pipeline = Pipeline(Journal(path), client_factory(s), self._config(s), events=self.events)
            self.reader = Journal(path)
            self._settings_key = key
            self.reload_views()
        elif key != self._settings_key:
            self.pipeline.client_factory = client_factory(s)  # running workers keep their own client
            self.pipeline.config = self._config(s)
            self._settings_key = key
        return self.pipeline

    def _config(self, s: Settings) -> PipelineConfig:
        return PipelineConfig(endpoint=s.endpoint, download_dir=s.download_dir,
                              secrets=(s.api_key,) if s.api_key else (), **self.config_overrides)

    def journal(self) -> Journal:
        self.get_pipeline()
        assert self.reader is not None
        return self.reader

    def reload_views(self) -> None:
        assert self.reader is not None
        self.views = {row.id: View.from_row(row) for row in self.reader.all(limit=HISTORY_LIMIT)}
        self.history_dirty = True
        for view in self.visible_views():
            if view.state in (State.READY.value, State.DONE.value):
                self.load_actors(view.sid)

    def load_capture_choices(self, context: bpy.types.Context) -> Any:
        """List the server's lenses and volumes on a worker thread (its answer folded in by :meth:`handle`);
        returns the thread (the one already listing, if any), or None when the server cannot be reached now
        (``network_problem`` says why)."""
        choices = getattr(context.window_manager, "move_mocap_choices", None)
        if choices is None or network_problem(context):
            return None
        if self._listing and self._choices_thread is not None and self._choices_thread.is_alive():
            return self._choices_thread
        pipeline = self.get_pipeline(context)
        choices.state, choices.error = "loading", ""
        self._listing = True
        self._choices_thread = pipeline.load_capture_choices()
        self.ensure_timer()
        return self._choices_thread

    def _set_choices(self, event: CaptureChoices) -> None:
        self._listing = False
        wm = bpy.context.window_manager
        choices = getattr(wm, "move_mocap_choices", None)
        if choices is None:
            return
        choices.lenses.clear()
        for lens in event.lenses:
            choices.lenses.add().name = lens
        choices.volumes.clear()
        for v in event.volumes:
            item = choices.volumes.add()
            item.name, item.title, item.state = v["id"], v["name"], v["state"]
            item.reason, item.human_height = v["reason"], v["human_height"]
        choices.state, choices.error = "loaded", event.error

    def load_actors(self, sid: str) -> int:
        """Read the people ``sid``'s job found (kept beside its outputs by the pipeline) into the window
        manager's actor list, keeping the rigs already chosen; main thread, never from a draw. Returns how
        many are listed (none when the job found one person only: nothing to choose)."""
        wm = bpy.context.window_manager
        found_list = getattr(wm, "move_mocap_actors", None)
        row = self.reader.get(sid) if self.reader is not None else None
        if found_list is None or row is None or not row.outputs:
            return 0
        found = people.load(Path(next(iter(row.outputs.values()))).parent)
        persons = found.persons if found is not None and len(found.persons) > 1 else ()
        items = found_list.items
        chosen = {a.person: (a.use, a.target) for a in items if a.submission_id == sid}
        for i in reversed(range(len(items))):
            if items[i].submission_id == sid:
                items.remove(i)
        # another person can be captured by a new job on a single-camera take already on the server
        single = not row.spec.multi_camera and bool(row.take_id)
        for person in persons:
            item = items.add()
            item.submission_id, item.person, item.actor = sid, person.number, person.actor or 0
            item.summary, item.note = person.summary(), found.note if found is not None else ""
            use, target = chosen.get(person.number, (person.actor is not None, None))
            item.use, item.target = use and person.actor is not None, target
            item.can_capture = single and person.actor is None
            item.thumbnail = self._thumbnail(row, person)
        return len(persons)

    @staticmethod
    def _thumbnail(row: SubmissionRow, person: people.Person) -> str:
        """The key of ``person``'s picture where best seen (capture.thumbnails), made from the submission's own
        video (the camera that sees them best for a multi-camera take); "" when there is none to show. Never
        raises: a picture is an extra."""
        from . import thumbnails

        view = person.view or 0
        if view >= len(row.spec.footage):
            return ""
        key = f"{row.id}:{person.number}"
        try:
            made = thumbnails.make(key, row.spec.footage[view].path, person.best_frame, person.best_box)
        except Exception:  # never fail listing the people for a picture
            log.exception("move_mocap: no thumbnail for person %s", person.number)
            return ""
        return key if made else ""

    def visible_views(self, limit: int = 5) -> list[View]:
        """Submissions worth showing as progress rows: running, failed, cancelled or ready; newest first."""
        rows = [v for v in self.views.values() if not v.dismissed and (
            v.state != State.DONE.value or time.time() - v.updated < 600)]
        rows.sort(key=lambda v: v.updated, reverse=True)
        return rows[:limit]

    def shutdown(self) -> None:
        if self.pipeline is not None:
            self.pipeline.shutdown(timeout=2.0)
            self.pipeline.journal.close()
        if self.reader is not None:
            self.reader.close()
        self.pipeline = None
        self.reader = None
        self.views.clear()
        self.pending_apply.clear()
        self._listing = False
        choices = getattr(bpy.context.window_manager, "move_mocap_choices", None)
        if choices is not None and choices.state == "loading":  # its worker's answer will not be read
            choices.state = ""

    # --------------------------------------------------------------------------------- events

    def _view(self, sid: str) -> View | None:
        view = self.views.get(sid)
        if view is None and self.reader is not None:
            row = self.reader.get(sid)
            if row is not None:
                view = self.views[sid] = View.from_row(row)
        return view

    def handle(self, event: Event, *, auto_apply: bool = True) -> bool:
        """Fold one event into the views; True when the panel should redraw. Main thread only."""
        if self.on_event is not None:
            self.on_event(event)
        if isinstance(event, CaptureChoices):
            self._set_choices(event)
            return True
        if isinstance(event, HistoryLoaded):
            self.history_jobs = list(event.jobs)
            self.history_error = event.error
            self.history_dirty = True
            return True
        view = self._view(event.submission_id)
        if view is None:
            return False
        view.updated = time.time()
        if isinstance(event, Progress):
            view.fraction = event.fraction
            view.text = event.text
            return True
        if isinstance(event, StageChanged):
            view.stage = event.stage
            view.text = event.text or _STAGE_TEXT.get(event.stage, event.stage)
            if event.stage == Stage.APPLIED.value:
                view.state = State.DONE.value
                view.fraction = 1.0
                view.applied_to = event.text.removeprefix("Applied to ").strip()
            elif event.stage == Stage.JOB.value:
                view.fraction = 0.0
            self._refresh_ids(view)
            self.history_dirty = True
            return True
        if isinstance(event, Failed):
            view.state = State.FAILED.value
            view.text = f"{event.kind.capitalize()} failed"
            view.error_kind, view.error_message, view.error_hint = event.kind, event.message, event.hint
            self.history_dirty = True
            return True
        if isinstance(event, Cancelled):
            view.state = State.CANCELLED.value
            view.text = "Cancelled"
            self.history_dirty = True
            return True
        if isinstance(event, ReadyToApply):
            view.state = State.READY.value
            view.fraction = 1.0
            view.text = "Ready to apply"
            view.error_kind = view.error_message = view.error_hint = ""
            if event.files:
                view.output_dir = str(Path(next(iter(event.files.values()))).parent)
            self.load_actors(event.submission_id)
            if auto_apply:
                self._maybe_auto_apply(event)
            self.history_dirty = True
            return True
        if isinstance(event, Notice):
            self.notice, self.notice_level = event.text, event.level
            return True
        return False

    def _refresh_ids(self, view: View) -> None:
        if self.reader is not None and not view.job_id:
            row = self.reader.get(view.sid)
            if row is not None:
                view.job_id = row.job_id or ""

    def target_for(self, sid: str, name: str) -> tuple[str, str | None]:
        """(current name of the armature ``sid`` was submitted for, problem): follows a rename through the
        armature's tag; the problem says what to do when the armature is gone. ("", None): a new armature."""
        if not name:
            return "", None
        row = self.reader.get(sid) if self.reader is not None else None
        uid = str(row.spec.extra.get("target_uid", "")) if row is not None else ""
        obj = find_target(name, uid)
        if obj is None:
            return name, (f"the armature {name!r} it was submitted for is no longer in this file (deleted, or "
                          "in another .blend); the result is kept: apply it from the History onto another "
                          "armature (or none, for a new one)")
        return obj.name, None

    def _maybe_auto_apply(self, event: ReadyToApply) -> None:
        same_file = event.blend_file in ("", bpy.data.filepath)
        name, problem = self.target_for(event.submission_id, event.target)
        if same_file and problem is None:
            self.pending_apply.append((event.submission_id, name))
        else:
            why = problem or "its .blend file is not open: apply it from the History"
            self.notice = f"A Move result is ready but {why}"
            self.notice_level = "WARNING"

    # ------------------------------------------------------------------------------ main-thread tick

    def tick(self) -> float | None:
        """Drain events for at most ``TICK_BUDGET`` s, redraw, schedule applies. Blender's timer calls it."""
        pipeline = self.pipeline
        if pipeline is None:
            self._timer_on = False
            return None
        start = time.perf_counter()
        changed = False
        while time.perf_counter() - start < TICK_BUDGET:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            changed = self.handle(event) or changed
        if self.history_dirty and time.perf_counter() - start < TICK_BUDGET:
            self.sync_history()
        if changed:
            self.redraw()
        if self.pending_apply and not self._apply_scheduled:
            self._apply_scheduled = True
            if not bpy.app.timers.is_registered(_apply_timer):
                bpy.app.timers.register(_apply_timer, first_interval=0.0)
        if pipeline.running_ids() or not self.events.empty() or self.pending_apply or self._listing:
            return ACTIVE_INTERVAL
        self._timer_on = False
        return None

    def ensure_timer(self) -> None:
        """Start the persistent tick timer unless it runs (it stops itself when nothing is left to do)."""
        if not bpy.app.timers.is_registered(_tick_timer):
            bpy.app.timers.register(_tick_timer, first_interval=0.0, persistent=True)
        self._timer_on = True

    @staticmethod
    def redraw() -> None:
        wm = bpy.context.window_manager
        if wm is None:
            return
        for window in wm.windows:
            screen = window.screen
            if screen is None:
                continue
            for area in screen.areas:
                if area.type == "VIEW_3D":
                    for region in area.regions:
                        if region.type == "UI":
                            region.tag_redraw()

    # ------------------------------------------------------------------------------------ apply

    def apply_pending(self) -> list[tuple[str, bool, str]]:
        """Apply every queued result, each through ``move_mocap.apply`` (its own undo step)."""
        done = []
        self._apply_scheduled = False
        while self.pending_apply:
            sid, target = self.pending_apply.pop(0)
            ok, message = self.apply_via_operator(sid, target)
            done.append((sid, ok, message))
        return done

    def apply_via_operator(self, sid: str, target: str) -> tuple[bool, str]:
        wm = bpy.context.window_manager
        override: dict[str, Any] = {}
        if bpy.context.window is None and wm is not None and wm.windows:
            override["window"] = wm.windows[0]
        try:
            # fake-bpy-module 5.2 omits ContextTempOverride's __enter__/__exit__ (it is a context manager)
            with bpy.context.temp_override(**override):  # type: ignore[attr-defined]
                result = bpy.ops.move_mocap.apply(submission_id=sid, target=target)  # type: ignore[attr-defined]
        except RuntimeError as exc:  # the operator reported an error (already recorded in the journal)
            return False, str(exc).strip()
        view = self.views.get(sid)
        if "FINISHED" not in result:
            return False, view.error_message if view else "not applied"
        return True, view.text if view else "Applied"

    def apply_now(self, sid: str, target: Any, *, options: RetargetOptions | None = None,
                  action_name: str | None = None, actor: int | None = None, keep_source: bool = False,
                  new_armature_name: str | None = None) -> Applied:
        """Import ``sid``'s best output onto ``target`` (armature object, or None for a new armature, named
        ``new_armature_name`` if given, else after the file) and journal it: the one apply path (Process,
        History's Apply, the command line). ``options``: the retarget options (default: the Retarget panel's
        choices); ``action_name`` default "<title>_move"."""
        from ..importers import import_output
        from ..retarget.settings import options_from_settings

        pipeline = self.get_pipeline()
        row = pipeline.journal.require(sid)
        picked = pick_applicable(row.outputs)
        if picked is None:
            hint = "Submit again with MAIN_FBX or MOTION_DATA among the outputs."
            return self._apply_failed(sid, f"no output of {row.title} can be applied (downloaded: "
                                           f"{', '.join(row.outputs) or 'none'})", hint)
        key, path = picked
        if not Path(path).is_file():
            return self._apply_failed(sid, f"{path} is no longer on disk",
                                      "Press Retry or Apply in the history: it is downloaded again.")
        if options is None and target is not None:
            panel = getattr(bpy.context.scene, "move_mocap_retarget", None)
            options = options_from_settings(panel, target_side_only=True) if panel is not None else None
        try:
            result = import_output(path, target=target, action_name=action_name or f"{row.title}_move",
                                   actor=actor, keep_source=keep_source, set_scene_range=True,
                                   retarget_options=options)
        except Exception as exc:
            return self._apply_failed(sid, f"importing {Path(path).name} ({key}) failed: {exc}")
        if target is None and new_armature_name:  # Blender keeps the names unique
            result.armature.name = new_armature_name
            result.armature.data.name = result.armature.name
        pipeline.record_applied(sid, result.armature.name, result.action.name)
        self._drain_quietly()
        return Applied(True, f"Applied {row.title} to {result.armature.name} (action {result.action.name})",
                       result=result)

    def _apply_failed(self, sid: str, message: str, hint: str = "") -> Applied:
        """Journal the failure (no ``hint``: the pipeline's own for a failed apply) and say what it was."""
        pipeline = self.get_pipeline()
        pipeline.record_apply_failed(sid, message, hint)
        self._drain_quietly()
        return Applied(False, message, pipeline.journal.require(sid).error_hint or hint)

    def _drain_quietly(self) -> None:
        """Fold events already posted (the apply's own) so the panel is current without waiting a tick."""
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            self.handle(event)
        if self.history_dirty:
            self.sync_history()
        self.redraw()

    # ---------------------------------------------------------------------------------- history

    def sync_history(self) -> None:
        """Merge the journal with the server's job list into the window manager's history collection."""
        self.history_dirty = False
        wm = bpy.context.window_manager
        if wm is None or not hasattr(wm, "move_mocap_history") or self.reader is None:
            return
        hist = wm.move_mocap_history
        rows = self.reader.all(limit=HISTORY_LIMIT)
        seen: set[str] = set()
        entries: list[dict[str, Any]] = []
        for row in rows:
            if row.job_id:
                seen.add(row.job_id)
            if not row.job_id and row.kind.value != "share" and row.state is not State.FAILED:
                continue
            detail = View.from_row(row).text
            entries.append({"job_id": row.job_id or "", "submission_id": row.id, "title": row.title,
                            "state": row.state.value, "detail": detail, "local": True,
                            "downloaded": bool(row.outputs),
                            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created))})
        for job in self.history_jobs:
            if job["id"] in seen:
                continue
            entries.append({"job_id": job["id"], "submission_id": "", "title": job.get("name") or job["id"][:12],
                            "state": job.get("state", "").lower(), "detail": job.get("state", ""), "local": False,
                            "downloaded": False, "created": job.get("created", "")[:16].replace("T", " ")})
        hist.error = self.history_error
        items = hist.items
        while len(items) > len(entries):
            items.remove(len(items) - 1)
        while len(items) < len(entries):
            items.add()
        for item, entry in zip(items, entries):
            for k, v in entry.items():
                if getattr(item, k) != v:
                    setattr(item, k, v)

    # ----------------------------------------------------------------------------------- resume

    def resume(self, context: bpy.types.Context | None = None) -> list[str]:
        """Restart the workers of unfinished submissions (after a restart or file load), with a notice."""
        context = context or bpy.context
        try:
            pipeline = self.get_pipeline(context)
        except RuntimeError:  # preferences not available (add-on disabled mid-way)
            return []
        unfinished = [r for r in pipeline.journal.unfinished() if not pipeline.is_running(r.id)]
        ready = pipeline.ready()
        started: list[str] = []
        if unfinished:
            problem = network_problem(context)
            if problem:
                self.notice = f"{len(unfinished)} unfinished Move submission(s) wait: {problem}"
                self.notice_level = "WARNING"
            else:
                started = pipeline.resume_unfinished()
                self.notice = f"Resumed {len(started)} unfinished Move submission(s)"
                self.notice_level = "INFO"
                self.ensure_timer()
        if ready:
            extra = f"{len(ready)} Move result(s) ready to apply (see History)"
            self.notice = f"{self.notice}; {extra}" if self.notice and unfinished else extra
        self.reload_views()
        if self.notice:
            print(f"move_mocap: {self.notice}")
        return started


RUNTIME = Runtime()


def _tick_timer() -> float | None:
    try:
        return RUNTIME.tick()
    except Exception:  # a timer that raises is dropped by Blender: log and keep going
        log.exception("move_mocap tick failed")
        return 1.0


def _apply_timer() -> None:
    try:
        RUNTIME.apply_pending()
    except Exception:
        log.exception("move_mocap apply failed")
    return None


def _startup_timer() -> None:
    RUNTIME.resume()
    return None


@persistent
def _on_load_post(*_args: Any) -> None:
    RUNTIME.pending_apply.clear()
    RUNTIME.resume()


CLASSES: tuple[type, ...] = ()


def register_extra() -> None:
    if _on_load_post not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(_on_load_post)
    if not bpy.app.background:
        bpy.app.timers.register(_startup_timer, first_interval=1.0)


def unregister_extra() -> None:
    if _on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_on_load_post)
    for fn in (_tick_timer, _apply_timer, _startup_timer):
        if bpy.app.timers.is_registered(fn):
            bpy.app.timers.unregister(fn)
    RUNTIME.shutdown()
