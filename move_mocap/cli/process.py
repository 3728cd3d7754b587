"""``process``: videos (single camera, one job each) or ``--cameras`` (one multi-camera take with its volume)
into submissions, each planned by ``core.pipeline.plan`` (start, skip, apply again, adopt, resume, retry,
leave) and then followed and applied by ``runner``.

It turns flags into ``SubmissionSpec``s and carries out the plan's step; it does not decide the step.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import bpy

from ..core.outputs import parse_keys
from ..core.pipeline.model import (
    DEFAULT_HUMAN_HEIGHT,
    MULTI_MODELS,
    SINGLE_MODELS,
    VIDEO_SUFFIXES,
    Footage,
    Stage,
    SubmissionSpec,
    submission_key,
)
from ..core.pipeline.plan import plan_resubmission
from ..core.pipeline.preflight import calibration_file_backend_problem, calibration_file_problem
from ..core.safe_paths import UnsafeNameError, check_name, shown
from ..preferences import settings
from .errors import UsageError
from .items import Item
from .runner import run_items, save_blend
from .session import Session, item_target, resolve_target


def collect_videos(inputs: list[str], recursive: bool, suffixes: tuple[str, ...] = VIDEO_SUFFIXES) -> list[Path]:
    """Videos named or found in the folders named (sorted, each once); a missing path is a usage error."""
    found: list[Path] = []
    for text in inputs:
        path = Path(text).expanduser()
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.iterdir()
            videos = sorted(p for p in pattern if p.is_file() and p.suffix.lower() in suffixes)
            if not videos:
                raise UsageError(f"{path}: no videos ({', '.join(suffixes)}) in this folder")
            found += videos
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    out: list[Path] = []
    seen: set[Path] = set()
    for p in found:
        r = p.resolve()
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


def _files(flag: str, paths: list[str]) -> list[Path]:
    out = []
    for text in paths:
        path = Path(text).expanduser()
        if not path.is_file():
            raise UsageError(f"{flag} {path}: no such file")
        out.append(path.resolve())
    if len(set(out)) != len(out):
        raise UsageError(f"{flag}: the same video is named twice (one video per camera)")
    return out


def _take_folder(text: str, recursive: bool) -> list[Path]:
    """``--multi-camera``: one take folder's videos (sorted by name: the cameras' order)."""
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise UsageError(f"--multi-camera: {folder} is not a folder (one folder of camera videos per take)")
    return collect_videos([str(folder)], recursive)


def camera_labels(cameras: list[Path]) -> list[str]:
    """Device labels: the videos' names when they differ (cam01.mp4 -> cam01), else cam01, cam02, ..."""
    stems = [p.stem for p in cameras]
    usable = len(set(stems)) == len(stems) and all(s.replace("_", "").replace("-", "").isalnum() for s in stems)
    return stems if usable else [f"cam{i + 1:02d}" for i in range(len(cameras))]


def multi_camera_spec(args: argparse.Namespace, cameras: list[Path], flag: str = "--cameras") -> dict[str, Any]:
    """The multi-camera part of a ``SubmissionSpec`` for ``cameras`` from the volume, lens, sync and actor
    flags (usage-checked)."""
    if len(cameras) < 2:
        raise UsageError(f"{flag}: a multi-camera take needs two videos or more (one per camera)")
    if args.volume and args.volume_video:
        raise UsageError("--volume and --volume-video: give one (reuse a volume, or calibrate a new one)")
    volume = _files("--volume-video", args.volume_video) if args.volume_video else []
    if volume and len(volume) != len(cameras):
        raise UsageError(f"--volume-video: one video per camera, in --cameras' order ({len(cameras)} cameras, "
                         f"{len(volume)} volume videos)")
    lenses = list(args.lens or [])
    if lenses and len(lenses) not in (1, len(cameras)):
        raise UsageError(f"--lens: one lens for every camera, or one per camera ({len(cameras)})")
    lenses = lenses * len(cameras) if len(lenses) == 1 else lenses or [""] * len(cameras)
    if args.sync_method == "clap" and not args.clap_window:
        raise UsageError("--sync-method clap needs --clap-window START END (seconds) around the clap")
    if args.clap_window and args.sync_method != "clap":
        raise UsageError("--clap-window goes with --sync-method clap")
    calibration_file = ""
    if args.calibration:
        if args.volume:
            raise UsageError("--volume and --calibration: give one (reuse a volume, or give the cameras' calibration)")
        problem = calibration_file_backend_problem(settings(bpy.context).endpoint, fix=(
            "Give the local engine's --endpoint (http://127.0.0.1:PORT/ugc/graphql), or leave out --calibration"))
        if problem:  # before the file is even read
            raise UsageError(f"--calibration: {problem}")
        problem = calibration_file_problem(args.calibration)
        if problem:
            raise UsageError(f"--calibration: {problem}")
        calibration_file = str(Path(args.calibration).expanduser().resolve())
    volume_id = (args.volume or "").strip()
    if volume_id:
        try:
            check_name(volume_id, "volume id")
        except UnsafeNameError as exc:
            raise UsageError(f"--volume: Not a volume id: {exc.reason} ({shown(volume_id)})") from None
    labels = camera_labels(cameras)
    return {
        "footage": tuple(Footage(str(p), labels[i], lenses[i]) for i, p in enumerate(cameras)),
        "calibration": tuple(Footage(str(p), labels[i], lenses[i]) for i, p in enumerate(volume)),
        "multi_camera": True, "number_of_actors": args.actors, "human_height": args.human_height or DEFAULT_HUMAN_HEIGHT,
        "area_type": args.area_type, "volume_id": volume_id,
        "sync_window": tuple(args.clap_window) if args.clap_window else None,
        "sync_timecode": args.sync_method == "timecode", "calibration_file": calibration_file,
    }


