"""Capture operators: footage list editing, Process, Cancel, Retry, Resume, Apply, history,
share codes, output folder and job id.

Every network operator has two paths: ``invoke()`` (interactive) hands the work to the pipeline's worker
threads, starts the persistent timer (``runtime.tick``) and returns at once; ``execute()`` (scripts,
``blender -b``, where timers and modal operators never run) drains the same event queue on the main thread
until the work is done. Network operators have no UNDO flag; ``move_mocap.apply`` (the scene change) is its
own undo step. Operators never talk to the network themselves: the pipeline's workers do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, IntProperty, StringProperty

from ..bl_types import OperatorReturn
from ..core.pipeline import Event, ReadyToApply, State, SubmissionSpec
from ..core.pipeline.model import Footage
from ..core.pipeline.plan import outputs_on_disk
from ..preferences import get_preferences
from .network import NetworkPollMixin, calibration_file_refused, network_problem
from .props import actors, history, scene_props, server_choices
from .runtime import RUNTIME, Runtime, View
from .target import resolve_target, tag_target

_ROLE_ITEMS = [("TAKE", "Take", "The take's videos"), ("CALIBRATION", "Calibration", "Calibration videos")]


def _interactive(context: bpy.types.Context) -> bool:
    return not bpy.app.background and context.window is not None


def build_spec(context: bpy.types.Context) -> SubmissionSpec:
    """The submission the panel describes (the target resolved now: chosen, else active armature)."""
    p = scene_props(context)
    multi = p.camera_mode == "MULTI"
    footage = tuple(Footage(bpy.path.abspath(f.filepath), f.device_label.strip(), f.lens.strip())
                    for f in p.footage if f.filepath)
    calibration: tuple[Footage, ...] = ()
    reuse = multi and p.volume_source == "EXISTING"
    if multi and not reuse and not p.use_take_for_calibration:
        calibration = tuple(Footage(bpy.path.abspath(f.filepath), f.device_label.strip(), f.lens.strip())
                            for f in p.calibration if f.filepath)
    target = resolve_target(context)
    outputs, floor_plane = tuple(sorted(p.outputs)), p.floor_plane
    if get_preferences(context).backend == "LOCAL":  # ask only for what the local engine makes; its defaults
        from ..engine_control.engine import unavailable_outputs

        missing = unavailable_outputs(context)
        outputs = tuple(o for o in outputs if o not in missing)
        if not any(o in outputs for o in ("MAIN_FBX", "MOTION_DATA", "MAIN_BLEND", "MAIN_GLB", "ALL_BVH")):
            outputs = tuple(sorted({*outputs, "MOTION_DATA"}))  # something the add-on can import
        floor_plane = p.floor_plane_local
    return SubmissionSpec(
        footage=footage, multi_camera=multi, calibration=calibration,
        model=p.model_multi if multi else p.model_single,
        track_fingers=p.track_fingers, track_ball=p.track_ball, floor_plane=floor_plane,
        number_of_actors=p.number_of_actors if multi else 1,
        clip_window=(p.clip_start, p.clip_end) if p.use_clip_window else None,
        outputs=outputs,
        human_height=p.human_height, area_type=p.area_type, name=p.take_name.strip(),
        target=target.name if target is not None else "", blend_file=bpy.data.filepath,
        volume_id=p.volume_id.strip() if reuse else "",
        # to the millisecond: the properties are single precision (0.9 would be sent as 0.8999999761...)
        sync_window=(round(p.clap_start, 3), round(p.clap_end, 3)) if multi and p.sync_method == "CLAP" else None,
        sync_timecode=multi and p.sync_method == "TIMECODE",
        calibration_file=bpy.path.abspath(p.calibration_file) if multi and not reuse and p.calibration_file.strip()
        else "",
    )


def _blocking_wait(op: bpy.types.Operator, sid: str) -> Any:
    """Drain the event queue on this (main) thread until ``sid`` stops; apply when ready."""
    pipeline = RUNTIME.get_pipeline()

    def on_event(event: Event) -> None:
        RUNTIME.handle(event, auto_apply=False)
        if isinstance(event, ReadyToApply) and event.submission_id == sid:
            name, problem = RUNTIME.target_for(sid, event.target)
            if problem:
                op.report({"WARNING"}, f"A Move result is ready but {problem}")
            else:
                RUNTIME.pending_apply.append((sid, name))

    pipeline.wait(sid, on_event=on_event)
    for done_sid, ok, message in RUNTIME.apply_pending():
        op.report({"INFO" if ok else "ERROR"}, message)
        if done_sid == sid and not ok:
            return pipeline.journal.require(sid)
    return pipeline.journal.require(sid)


def _fold(event: Event) -> None:
    RUNTIME.handle(event, auto_apply=False)


def _report_row(op: bpy.types.Operator, row: Any) -> OperatorReturn:
    if row.state in (State.DONE, State.READY):
        op.report({"INFO"}, f"{row.title}: " + (f"applied to {row.applied_to}" if row.applied_to else "ready"))
        return {"FINISHED"}
    if row.state is State.CANCELLED:
        op.report({"WARNING"}, f"{row.title}: cancelled (ids kept: Retry resumes)")
        return {"CANCELLED"}
    op.report({"ERROR"}, f"{row.title}: {(row.error_kind or '').capitalize()} failed: {row.error_message}. "
                         f"{row.error_hint}")
    return {"CANCELLED"}


# ------------------------------------------------------------------------------------- footage list


class MOVE_MOCAP_OT_footage_add(bpy.types.Operator):
    """Add videos to the footage list"""

    bl_idname = "move_mocap.footage_add"
    bl_label = "Add Footage"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    directory: StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE", "HIDDEN"})  # type: ignore[valid-type]
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"SKIP_SAVE", "HIDDEN"})  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.mp4;*.mov;*.avi;*.move", options={"HIDDEN"})  # type: ignore[valid-type]
    role: EnumProperty(items=_ROLE_ITEMS, default="TAKE", options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        assert context.window_manager is not None
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        p = scene_props(context)
        paths = [os.path.join(self.directory, f.name) for f in self.files if f.name] if self.directory else []
        if not paths and self.filepath:
            paths = [self.filepath]
        if not paths:
            self.report({"ERROR"}, "No video chosen")
            return {"CANCELLED"}
        coll = p.footage if self.role == "TAKE" else p.calibration
        if self.role == "TAKE" and p.camera_mode == "SINGLE":
            coll.clear()
            paths = paths[:1]
        for path in paths:
            item = coll.add()
            item.filepath = path
            if p.camera_mode == "MULTI" or self.role == "CALIBRATION":
                item.device_label = f"cam{len(coll):02d}"
        if self.role == "TAKE":
            p.footage_index = len(coll) - 1
        else:
            p.calibration_index = len(coll) - 1
        return {"FINISHED"}


class MOVE_MOCAP_OT_footage_remove(bpy.types.Operator):
    """Remove the selected video from the list"""

    bl_idname = "move_mocap.footage_remove"
    bl_label = "Remove Footage"
    bl_options = {"REGISTER", "UNDO"}

    role: EnumProperty(items=_ROLE_ITEMS, default="TAKE", options={"SKIP_SAVE"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.scene is None or not len(scene_props(context).footage) + len(scene_props(context).calibration):
            cls.poll_message_set("The footage list is empty")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        p = scene_props(context)
        coll, attr = (p.footage, "footage_index") if self.role == "TAKE" else (p.calibration, "calibration_index")
        index = getattr(p, attr)
        if not 0 <= index < len(coll):
            return {"CANCELLED"}
        coll.remove(index)
        setattr(p, attr, min(index, len(coll) - 1))
        return {"FINISHED"}


# ------------------------------------------------------------------------------------------ process


class MOVE_MOCAP_OT_process(NetworkPollMixin, bpy.types.Operator):
    """Upload the footage to Move, process it and put the animation on the target armature. Blender stays
    usable while it runs (progress in this panel)"""

    bl_idname = "move_mocap.process"
    bl_label = "Process"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context | None) -> bool:  # `| None`: as NetworkPollMixin.poll
        if context is None or context.scene is None:
            return False
        p = scene_props(context)
        if not any(f.filepath for f in p.footage):
            cls.poll_message_set("Add a video to the footage list first")
            return False
        if p.camera_mode == "MULTI" and p.volume_source == "EXISTING" and not p.volume_id.strip():
            cls.poll_message_set("Pick the finished volume to reuse (or calibrate a new one)")
            return False
        if p.camera_mode == "MULTI" and p.volume_source != "EXISTING" and p.calibration_file.strip():
            refused = calibration_file_refused(context)  # build_spec sends the file in this case only
            if refused:
                cls.poll_message_set(refused)
                return False
        return super().poll(context)

    def _prepare(self, context: bpy.types.Context, *, wait_for_engine: bool) -> SubmissionSpec | None:
        """The submission, checked (footage, target), with the local engine started when it is the backend
        (and, with ``wait_for_engine``, answering); None after reporting why not."""
        if get_preferences(context).backend == "LOCAL":  # on demand: start (or join) the engine first
            from ..engine_control.engine import start_engine

            error = start_engine(context, wait=wait_for_engine)
            if error:
                self.report({"ERROR"}, f"The local engine cannot run: {error}")
                return None
        spec = build_spec(context)
        problem = spec.validate()
        if problem:
            self.report({"ERROR"}, problem)
            return None
        target = resolve_target(context)
        if target is not None:
            from ..importers.load import linked_problem

            problem = linked_problem(target)  # found now, not after a paid job
            if problem:
                self.report({"ERROR"}, problem)
                return None
            spec = replace(spec, extra={**spec.extra, "target_uid": tag_target(target)})
        elif context.active_object is not None:
            active = context.active_object
            self.report({"WARNING"}, f"The active object {active.name!r} is a {active.type.lower()}, not an "
                                     "armature: the motion goes on a new armature (select your rig, or choose "
                                     "it as Target, to animate it)")
        else:
            self.report({"INFO"}, "No armature selected: the motion goes on a new armature")
        return spec

    def _submit(self, context: bpy.types.Context, spec: SubmissionSpec) -> str | None:
        try:
            return RUNTIME.get_pipeline(context).submit(spec)
        except ValueError as exc:  # e.g. the download folder cannot be written
            self.report({"ERROR"}, str(exc))
            return None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        if not _interactive(context):
            return self.execute(context)
        spec = self._prepare(context, wait_for_engine=False)  # never wait on the main thread
        if spec is None:
            return {"CANCELLED"}
        from ..engine_control.engine import engine

        eng = engine() if get_preferences(context).backend == "LOCAL" else None
        if eng is not None and not eng.status.running:
            submit_when_engine_ready(spec)
            self.report({"INFO"}, "Starting the local engine: processing begins as soon as it answers")
            return {"FINISHED"}
        sid = self._submit(context, spec)
        if sid is None:
            return {"CANCELLED"}
        RUNTIME.reload_views()
        RUNTIME.ensure_timer()
        self.report({"INFO"}, "Submitted to Move: progress in the sidebar's Move tab")
        return {"FINISHED"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        spec = self._prepare(context, wait_for_engine=True)  # scripts and background: blocking by design
        sid = self._submit(context, spec) if spec is not None else None
        if sid is None:
            return {"CANCELLED"}
        RUNTIME.reload_views()
        return _report_row(self, _blocking_wait(self, sid))


ENGINE_POLL = 0.25  # seconds between looks at a starting engine (a timer: the main thread never waits)


def submit_when_engine_ready(spec: SubmissionSpec,
                             submit: Callable[[], Any] | None = None) -> Callable[[], float | None]:
    """Submit ``spec`` (or call ``submit`` instead) from a timer once the local engine that is starting answers,
    or say why it did not (in the panel's notice). Returns the timer function (registered here; background
    Blender runs no timers)."""

    def tick() -> float | None:
        from ..engine_control.engine import engine

        eng = engine()
        status = eng.status if eng is not None else None
        if status is not None and status.state == "starting":
            return ENGINE_POLL
        if status is None or not status.running:
            RUNTIME.notice = (f"The local engine did not start, so {spec.name or 'the footage'} was not submitted: "
                              f"{status.message if status else 'it was stopped'}")
            RUNTIME.notice_level = "ERROR"
            return None
        try:
            submit() if submit is not None else RUNTIME.get_pipeline(bpy.context).submit(spec)
        except ValueError as exc:
            RUNTIME.notice, RUNTIME.notice_level = str(exc), "ERROR"
            return None
        RUNTIME.reload_views()
        RUNTIME.ensure_timer()
        return None

    bpy.app.timers.register(tick, first_interval=ENGINE_POLL)
    return tick


class MOVE_MOCAP_OT_cancel(bpy.types.Operator):
    """Stop working on this submission here (the server keeps what it has; Retry resumes)"""

    bl_idname = "move_mocap.cancel"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    submission_id: StringProperty(name="Submission", options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        pipeline = RUNTIME.get_pipeline(context)
        if not pipeline.cancel(self.submission_id):
            self.report({"WARNING"}, "Nothing to cancel")
            return {"CANCELLED"}
        if not _interactive(context):
            pipeline.wait(self.submission_id, on_event=_fold)
        self.report({"INFO"}, "Cancelled; the uploaded files, take and job are kept (Retry resumes)")
        return {"FINISHED"}


class MOVE_MOCAP_OT_retry(NetworkPollMixin, bpy.types.Operator):
    """Resume this submission at the stage that failed (nothing finished is repeated)"""

    bl_idname = "move_mocap.retry"
    bl_label = "Retry"
    bl_options = {"REGISTER"}

    submission_id: StringProperty(name="Submission", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    create_anyway: BoolProperty(  # type: ignore[valid-type]
        name="Create Anyway",
        description="Send the create again without looking for the one the server may already have: if the "
                    "server did make it, this starts a second job, which Move charges for",
        options={"SKIP_SAVE"},
    )

    @classmethod
    def description(cls, context: bpy.types.Context, properties: Any) -> str:
        if properties.create_anyway:
            return ("Create the job again WITHOUT looking for the one the server may already have. Risk: if the "
                    "server did create it, this is a second, paid job. Plain Retry is safe: it keeps looking")
        return "Resume this submission at the stage that failed (nothing finished is repeated)"

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        if not _interactive(context):
            return self.execute(context)
        if self.create_anyway:
            wm = context.window_manager
            assert wm is not None
            return wm.invoke_confirm(self, event)  # type: ignore[no-any-return]
        return self._start(context)

    def _start(self, context: bpy.types.Context) -> OperatorReturn:
        if not RUNTIME.get_pipeline(context).retry(self.submission_id, create_anyway=self.create_anyway):
            self.report({"WARNING"}, "This submission is running or finished")
            return {"CANCELLED"}
        RUNTIME.reload_views()
        RUNTIME.ensure_timer()
        return {"FINISHED"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        if _interactive(context):  # confirmed from invoke's dialog
            return self._start(context)
        if not RUNTIME.get_pipeline(context).retry(self.submission_id, create_anyway=self.create_anyway):
            self.report({"WARNING"}, "This submission is running or finished")
            return {"CANCELLED"}
        RUNTIME.reload_views()
        return _report_row(self, _blocking_wait(self, self.submission_id))


class MOVE_MOCAP_OT_resume(NetworkPollMixin, bpy.types.Operator):
    """Resume every unfinished submission (done automatically when Blender starts or a file is opened)"""

    bl_idname = "move_mocap.resume"
    bl_label = "Resume Unfinished"
    bl_options = {"REGISTER"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        started = RUNTIME.resume(context)
        if _interactive(context):
            self.report({"INFO"}, RUNTIME.notice or "Nothing to resume")
            return {"FINISHED"}
        status: OperatorReturn = {"FINISHED"}
        for sid in started:
            if _report_row(self, _blocking_wait(self, sid)) != {"FINISHED"}:
                status = {"CANCELLED"}
        if not started:
            self.report({"INFO"}, RUNTIME.notice or "Nothing to resume")
        return status


# -------------------------------------------------------------------------------------------- apply


class MOVE_MOCAP_OT_apply(bpy.types.Operator):
    """Put a finished result's animation on an armature as a new action (existing actions are kept).
    Downloads it first when this computer does not have it"""

    bl_idname = "move_mocap.apply"
    bl_label = "Apply Animation"
    bl_options = {"REGISTER", "UNDO"}

    submission_id: StringProperty(name="Submission", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    job_id: StringProperty(name="Job", description="A server job (from the history)", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    target: StringProperty(  # type: ignore[valid-type]
        name="Armature", description="Armature object name (empty: a new armature)", options={"SKIP_SAVE"})
    use_scene_target: BoolProperty(  # type: ignore[valid-type]
        name="Use Panel Target", description="Use the panel's target (or the active armature)",
        default=False, options={"SKIP_SAVE"})
    actor: IntProperty(  # type: ignore[valid-type]
        name="Actor", description="The actor of a result with several (0: the first)", default=0, min=0, max=64,
        options={"SKIP_SAVE"})

    def _target(self, context: bpy.types.Context) -> tuple[Any, str | None]:
        if self.use_scene_target:
            obj = resolve_target(context)
            return obj, None
        if not self.target:
            return None, None
        obj = bpy.data.objects.get(self.target)
        if obj is None or obj.type != "ARMATURE":
            return None, (f"There is no armature named {self.target!r} in this file; pick an existing armature "
                          "(or none, for a new one)")
        return obj, None

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        target, problem = self._target(context)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        pipeline = RUNTIME.get_pipeline(context)
        journal = pipeline.journal
        sid = self.submission_id
        if not sid and self.job_id:
            row = journal.by_job(self.job_id)
            if row is not None and outputs_on_disk(row):  # the resubmission plan's test: apply, else adopt
                sid = row.id
            else:  # not on this computer: download it first (a network step)
                net = network_problem(context)
                if net:
                    self.report({"ERROR"}, net)
                    return {"CANCELLED"}
                sid = pipeline.adopt_job(self.job_id, target=target.name if target else "",
                                         blend_file=bpy.data.filepath)
                RUNTIME.reload_views()
                if _interactive(context):
                    RUNTIME.ensure_timer()
                    self.report({"INFO"}, "Downloading the result; it is applied when it arrives")
                    return {"FINISHED"}
                row = pipeline.wait(sid, on_event=_fold)
                if row.state is not State.READY:
                    return _report_row(self, row)
        if not sid:
            self.report({"ERROR"}, "Choose a result to apply")
            return {"CANCELLED"}
        row = journal.get(sid)
        if row is None:
            self.report({"ERROR"}, "Unknown submission")
            return {"CANCELLED"}
        if row.stage.order < row.stage.DOWNLOADED.order:
            self.report({"ERROR"}, f"{row.title} is not finished yet ({row.stage.value})")
            return {"CANCELLED"}
        applied = RUNTIME.apply_now(sid, target, actor=self.actor or None)
        self.report({"INFO" if applied.ok else "ERROR"}, applied.message)
        return {"FINISHED"} if applied.ok else {"CANCELLED"}


class MOVE_MOCAP_OT_apply_actors(bpy.types.Operator):
    """Put each chosen actor's motion on the rig picked for it (or on a new armature per actor), in one undo
    step"""

    bl_idname = "move_mocap.apply_actors"
    bl_label = "Apply Actors"
    bl_options = {"REGISTER", "UNDO"}

    submission_id: StringProperty(name="Submission", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    new_rigs: BoolProperty(  # type: ignore[valid-type]
        name="New Rig per Actor", description="A new armature for every chosen actor, whatever rig is picked",
        default=False, options={"SKIP_SAVE"})

    @classmethod
    def description(cls, context: bpy.types.Context, properties: Any) -> str:
        if properties.new_rigs:
            return "Put each chosen actor's motion on a new armature of its own, in one undo step"
        return "Put each chosen actor's motion on the rig picked for it (empty: a new armature), in one undo step"

    def _plan(self, context: bpy.types.Context) -> tuple[list[Any], str | None]:
        chosen = [a for a in actors(context, self.submission_id) if a.use and a.actor > 0]
        if not chosen:
            return [], "Tick at least one actor to apply (people only seen were not captured)"
        if not self.new_rigs:
            rigs = [a.target.name for a in chosen if a.target is not None]
            twice = sorted({n for n in rigs if rigs.count(n) > 1})
            if twice:
                return [], (f"Several actors go to {', '.join(twice)}: pick one rig per actor (or leave it empty "
                            "for a new armature)")
        return chosen, None

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        row = RUNTIME.journal().get(self.submission_id) if self.submission_id else None
        if row is None:
            self.report({"ERROR"}, "Choose a finished result with several actors")
            return {"CANCELLED"}
        if row.stage.order < row.stage.DOWNLOADED.order:
            self.report({"ERROR"}, f"{row.title} is not finished yet ({row.stage.value})")
            return {"CANCELLED"}
        chosen, problem = self._plan(context)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        done, failed = [], []
        for item in chosen:
            target = None if self.new_rigs else item.target
            applied = RUNTIME.apply_now(self.submission_id, target, actor=item.actor,
                                        new_armature_name=f"{row.title}_actor{item.actor}")
            if applied.ok:
                done.append(f"actor {item.actor} -> {applied.result.armature.name}")
                if target is None:  # the new rig is this actor's from now on (Apply Again reuses it)
                    item.target = applied.result.armature
            else:
                failed.append(f"actor {item.actor}: {applied.message}")
        for message in failed:
            self.report({"ERROR"}, message)
        if not done:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Applied {row.title}: {'; '.join(done)}")
        return {"FINISHED"}


class MOVE_MOCAP_OT_capture_person(NetworkPollMixin, bpy.types.Operator):
    """Capture this person instead of the main subject: a new job on the same take (nothing is uploaded again),
    its result applied to the panel's target like any other. Asking again for the same person makes no new job"""

    bl_idname = "move_mocap.capture_person"
    bl_label = "Capture This Person"
    bl_options = {"REGISTER"}

    submission_id: StringProperty(name="Submission", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    person: IntProperty(  # type: ignore[valid-type]
        name="Person", description="The person's number, as the job listed them", default=0, min=0, max=64,
        options={"SKIP_SAVE"})

    def _submit(self, context: bpy.types.Context, *, wait_for_engine: bool) -> tuple[str, bool] | None:
        """The new submission (id, created), or None after reporting why not (or, the local engine starting
        without waiting for it, after arranging for it to be made once the engine answers)."""
        target = resolve_target(context)
        extra = {"target_uid": tag_target(target)} if target is not None else {}
        sid, person = self.submission_id, self.person
        row = RUNTIME.get_pipeline(context).journal.get(sid)
        if row is None:
            self.report({"ERROR"}, "Choose a result whose job listed the people it saw")
            return None

        target_name = target.name if target is not None else ""  # read now: the rig may be gone by the time
        # the engine answers, and a removed object's name cannot be read

        def submit() -> tuple[str, bool]:
            out = RUNTIME.get_pipeline(bpy.context).capture_person(
                sid, person, target=target_name, blend_file=bpy.data.filepath, extra=extra)
            RUNTIME.reload_views()
            RUNTIME.ensure_timer()
            return out

        if get_preferences(context).backend == "LOCAL":  # the take is in the local engine's store
            from ..engine_control.engine import engine, start_engine

            error = start_engine(context, wait=wait_for_engine)
            if error:
                self.report({"ERROR"}, f"The local engine cannot run: {error}")
                return None
            eng = engine()
            if not wait_for_engine and eng is not None and not eng.status.running:
                submit_when_engine_ready(row.spec, submit)
                self.report({"INFO"}, f"Starting the local engine: person {person} is asked for as soon as it "
                                      "answers")
                return sid, False
        try:
            out = submit()
        except (ValueError, KeyError) as exc:
            self.report({"ERROR"}, str(exc).strip("'\""))
            return None
        if not out[1]:
            row = RUNTIME.journal().require(out[0])
            self.report({"INFO"}, f"Person {self.person} was asked for already ({row.title}: "
                                  f"{View.from_row(row).text.lower()}); no new job")
        return out

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        if not _interactive(context):
            return self.execute(context)
        out = self._submit(context, wait_for_engine=False)
        if out is None:
            return {"CANCELLED"}
        if out[1]:
            self.report({"INFO"}, f"Capturing person {self.person}: progress in the sidebar's Move tab")
        return {"FINISHED"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        out = self._submit(context, wait_for_engine=True)
        if out is None:
            return {"CANCELLED"}
        sid, created = out
        if not created:
            return {"FINISHED"}
        return _report_row(self, _blocking_wait(self, sid))


# ----------------------------------------------------------------------------------------- history


class MOVE_MOCAP_OT_refresh_history(NetworkPollMixin, bpy.types.Operator):
    """Load your jobs from the server and merge them with this computer's submissions"""

    bl_idname = "move_mocap.refresh_history"
    bl_label = "Refresh History"
    bl_options = {"REGISTER"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        pipeline = RUNTIME.get_pipeline(context)
        thread = pipeline.load_history()
        if _interactive(context):
            RUNTIME.ensure_timer()
            return {"FINISHED"}
        thread.join(120)
        for event in pipeline.drain():
            RUNTIME.handle(event, auto_apply=False)
        RUNTIME.sync_history()
        if RUNTIME.history_error:
            self.report({"ERROR"}, RUNTIME.history_error)
            return {"CANCELLED"}
        self.report({"INFO"}, f"{len(history(context).items)} jobs in the history")
        return {"FINISHED"}


class MOVE_MOCAP_OT_load_capture_choices(NetworkPollMixin, bpy.types.Operator):
    """List the server's lenses and volumes for multi-camera takes (Blender stays usable while it loads)"""

    bl_idname = "move_mocap.load_capture_choices"
    bl_label = "Load Lenses and Volumes"
    bl_options = {"REGISTER"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        thread = RUNTIME.load_capture_choices(context)
        if thread is None:
            self.report({"ERROR"}, network_problem(context) or "The server cannot be reached now")
            return {"CANCELLED"}
        if _interactive(context):
            return {"FINISHED"}
        thread.join(120)
        for event in RUNTIME.get_pipeline().drain():
            RUNTIME.handle(event, auto_apply=False)
        choices = server_choices(context)
        if choices is None or choices.state != "loaded":
            self.report({"ERROR"}, "The server did not answer in time")
            return {"CANCELLED"}
        if choices.error:
            self.report({"WARNING"}, choices.error)
        self.report({"INFO"}, f"{len(choices.lenses)} lenses and {len(choices.volumes)} volumes on the server")
        return {"FINISHED"}


def _output_dir(job_id: str, submission_id: str) -> Path | None:
    journal = RUNTIME.journal()
    row = journal.get(submission_id) if submission_id else journal.by_job(job_id) if job_id else None
    if row is None or not row.outputs:
        return None
    return Path(next(iter(row.outputs.values()))).parent


class MOVE_MOCAP_OT_open_output_folder(bpy.types.Operator):
    """Open the folder with this result's downloaded files"""

    bl_idname = "move_mocap.open_output_folder"
    bl_label = "Open Output Folder"
    bl_options = {"REGISTER"}

    submission_id: StringProperty(options={"SKIP_SAVE"})  # type: ignore[valid-type]
    job_id: StringProperty(options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        folder = _output_dir(self.job_id, self.submission_id)
        if folder is None or not folder.is_dir():
            self.report({"ERROR"}, "Nothing downloaded for this result yet: Apply downloads it")
            return {"CANCELLED"}
        if bpy.app.background:
            self.report({"INFO"}, str(folder))
            return {"FINISHED"}
        if sys.platform == "win32":
            os.startfile(folder)  # type: ignore[attr-defined]
        else:
            bpy.ops.wm.path_open(filepath=str(folder))
        return {"FINISHED"}


class MOVE_MOCAP_OT_copy_job_id(bpy.types.Operator):
    """Copy the job id to the clipboard (to quote it to Move's support, or use it in a script)"""

    bl_idname = "move_mocap.copy_job_id"
    bl_label = "Copy Job ID"
    bl_options = {"REGISTER"}

    job_id: StringProperty(options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        if not self.job_id:
            self.report({"ERROR"}, "This result has no job id yet")
            return {"CANCELLED"}
        assert context.window_manager is not None
        context.window_manager.clipboard = self.job_id
        self.report({"INFO"}, f"Copied {self.job_id}")
        return {"FINISHED"}


class MOVE_MOCAP_OT_import_share_code(NetworkPollMixin, bpy.types.Operator):
    """Download the recording behind a Move One share code and put it on the target armature"""

    bl_idname = "move_mocap.import_share_code"
    bl_label = "Import Share Code"
    bl_options = {"REGISTER"}
    needs_api_key = False

    code: StringProperty(name="Code", description="8 digits (empty: the panel's)", options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def _start(self, context: bpy.types.Context) -> str | None:
        p = scene_props(context)
        code = "".join(ch for ch in (self.code or p.share_code) if ch.isdigit())
        if len(code) != 8:
            self.report({"ERROR"}, "A share code is the 8 digits shown by the Move One app")
            return None
        target = resolve_target(context)
        sid = RUNTIME.get_pipeline(context).import_share_code(
            code, target=target.name if target else "", blend_file=bpy.data.filepath)
        p.share_code = ""
        RUNTIME.reload_views()
        return sid

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        if not _interactive(context):
            return self.execute(context)
        if self._start(context) is None:
            return {"CANCELLED"}
        RUNTIME.ensure_timer()
        return {"FINISHED"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        sid = self._start(context)
        if sid is None:
            return {"CANCELLED"}
        return _report_row(self, _blocking_wait(self, sid))


class MOVE_MOCAP_OT_dismiss(bpy.types.Operator):
    """Hide this row (the journal keeps it: it stays in the history)"""

    bl_idname = "move_mocap.dismiss"
    bl_label = "Dismiss"
    bl_options = {"REGISTER"}

    submission_id: StringProperty(options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        view = RUNTIME.views.get(self.submission_id)
        if view is not None:
            view.dismissed = True
            Runtime.redraw()
        return {"FINISHED"}


CLASSES = (
    MOVE_MOCAP_OT_footage_add, MOVE_MOCAP_OT_footage_remove, MOVE_MOCAP_OT_process, MOVE_MOCAP_OT_cancel,
    MOVE_MOCAP_OT_retry, MOVE_MOCAP_OT_resume, MOVE_MOCAP_OT_apply, MOVE_MOCAP_OT_apply_actors,
    MOVE_MOCAP_OT_capture_person,
    MOVE_MOCAP_OT_refresh_history, MOVE_MOCAP_OT_load_capture_choices,
    MOVE_MOCAP_OT_open_output_folder, MOVE_MOCAP_OT_copy_job_id, MOVE_MOCAP_OT_import_share_code,
    MOVE_MOCAP_OT_dismiss,
)