def _single_camera_only(args: argparse.Namespace) -> None:
    given = [flag for flag, value in (("--volume-video", args.volume_video), ("--volume", args.volume),
                                      ("--calibration", args.calibration),
                                      ("--lens", args.lens), ("--sync-method", args.sync_method),
                                      ("--clap-window", args.clap_window)) if value]
    if args.actors != 1:
        given.append("--actors")
    if args.human_height is not None:
        given.append("--human-height")
    if given:
        raise UsageError(f"{', '.join(given)}: multi-camera options; name the cameras' videos with --cameras "
                         "(a single-camera job captures one person)")


def _model(args: argparse.Namespace, multi: bool) -> str:
    models = MULTI_MODELS if multi else SINGLE_MODELS
    if args.model and args.model not in models:
        raise UsageError(f"--model {args.model} is not a {'multi' if multi else 'single'}-camera model "
                         f"({'/'.join(models)})")
    return str(args.model or models[-1])


def build_specs(args: argparse.Namespace, target: Any) -> list[tuple[Item, SubmissionSpec]]:
    """One (item, spec) per job the command line asks for, in order."""
    try:
        outputs = parse_keys(args.outputs)
    except ValueError as exc:
        raise UsageError(f"--outputs: {exc}") from None
    if args.clip and (args.clip[0] < 0 or args.clip[1] <= args.clip[0]):
        raise UsageError("--clip START END: END must be after START, START >= 0 (seconds)")
    person = getattr(args, "person", None) or 0
    if person and (args.cameras or args.multi_camera):
        raise UsageError("--person: single camera only (a multi-camera job captures --actors people)")
    common = {"track_fingers": args.fingers, "track_ball": args.ball, "floor_plane": args.floor_plane,
              "clip_window": tuple(args.clip) if args.clip else None, "outputs": outputs,
              "target": item_target(target), "blend_file": bpy.data.filepath}
    if args.cameras:
        if args.inputs:
            raise UsageError("give videos (one job each) or --cameras (one multi-camera take), not both")
        takes = [_files("--cameras", args.cameras)]
    elif args.multi_camera:
        takes = [_take_folder(text, args.recursive) for text in args.inputs]
        if not takes:
            raise UsageError("--multi-camera: give the take folders (one folder of camera videos per take)")
    else:
        takes = []
    if takes:
        model = _model(args, True)
        out = []
        taken: set[str] = set()
        for cameras in takes:
            multi = multi_camera_spec(args, cameras, "--cameras" if args.cameras else str(cameras[0].parent))
            name = cameras[0].parent.name or cameras[0].stem
            name = name if name not in taken else f"{name}_{len(taken) + 1}"
            taken.add(name)
            item = Item(" ".join(str(p) for p in cameras), name)
            out.append((item, SubmissionSpec(model=model, name=name, **multi, **common)))
        return out
    if not args.inputs:
        raise UsageError("give the videos to process (files or folders), or --cameras for a multi-camera take")
    _single_camera_only(args)
    model = _model(args, False)
    out = []
    names: set[str] = set()
    for video in collect_videos(args.inputs, args.recursive):
        name = video.stem if video.stem not in names else f"{video.parent.name}_{video.stem}"
        names.add(name)
        out.append((Item(str(video), name),
                    SubmissionSpec(footage=(Footage(str(video)),), model=model, name=name, person=person,
                                   **common)))
    return out


def cmd_process(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any]) -> None:
    target = resolve_target(args)
    wanted = build_specs(args, target)
    session.require_network()
    check_lenses(session, [spec for _item, spec in wanted])
    shared = len(wanted) > 1 and wanted[0][1].multi_camera and bool(wanted[0][1].calibration
                                                                     or wanted[0][1].calibration_file)
    if args.create_anyway:
        session.console.info("--create-anyway: a take or job whose create got no answer is created again "
                             "without looking for it; if the server had made it, that is a second paid job")
    if shared:  # one volume for the batch: the first take calibrates it (or brings its file), the others use it
        first, rest = wanted[:1], wanted[1:]
        _run(session, args, items, first, target)
        row = session.pipeline.journal.get(first[0][0].submission_id) if first[0][0].submission_id else None
        volume_id = row.volume_id if row is not None and row.stage.order >= Stage.VOLUME.order else ""
        if not volume_id:
            for item, _spec in rest:
                items.append(item)
                item.fail("volume", "volume", f"the volume was not calibrated (see {first[0][0].name})",
                          "Fix the volume videos, then run the same command again.")
            save_blend(session)
            return
        wanted = [(item, replace(spec, calibration=(), calibration_file="", volume_id=volume_id))
                  for item, spec in rest]
    _run(session, args, items, wanted, target)
    save_blend(session)


def _submit_once(pipeline: Any, spec: SubmissionSpec) -> tuple[str, bool]:
    """``Pipeline.submit_once``, except that another person (``--person``) of a video already processed here with
    the same settings is a new job on that submission's take (``Pipeline.capture_person``: nothing uploaded again,
    the same person asked twice is one job); without such a submission, the video is submitted asking for that
    person. The same request made before (``submission_key``) is that submission. ValueError: that submission's
    job did not list the person."""
    if spec.person:
        same = pipeline.journal.find_by_key(submission_key(spec), endpoint=pipeline.config.endpoint)
        if same is not None:  # asked for by footage before: one job per person
            return same.id, False
        earlier = pipeline.journal.find_by_key(submission_key(replace(spec, person=0)),
                                               endpoint=pipeline.config.endpoint)
        if earlier is not None and earlier.take_id and earlier.stage.order >= Stage.DOWNLOADED.order:
            return pipeline.capture_person(earlier.id, spec.person, target=spec.target,  # type: ignore[no-any-return]
                                           blend_file=spec.blend_file, start=False)
    return pipeline.submit_once(spec)  # type: ignore[no-any-return]


def check_lenses(session: Session, specs: list[SubmissionSpec]) -> None:
    """``--lens`` names a lens the server lists (``listCameraSettings``); a server that lists none, or cannot
    be asked, is left to judge it."""
    asked = sorted({f.lens for spec in specs for f in (*spec.footage, *spec.calibration) if f.lens})
    if not asked:
        return
    try:
        with session.pipeline.client_factory(sleep=time.sleep) as client:
            known = {s.lens for s in client.list_camera_settings().items if s is not None and s.lens}
    except Exception as exc:  # the job's own calls will say what is wrong with the server
        session.console.info(f"--lens not checked: the server's lenses could not be listed "
                             f"({session.scrub(str(exc))[:200]})")
        return
    unknown = [lens for lens in asked if known and lens not in known]
    if unknown:
        raise UsageError(f"--lens {', '.join(unknown)}: not a lens this server knows (it lists: "
                         f"{', '.join(sorted(known))})")


def _run(session: Session, args: argparse.Namespace, items: list[Item],
         wanted: list[tuple[Item, SubmissionSpec]], target: Any) -> None:
    """Plan each wanted submission (``core.pipeline.plan``), carry out its step, then follow and apply them."""
    pipeline = session.pipeline
    journal = pipeline.journal
    queue_: list[Item] = []
    for item, spec in wanted:
        items.append(item)
        name = item.name
        problem = spec.validate()
        if problem:
            hint = ("Give readable videos, one per camera." if spec.multi_camera
                    else "Give a readable video (.mp4 .mov .avi .move).")
            item.fail("validate", "validation", problem, hint, outcome="invalid")
            session.console.error(f"{name}: {problem}")
            continue
        try:
            sid, created = _submit_once(pipeline, spec)
        except ValueError as exc:
            item.fail("validate", "validation", str(exc), "Run `status` on the earlier job to see the people it "
                      "listed, and give one of their numbers.", outcome="invalid")
            session.console.error(f"{name}: {exc}")
            continue
        item.submission_id, item.created_new = sid, created
        row = journal.require(sid)
        action = bpy.data.actions.get(row.applied_action or "")
        applied_here = (action is not None and (row.applied_to or "") in bpy.data.objects
                        and (target is None or row.applied_to == target.name))
        plan = plan_resubmission(row, created=created, applied_here=applied_here,
                                 retry_failed=not args.no_retry_failed)
        step = plan.step.value
        if step == "skip":
            item.outcome, item.armature, item.action = "skipped", row.applied_to or "", row.applied_action or ""
            item.finished = time.time()
            session.console.info(f"{name}: {plan.message}")
            continue
        if step == "leave":
            item.fail(row.error_stage or row.stage.value, row.error_kind or row.state.value,
                      row.error_message or row.state.value, "Run without --no-retry-failed to retry it.")
            session.console.error(f"{name}: {plan.message}")
            continue
        if step == "adopt":  # finished on the server, files gone here: download the same job again (no new job)
            item.submission_id = pipeline.adopt_job(row.job_id, name=name, target=item_target(target),
                                                    blend_file=bpy.data.filepath, start=False)
        item.mode = {"apply": "apply", "retry": "retry"}.get(step, "start")
        if plan.reapply:
            item.outcome = "reapplied"
        session.console.info(f"{name}: {plan.message}")
        queue_.append(item)
    if queue_:
        run_items(session, queue_, target, jobs=args.jobs, create_anyway=bool(args.create_anyway))
