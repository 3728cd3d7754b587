"""Headless and batch Move mocap: the add-on's own pipeline, importer and retarget engine from a command line.

For pipeline TDs: a folder of takes overnight, a render-farm task, a CI check. Runs inside Blender

    blender -b scene.blend --online-mode --python-exit-code 1 --python scripts/mocap.py -- process take.mp4

or with the bpy module (``python scripts/mocap.py process take.mp4 --blend scene.blend``). It finds the add-on
(installed as an extension, or this repository: the repository root goes on ``sys.path`` here, never inside
the add-on), then drives the same ``Pipeline`` and journal the panel uses (``runtime.RUNTIME``) and applies
results through the panel's own apply path (``Runtime.apply_now``: the importer and the retarget engine),
with the output kinds of ``core.outputs`` and a ``RetargetOptions`` built from the flags. What is still
here beyond argument parsing, scheduling, progress and the report: the resubmission policy (skip what is
applied, re-apply, adopt a server job, resume, retry), decided from the journal's states.

Threading as in the add-on: pipeline workers upload and poll in parallel; this (main) thread alone imports,
one result at a time. The API key comes from the add-on's preferences, ``MOVE_API_KEY`` or
``--api-key-file``, never from a command-line argument, and never reaches stderr, the report or a .blend.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ADDON_ID = "move_mocap"

EXIT_OK = 0          # everything asked for succeeded (applied, skipped as already done, or downloaded)
EXIT_FAILURE = 1     # nothing succeeded, or the run could not start (add-on, key, server, unknown id)
EXIT_USAGE = 2       # bad usage: the command line cannot be carried out as written (argparse's code)
EXIT_PARTIAL = 3     # some items succeeded and some failed (see the report)
EXIT_INTERRUPTED = 130

SUCCESS_OUTCOMES = ("applied", "reapplied", "skipped", "downloaded", "found")

EPILOG = """\
exit codes:
  0    success: every item applied, already done (skipped) or downloaded
  1    failure: no item succeeded, or the run could not start (add-on not found, no API key,
       server unreachable, unknown job id)
  2    bad usage: wrong arguments, a missing video/folder/armature (message on stderr)
  3    partial failure: some items succeeded, some failed (the report says which and why)
  130  interrupted (Ctrl-C): unfinished items stay in the journal; run the same command to resume

the API key: the add-on's preferences, overridden by the MOVE_API_KEY environment variable or
--api-key-file (never a command-line argument: it would show in process lists).

re-running the same command is safe: items already applied in the opened .blend are skipped,
unfinished ones resume where they stopped, failed ones are retried, and a video with the same
content identity (path, size, modification time) and settings never gets a second job.

examples:
  # one video onto the rig "Hero", saved to a new file (Blender binary)
  blender -b shot.blend --online-mode --python-exit-code 1 --python scripts/mocap.py -- \\
      process takes/run.mp4 --target Hero --save shot_mocap.blend --report run.json

  # a folder of takes overnight, 4 uploads/polls at once, with the bpy module
  MOVE_API_KEY=... python scripts/mocap.py process takes/ --jobs 4 --model S2 --fingers \\
      --outputs MAIN_FBX,MOTION_DATA --blend shot.blend --target Hero --save shot.blend

  # against a local engine (see README "Headless and batch")
  MOVE_API_KEY=KEY python scripts/mocap.py process take.mp4 --endpoint http://127.0.0.1:8765/ugc/graphql

  python scripts/mocap.py list --json
  python scripts/mocap.py status <job-id>
  python scripts/mocap.py download <job-id> --to ./outputs
  python scripts/mocap.py apply <job-id> --blend rig.blend --target Armature --save out.blend
  python scripts/mocap.py share-code 12345678 --target Hero --save out.blend
"""


class UsageError(Exception):
    """The command line cannot be carried out (exit 2)."""


class RunFailure(Exception):
    """The run could not start or its one item failed (exit 1); the message is safe to print."""


# ---------------------------------------------------------------------------------------------- output


class Console:
    """Human-readable progress on stderr (the API key is scrubbed from every line)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.scrub: Callable[[str], str] = lambda text: text

    def info(self, text: str) -> None:
        if not self.quiet:
            self._write(text)

    def error(self, text: str) -> None:
        self._write(f"error: {text}")

    def _write(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[mocap {stamp}] {self.scrub(text)}", file=sys.stderr, flush=True)


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if t else None


# ---------------------------------------------------------------------------------------------- arguments


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mocap.py",
        description="Move mocap without a UI: the move_mocap add-on's own pipeline, importer and retarget "
                    "engine, from `blender -b ... --python scripts/mocap.py -- <command>` or "
                    "`python scripts/mocap.py <command>` (bpy module).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)

    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("session")
    g.add_argument("--blend", metavar="FILE", help="open this .blend first (the bpy-module form; the Blender "
                   "binary takes it on its own command line)")
    g.add_argument("--addon", choices=("auto", "installed", "repo"), default="auto",
                   help="use the installed extension (bl_ext.<repo>.move_mocap), this repository's "
                        "move_mocap, or the installed one when there is one (default: auto)")
    g.add_argument("--endpoint", metavar="URL", help="Move GraphQL endpoint for this run (default: the "
                   "add-on's preferences), e.g. a local engine http://127.0.0.1:8765/ugc/graphql")
    g.add_argument("--api-key-file", metavar="FILE", help="read the API key from this file (else "
                   "MOVE_API_KEY, else the add-on's preferences)")
    g.add_argument("--download-dir", metavar="DIR", help="where outputs are downloaded (default: the "
                   "add-on's preferences)")
    g.add_argument("--report", metavar="FILE", help="write a JSON report: every item's ids, stage, "
                   "timings and error (no secrets, no URL signatures)")
    g.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                   help="give up waiting after this long (unfinished items stay resumable)")
    g.add_argument("--poll-max", type=_positive_float, default=15.0, metavar="SECONDS",
                   help="longest pause between two job-status polls (default: 15)")
    g.add_argument("-q", "--quiet", action="store_true", help="print only errors on stderr")

    apply_opts = argparse.ArgumentParser(add_help=False)
    a = apply_opts.add_argument_group("applying and retargeting")
    a.add_argument("--target", metavar="ARMATURE", help="armature object to put the motion on (retargeted; "
                   "default: a new armature per result)")
    a.add_argument("--actor", type=_positive_int, help="which actor of a multi-actor result (1, 2, ...)")
    a.add_argument("--keep-source", action="store_true", help="keep the imported Move armature beside the "
                   "target")
    a.add_argument("--root-motion", choices=("HIPS", "OBJECT", "BONE", "IN_PLACE"),
                   help="where the root motion goes on the target (default: HIPS)")
    a.add_argument("--root-bone", metavar="BONE", help="target bone for --root-motion BONE")
    a.add_argument("--root-rotation", action="store_true", help="with --root-motion OBJECT or BONE, the root "
                   "also turns with the hips' heading")
    a.add_argument("--no-retarget-fingers", action="store_true", help="leave the target's fingers alone")
    a.add_argument("--no-floor-clamp", action="store_true", help="do not lift the hips when the target's "
                   "feet would sink below the floor")
    a.add_argument("--translation-scale", type=float, metavar="S", help="scale of root translation "
                   "(default: target leg length / source leg length)")
    a.add_argument("--target-fps", type=float, metavar="FPS", help="output frame rate (default: the source's)")
    a.add_argument("--frame-offset", type=float, metavar="FRAME", help="first output frame")
    a.add_argument("--no-apply", action="store_true", help="download only; apply later with `apply`")
    a.add_argument("--save", metavar="FILE", help="save the .blend here afterwards (the API key is never in it)")

    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    p = sub.add_parser("process", parents=[common, apply_opts], formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="upload videos (files or folders), process them and apply each as a new action",
                       description="Upload each video, create a take and a job, wait for it, download the "
                                   "outputs and put each result on the target as a new action named after the "
                                   "video. Resumable: run the same command again to continue.",
                       epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER", help="videos (.mp4 .mov .avi .move) or "
                   "folders of them")
    p.add_argument("--recursive", action="store_true", help="look for videos in sub-folders too")
    p.add_argument("--model", choices=("S1", "S2"), default="S2", help="Move single-camera model (default: S2)")
    p.add_argument("--fingers", action="store_true", help="track fingers")
    p.add_argument("--ball", action="store_true", help="track a ball")
    p.add_argument("--floor-plane", action="store_true", help="solve a floor plane")
    p.add_argument("--outputs", default="MAIN_FBX,MOTION_DATA", metavar="A,B",
                   help="Move outputs to make, comma-separated (default: MAIN_FBX,MOTION_DATA): any of Move's "
                        "output types; the best one the add-on can import is applied")
    p.add_argument("--clip", nargs=2, type=float, metavar=("START", "END"), help="process only this window "
                   "of each video (seconds)")
    p.add_argument("--jobs", type=_positive_int, default=2, metavar="N", help="videos uploaded and polled at "
                   "once (default: 2); imports run one at a time")
    p.add_argument("--no-retry-failed", action="store_true", help="leave items that failed in an earlier run "
                   "as failed instead of retrying them")
    p.add_argument("--create-anyway", action="store_true", help="RISK OF A SECOND PAID JOB: for items whose "
                   "take or job create got no answer, create it again without looking for the one the server "
                   "may already have (by default the script keeps looking, and creates again only once the "
                   "server shows it has none)")

    s = sub.add_parser("status", parents=[common], help="state of a job (server) or a submission (journal)",
                       description="The journal's record of a submission or job and, for a job, the server's "
                                   "state.")
    s.add_argument("id", help="job id or submission id")
    s.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    li = sub.add_parser("list", parents=[common], help="this machine's submissions and the server's jobs")
    li.add_argument("--limit", type=_positive_int, default=50, help="at most this many of each (default: 50)")
    li.add_argument("--local", action="store_true", help="the journal only (no server call)")
    li.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    d = sub.add_parser("download", parents=[common], help="download a job's outputs into a folder")
    d.add_argument("job_id")
    d.add_argument("--to", metavar="DIR", help="folder (the files go to DIR/<job-id>/; default: "
                   "the download folder)")

    ap = sub.add_parser("apply", parents=[common, apply_opts],
                        help="put an existing job's (or submission's) result on an armature")
    ap.add_argument("id", help="job id or submission id")
    ap.add_argument("--action-name", metavar="NAME", help="name of the new action (default: the take's)")

    sc = sub.add_parser("share-code", parents=[common, apply_opts],
                        help="import a Move One share code (8 digits; '-' reads it from stdin)")
    sc.add_argument("code")
    sc.add_argument("--action-name", metavar="NAME", help="name of the new action")
    return parser


def script_argv(argv: list[str]) -> list[str]:
    """The script's own arguments: after ``--`` inside Blender; after the script path as plain Python."""
    if "--" in argv:
        return argv[argv.index("--") + 1:]
    if argv and Path(argv[0]).name == Path(__file__).name:
        return argv[1:]
    return []


# ---------------------------------------------------------------------------------------------- the add-on


@dataclass
class Addon:
    package: str  # "move_mocap" or "bl_ext.<repo>.move_mocap"
    source: str  # "installed" or "repo"
    enabled_here: bool

    def module(self, name: str) -> Any:
        return importlib.import_module(f"{self.package}.{name}")


def find_addon(mode: str, console: Console) -> Addon:
    """Enable the add-on (installed extension or this repository) and return where it lives."""
    import bpy  # noqa: F401  (first: it puts Blender's own modules such as addon_utils on the path)

    addon_utils = importlib.import_module("addon_utils")
    installed = sorted(m.__name__ for m in addon_utils.modules()
                       if m.__name__.startswith("bl_ext.") and m.__name__.endswith(f".{ADDON_ID}"))
    errors: list[str] = []

    def enable(name: str) -> bool:
        loaded, enabled = addon_utils.check(name)
        if enabled and loaded:
            return False
        module = addon_utils.enable(name, default_set=True, handle_error=lambda exc: errors.append(repr(exc)))
        if module is None:
            raise RunFailure(f"could not enable the add-on {name}: {'; '.join(errors) or 'unknown error'}")
        return True

    if mode == "installed" and not installed:
        raise UsageError("--addon installed: no move_mocap extension is installed in this Blender")
    if installed and mode in ("auto", "installed"):
        name = installed[0]
        return Addon(name, "installed", enable(name))
    for name in installed:  # --addon repo: the installed copy must not register the same classes
        if addon_utils.check(name)[1]:
            addon_utils.disable(name, default_set=False)
    if not (REPO_ROOT / ADDON_ID / "__init__.py").is_file():
        raise RunFailure(f"no {ADDON_ID} package beside this script ({REPO_ROOT}) and no installed extension")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return Addon(ADDON_ID, "repo", enable(ADDON_ID))


# ---------------------------------------------------------------------------------------------- session


class Session:
    """The add-on inside this Blender, its preferences overridden for this run, and its pipeline."""

    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.addon: Addon | None = None
        self._restore: list[Callable[[], None]] = []
        self.secrets: list[str] = []
        self.endpoint = ""
        self.saved: str | None = None
        self.retarget: Any = None  # the add-on's RetargetOptions, from the flags

    def open(self) -> None:
        import bpy

        args = self.args
        if args.api_key_file:
            try:
                key = Path(args.api_key_file).read_text().strip()
            except OSError as exc:
                raise UsageError(f"--api-key-file {args.api_key_file}: {exc.strerror or exc}") from None
            if not key:
                raise UsageError(f"--api-key-file {args.api_key_file} is empty")
            os.environ["MOVE_API_KEY"] = key
        if args.blend:
            blend = Path(args.blend)
            if not blend.is_file():
                raise UsageError(f"--blend {blend}: no such file")
            bpy.ops.wm.open_mainfile(filepath=str(blend.resolve()))
        self.addon = find_addon(args.addon, self.console)
        self.retarget = retarget_options(self, args)  # checked before anything is uploaded
        prefs_mod = self.addon.module("preferences")
        prefs = prefs_mod.get_preferences(bpy.context)
        if args.endpoint:
            problem = importlib.import_module(f"{self.addon.package}.core.endpoints").validate_endpoint(
                args.endpoint)
            if problem:
                raise UsageError(f"--endpoint: {problem}")
            self._override(prefs, "endpoint", args.endpoint.strip())
        if args.download_dir:
            self._override(prefs, "download_dir", str(Path(args.download_dir).resolve()))
        s = prefs_mod.settings(bpy.context)
        self.secrets = [s.api_key] if s.api_key else []
        redact = importlib.import_module(f"{self.addon.package}.core.api.redact")
        self.console.scrub = lambda text: redact.redact_text(text, self.secrets)
        self.endpoint = redact.redact_url(s.endpoint)
        runtime = self.runtime
        initial = min(1.0, args.poll_max)
        runtime.RUNTIME.config_overrides = {**runtime.RUNTIME.config_overrides, "poll_initial": initial,
                                            "poll_max": args.poll_max}
        self.console.info(f"add-on {self.addon.package} ({self.addon.source}), endpoint {self.endpoint}, "
                          f"Blender {bpy.app.version_string}")

    def _override(self, prefs: Any, name: str, value: Any) -> None:
        old = getattr(prefs, name)
        setattr(prefs, name, value)
        self._restore.append(lambda: setattr(prefs, name, old))

    def require_network(self, needs_key: bool = True) -> None:
        import bpy

        problem = self.addon_module("capture.network").network_problem(bpy.context, needs_key=needs_key)
        if problem:
            if not bpy.app.online_access and "Online access" in problem:
                problem += " (in `blender -b`, pass --online-mode)"
            raise RunFailure(problem)

    def addon_module(self, name: str) -> Any:
        assert self.addon is not None
        return self.addon.module(name)

    @property
    def runtime(self) -> Any:
        return self.addon_module("capture.runtime")

    @property
    def pipeline(self) -> Any:
        return self.runtime.RUNTIME.get_pipeline()

    def scrub(self, text: str) -> str:
        return self.console.scrub(text)

    def close(self) -> None:
        if self.addon is not None:
            runtime = self.runtime.RUNTIME
            if runtime.pipeline is not None:
                runtime.pipeline.shutdown(timeout=5.0)  # anything unfinished stays active: resumed next run
        for undo in reversed(self._restore):
            with contextlib.suppress(Exception):
                undo()
        self._restore.clear()


# ---------------------------------------------------------------------------------------------- items


@dataclass
class Item:
    """One thing this run works on (a video, a job, a share code) and what became of it."""

    input: str
    name: str
    outcome: str = "pending"  # applied reapplied skipped downloaded failed invalid timeout interrupted
    submission_id: str = ""
    created_new: bool = False
    mode: str = "start"  # start | retry | apply | adopt
    started: float = field(default_factory=time.time)
    finished: float | None = None
    marks: dict[str, float] = field(default_factory=dict)  # stage -> seconds since started
    armature: str = ""
    action: str = ""
    warnings: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None
    shown: dict[str, int] = field(default_factory=dict)

    def mark(self, stage: str) -> None:
        self.marks.setdefault(stage, round(time.time() - self.started, 3))

    def fail(self, stage: str, kind: str, message: str, hint: str = "", outcome: str = "failed") -> None:
        self.outcome = outcome
        self.error = {"stage": stage, "kind": kind, "message": message, "hint": hint}
        self.finished = time.time()

    @property
    def ok(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES


def item_report(session: Session, item: Item) -> dict[str, Any]:
    doc: dict[str, Any] = {"input": item.input, "name": item.name, "outcome": item.outcome,
                           "submission_id": item.submission_id or None, "created_new": item.created_new}
    row = None
    if item.submission_id:
        journal = session.pipeline.journal
        row = journal.get(item.submission_id)
        if row is not None:
            files = journal.files(row.id)
            doc.update({
                "kind": row.kind.value, "stage": row.stage.value, "state": row.state.value,
                "file_ids": [f.file_id for f in files if f.file_id], "volume_id": row.volume_id,
                "take_id": row.take_id, "job_id": row.job_id, "percent": row.percent,
                "outputs": dict(row.outputs), "applied_to": row.applied_to, "applied_action": row.applied_action,
            })
            if item.error is None and row.state.value == "failed":
                item.error = {"stage": row.error_stage or "", "kind": row.error_kind or "",
                              "message": row.error_message or "", "hint": row.error_hint or ""}
    end = item.finished or time.time()
    doc["armature"] = item.armature or None
    doc["action"] = item.action or None
    doc["timings"] = {"started": _iso(item.started), "finished": _iso(item.finished),
                      "seconds": round(end - item.started, 3), "stages": dict(item.marks)}
    doc["warnings"] = list(item.warnings)
    doc["error"] = item.error
    return doc


def exit_code_for(items: list[Item]) -> int:
    if not items:
        return EXIT_FAILURE
    good = sum(i.ok for i in items)
    if good == len(items):
        return EXIT_OK
    return EXIT_PARTIAL if good else EXIT_FAILURE


# ---------------------------------------------------------------------------------------------- applying


def retarget_options(session: Session, args: argparse.Namespace) -> Any:
    """The retarget flags as the add-on's ``RetargetOptions`` (the engine's defaults for those not given, not
    the Retarget panel's choices saved in the .blend)."""
    flags: dict[str, Any] = {
        "root_motion": getattr(args, "root_motion", None), "root_bone": getattr(args, "root_bone", None),
        "root_rotation": True if getattr(args, "root_rotation", False) else None,
        "fingers": False if getattr(args, "no_retarget_fingers", False) else None,
        "floor_clamp": False if getattr(args, "no_floor_clamp", False) else None,
        "translation_scale": getattr(args, "translation_scale", None),
        "target_fps": getattr(args, "target_fps", None), "frame_offset": getattr(args, "frame_offset", None)}
    given = {name: value for name, value in flags.items() if value is not None and value != ""}
    try:
        return session.addon_module("core.retarget.options").RetargetOptions.from_dict(given)
    except ValueError as exc:
        raise UsageError(f"retarget options: {exc}") from None


def resolve_target(args: argparse.Namespace) -> Any:
    import bpy

    name = getattr(args, "target", None)
    if not name:
        if getattr(args, "root_motion", None) or getattr(args, "root_bone", None) or getattr(args, "root_rotation", False):
            raise UsageError("retarget options need --target ARMATURE")
        return None
    obj = bpy.data.objects.get(name)
    if obj is None or obj.type != "ARMATURE":
        have = ", ".join(sorted(o.name for o in bpy.data.objects if o.type == "ARMATURE")) or "none"
        raise UsageError(f"--target {name!r}: no armature of that name in this file (armatures: {have})")
    return obj


def apply_item(session: Session, item: Item, target: Any, action_name: str) -> None:
    """Import the submission's best output onto ``target`` (main thread) through the add-on's one apply path
    (``Runtime.apply_now``, which journals it), and note the outcome on ``item``."""
    args = session.args
    row = session.pipeline.journal.require(item.submission_id)
    if args.no_apply:
        picked = session.addon_module("core.outputs").pick_applicable(row.outputs)
        if picked is not None:
            item.outcome = "downloaded"
            item.finished = time.time()
            session.console.info(f"{item.name}: downloaded {', '.join(sorted(row.outputs))} to "
                                 f"{Path(picked[1]).parent}")
            return
    t0 = time.time()  # (with nothing applicable, apply_now records why and fails, --no-apply or not)
    applied = session.runtime.RUNTIME.apply_now(row.id, target, options=session.retarget,
                                                action_name=action_name, actor=args.actor,
                                                keep_source=args.keep_source, new_armature_name=action_name)
    if not applied.ok:
        message = session.scrub(applied.message)
        item.fail("applied", "apply", message, applied.hint)
        session.console.error(f"{item.name}: {message}")
        return
    result = applied.result
    item.armature, item.action = result.armature.name, result.action.name
    item.warnings += [session.scrub(w) for w in result.warnings]
    if item.outcome != "reapplied":
        item.outcome = "applied"
    item.mark("applied")
    item.finished = time.time()
    retarget = getattr(result, "retarget_summary", "")
    session.console.info(f"{item.name}: applied to {item.armature} as action {item.action!r} "
                         f"({time.time() - t0:.1f} s import)" + (f"; retarget {retarget}" if retarget else ""))


# ---------------------------------------------------------------------------------------------- waiting


class Runner:
    """Starts at most ``jobs`` submissions at once, follows their events and imports results one by one."""

    def __init__(self, session: Session, jobs: int, deadline: float | None) -> None:
        self.session = session
        self.pipeline = session.pipeline
        self.jobs = jobs
        self.deadline = deadline
        self.by_sid: dict[str, Item] = {}
        self.create_anyway = False  # Retry with create_anyway (process --create-anyway)

    def _event(self, event: Any) -> None:
        self.session.runtime.RUNTIME.handle(event, auto_apply=False)  # keep the panel's views current
        item = self.by_sid.get(event.submission_id)
        if item is None:
            return
        kind = type(event).__name__
        say = self.session.console.info
        if kind == "StageChanged":
            item.mark(event.stage)
            if event.stage != "applied":  # said by apply_item itself
                say(f"{item.name}: {event.text or event.stage}")
        elif kind == "Progress":
            step = int(event.fraction * 4)  # a line per quarter of each stage
            if item.shown.get(event.stage, -1) < step:
                item.shown[event.stage] = step
                say(f"{item.name}: {event.text}")
        elif kind == "Failed":
            say(f"{item.name}: {event.kind.capitalize()} failed: {event.message}")
        elif kind == "Notice":
            say(f"{item.name}: {event.text}")

    def run(self, queue_: list[Item], on_ready: Callable[[Item], None]) -> None:
        pending = deque(queue_)
        running: dict[str, Item] = {}
        ready: deque[Item] = deque()
        for item in queue_:
            self.by_sid[item.submission_id] = item
        pipeline = self.pipeline
        while pending or running or ready:
            while pending and len(running) < self.jobs:
                item = pending.popleft()
                item.started = time.time()
                if item.mode == "apply":
                    ready.append(item)
                    continue
                if item.mode == "retry" or (item.mode == "start" and self.create_anyway):
                    pipeline.retry(item.submission_id, create_anyway=self.create_anyway)
                elif item.mode == "running":  # started by the caller (a share code: its worker holds the code)
                    pass
                else:
                    pipeline.start(item.submission_id)
                running[item.submission_id] = item
            for event in pipeline.drain(wait=0.0 if ready else 0.1):
                self._event(event)
            for sid, item in list(running.items()):
                if pipeline.is_running(sid):
                    continue
                for event in pipeline.drain():
                    self._event(event)
                del running[sid]
                row = pipeline.journal.require(sid)
                if row.state.value in ("ready", "done"):
                    item.mark("downloaded")
                    ready.append(item)
                elif row.state.value == "failed":
                    item.fail(row.error_stage or "", row.error_kind or "", row.error_message or "",
                              row.error_hint or "")
                else:  # cancelled, or still active (stopped): resumable
                    item.fail(row.stage.value, "cancelled", f"stopped at {row.stage.value}",
                              "Run the same command again to resume.", outcome="interrupted")
            if ready:
                on_ready(ready.popleft())
            if self.deadline is not None and time.monotonic() > self.deadline and (running or pending):
                for item in [*running.values(), *pending]:
                    item.fail((item.marks and max(item.marks, key=item.marks.__getitem__)) or "queued", "timeout",
                              "gave up waiting (--timeout); the work goes on on the server",
                              "Run the same command again: it resumes without a second job.",
                              outcome="timeout")
                self.session.console.error(f"--timeout reached: {len(running) + len(pending)} item(s) "
                                           "left unfinished (resumable)")
                pipeline.shutdown(timeout=5.0)
                pending.clear()
                running.clear()
        while ready:
            on_ready(ready.popleft())


# ---------------------------------------------------------------------------------------------- commands


def collect_videos(inputs: list[str], recursive: bool, suffixes: tuple[str, ...]) -> list[Path]:
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


def video_suffixes(session: Session) -> tuple[str, ...]:
    """The video types the pipeline accepts (its own list, wherever this version keeps it)."""
    for name in ("core.pipeline.preflight", "core.pipeline.model"):
        with contextlib.suppress(ImportError):
            found = getattr(session.addon_module(name), "VIDEO_SUFFIXES", None)
            if found:
                return tuple(found)
    return (".mp4", ".mov", ".avi", ".move")


def _deadline(args: argparse.Namespace) -> float | None:
    return time.monotonic() + args.timeout if args.timeout else None


def cmd_process(session: Session, args: argparse.Namespace, items: list[Item]) -> None:
    import bpy

    pm = session.addon_module("core.pipeline.model")
    plans = session.addon_module("core.pipeline.plan")
    try:
        outputs = session.addon_module("core.outputs").parse_keys(args.outputs)
    except ValueError as exc:
        raise UsageError(f"--outputs: {exc}") from None
    videos = collect_videos(args.inputs, args.recursive, video_suffixes(session))
    if args.clip and (args.clip[0] < 0 or args.clip[1] <= args.clip[0]):
        raise UsageError("--clip START END: END must be after START, START >= 0 (seconds)")
    target = resolve_target(args)
    session.require_network()
    pipeline = session.pipeline
    if not hasattr(pipeline, "submit_once"):
        raise RunFailure(f"the add-on {session.addon.package if session.addon else ''} is older than this script "
                         "(no Pipeline.submit_once): update it, or run with --addon repo")
    journal = pipeline.journal
    queue_: list[Item] = []
    names: set[str] = set()
    for video in videos:
        name = video.stem if video.stem not in names else f"{video.parent.name}_{video.stem}"
        names.add(name)
        item = Item(str(video), name)
        items.append(item)
        spec = pm.SubmissionSpec(
            footage=(pm.Footage(str(video)),), model=args.model, track_fingers=args.fingers,
            track_ball=args.ball, floor_plane=args.floor_plane,
            clip_window=tuple(args.clip) if args.clip else None, outputs=outputs, name=name,
            target=target.name if target is not None else "", blend_file=bpy.data.filepath)
        problem = spec.validate()
        if problem:
            item.fail("validate", "validation", problem, "Give a readable video (.mp4 .mov .avi .move).",
                      outcome="invalid")
            session.console.error(f"{name}: {problem}")
            continue
        sid, created = pipeline.submit_once(spec)
        item.submission_id, item.created_new = sid, created
        row = journal.require(sid)
        action = bpy.data.actions.get(row.applied_action or "")
        applied_here = (action is not None and (row.applied_to or "") in bpy.data.objects
                        and (target is None or row.applied_to == target.name))
        plan = plans.plan_resubmission(row, created=created, applied_here=applied_here,
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
            sid = pipeline.adopt_job(row.job_id, name=name, target=item_target(target),
                                     blend_file=bpy.data.filepath, start=False)
            item.submission_id = sid
        item.mode = {"apply": "apply", "retry": "retry"}.get(step, "start")
        if plan.reapply:
            item.outcome = "reapplied"
        session.console.info(f"{name}: {plan.message}")
        queue_.append(item)
    if queue_:
        runner = Runner(session, args.jobs, _deadline(args))
        runner.create_anyway = bool(args.create_anyway)
        if args.create_anyway:
            session.console.info("--create-anyway: a take or job whose create got no answer is created again "
                                 "without looking for it; if the server had made it, that is a second paid job")
        runner.run(queue_, lambda it: apply_item(session, it, target, it.name))
    save_blend(session, args)


def item_target(target: Any) -> str:
    return target.name if target is not None else ""


def save_blend(session: Session, args: argparse.Namespace) -> None:
    import bpy

    if not getattr(args, "save", None):
        return
    path = Path(args.save).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(path), check_existing=False)
    session.saved = str(path)
    session.console.info(f"saved {path}")


def _wait_one(session: Session, item: Item, args: argparse.Namespace, target: Any, action_name: str) -> None:
    runner = Runner(session, 1, _deadline(args))
    runner.run([item], lambda it: apply_item(session, it, target, action_name))


def find_row(journal: Any, ident: str) -> Any:
    """The journal's row for a submission id, a job id, or a unique prefix of a submission id (>= 6 chars)."""
    row = journal.get(ident) or journal.by_job(ident)
    if row is None and len(ident) >= 6:
        matches = [r for r in journal.all(limit=100_000) if r.id.startswith(ident)]
        if len(matches) > 1:
            raise UsageError(f"{ident!r} matches {len(matches)} submissions; give more characters")
        row = matches[0] if matches else None
    return row


def cmd_apply(session: Session, args: argparse.Namespace, items: list[Item]) -> None:
    import bpy

    target = resolve_target(args)
    pipeline = session.pipeline
    journal = pipeline.journal
    row = find_row(journal, args.id)
    item = Item(args.id, args.action_name or "")
    items.append(item)
    title_row = next((r for r in journal.all(limit=5000) if r.job_id == args.id and r.kind.value == "submission"),
                     row)
    name = args.action_name or (title_row.title if title_row is not None else "")
    if not name:  # a job this machine never submitted: its name on the server (the take's), else its id
        session.require_network()
        with contextlib.suppress(Exception), pipeline.client_factory(sleep=time.sleep) as client:
            name = client.get_job(row.job_id if row is not None and row.job_id else args.id).name or ""
        name = name or f"job_{args.id[:12]}"
    item.name = name
    if row is not None and session.addon_module("core.pipeline.plan").outputs_on_disk(row):
        item.submission_id, item.mode = row.id, "apply"
        session.console.info(f"{name}: using the result downloaded before ({row.id[:8]})")
    elif row is not None and row.kind.value == "submission" and not row.job_id:
        raise RunFailure(f"submission {row.id} has no job yet ({row.stage.value}); run `process` to resume it")
    else:
        job_id = row.job_id if row is not None and row.job_id else args.id
        session.require_network()
        item.submission_id = pipeline.adopt_job(job_id, name=name, target=item_target(target),
                                                blend_file=bpy.data.filepath, start=False)
        item.created_new = True
        session.console.info(f"{name}: downloading job {job_id}")
    if item.mode == "apply":
        item.started = time.time()
        apply_item(session, item, target, name)
    else:
        _wait_one(session, item, args, target, name)
    save_blend(session, args)


def cmd_share_code(session: Session, args: argparse.Namespace, items: list[Item]) -> None:
    import bpy

    code = sys.stdin.readline() if args.code == "-" else args.code
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 8 or any(not (ch.isdigit() or ch in " -") for ch in code.strip()):
        raise UsageError("a share code is the 8 digits shown by the Move One app")
    target = resolve_target(args)
    session.require_network(needs_key=False)
    pipeline = session.pipeline
    masked = f"{digits[:2]}****{digits[-2:]}"
    item = Item(f"share code {masked}", args.action_name or f"share_{masked.replace('*', 'x')}")
    items.append(item)
    item.submission_id = pipeline.import_share_code(digits, target=item_target(target),
                                                    blend_file=bpy.data.filepath)
    item.created_new = True
    session.console.info(f"{item.name}: downloading the shared recording")
    item.mode = "running"
    runner = Runner(session, 1, _deadline(args))
    runner.run([item], lambda it: apply_item(session, it, target, it.name))
    save_blend(session, args)


def cmd_download(session: Session, args: argparse.Namespace, items: list[Item]) -> None:
    pipeline = session.pipeline
    journal = pipeline.journal
    item = Item(args.job_id, args.job_id)
    items.append(item)
    want_dir = Path(args.to).resolve() if args.to else None
    row = journal.by_job(args.job_id)
    if (row is not None and session.addon_module("core.pipeline.plan").outputs_on_disk(row)
            and (want_dir is None or all(Path(p).resolve().is_relative_to(want_dir) for p in row.outputs.values()))):
        item.submission_id, item.outcome, item.finished = row.id, "downloaded", time.time()
        session.console.info(f"{args.job_id}: already downloaded to {Path(next(iter(row.outputs.values()))).parent}")
        return
    session.require_network()
    if want_dir is not None:
        prefs = session.addon_module("preferences").get_preferences()
        session._override(prefs, "download_dir", str(want_dir))
        pipeline = session.pipeline  # follows the new folder
    item.submission_id = pipeline.adopt_job(args.job_id, name=f"Job {args.job_id[:8]}", start=False)
    item.created_new = True
    args.no_apply = True
    args.actor = None
    args.keep_source = False
    runner = Runner(session, 1, _deadline(args))
    runner.run([item], lambda it: apply_item(session, it, None, it.name))
    if item.ok:
        row = journal.require(item.submission_id)
        for key, path in sorted(row.outputs.items()):
            print(f"{key}\t{path}")


def _job_doc(job: Any, prefix: str) -> dict[str, Any]:
    meta = job.metadata if isinstance(job.metadata, dict) else {}
    state = job.job_state
    return {"id": job.id, "name": job.name or "", "state": state.value if state else "",
            "percent": job.percentage_complete or 0, "created": job.created.isoformat() if job.created else "",
            "submission": str(meta.get(prefix, "")), "error": str(meta.get("error", "")),
            "outputs": sorted(str(o.key) for o in job.outputs or () if o is not None and o.key)}


def cmd_status(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any]) -> None:
    pipeline = session.pipeline
    journal = pipeline.journal
    row = find_row(journal, args.id)
    item = Item(args.id, row.title if row is not None else args.id)
    items.append(item)
    if row is not None:
        item.submission_id = row.id
        item.started = row.created
    job_id = row.job_id if row is not None else args.id
    server: dict[str, Any] | None = None
    server_error = ""
    if job_id:
        try:
            session.require_network()
            runner_mod = session.addon_module("core.pipeline.runner")
            with pipeline.client_factory(sleep=time.sleep) as client:
                server = _job_doc(client.get_job(job_id), runner_mod.TAG_KEY)
        except Exception as exc:
            failures = session.addon_module("core.pipeline.failures")
            stage = session.addon_module("core.pipeline.model").Stage.PROCESSED
            server_error = session.scrub(failures.classify(stage, exc).message)
    extra["server_job"] = server
    if server_error:
        extra["server_error"] = server_error
    if row is None and server is None:
        message = f"{args.id}: not in the journal, and the server says: {server_error or 'no such job'}"
        item.fail("status", "not_found", message)
        raise RunFailure(message)
    item.outcome = "found"
    item.finished = time.time()
    if not args.json:
        lines = []
        if row is not None:
            lines.append(f"submission {row.id}  {row.title}  stage={row.stage.value} state={row.state.value}  "
                         f"job={row.job_id or '-'}")
            if row.error_message:
                lines.append(f"  error ({row.error_kind}): {row.error_message}")
            if row.applied_to:
                lines.append(f"  applied to {row.applied_to} as {row.applied_action}")
            for key, path in sorted(row.outputs.items()):
                lines.append(f"  {key}: {path}")
        if server is not None:
            lines.append(f"job {server['id']}  {server['name']}  {server['state']} {server['percent']}%"
                         + (f"  error: {server['error']}" if server["error"] else ""))
        elif server_error:
            lines.append(f"server: {server_error}")
        print("\n".join(lines))


def cmd_list(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any]) -> None:
    pipeline = session.pipeline
    rows = pipeline.journal.all(limit=args.limit)
    local = [{"submission_id": r.id, "title": r.title, "kind": r.kind.value, "stage": r.stage.value,
              "state": r.state.value, "job_id": r.job_id, "take_id": r.take_id,
              "created": _iso(r.created), "applied_to": r.applied_to, "applied_action": r.applied_action,
              "error": r.error_message} for r in rows]
    extra["journal"] = local
    jobs: list[dict[str, Any]] = []
    error = ""
    if not args.local:
        try:
            session.require_network()
            thread = pipeline.load_history(first=args.limit)
            thread.join(120)
            for event in pipeline.drain():
                if type(event).__name__ == "HistoryLoaded":
                    jobs, error = list(event.jobs), event.error
                else:
                    session.runtime.RUNTIME.handle(event, auto_apply=False)
        except RunFailure as exc:
            error = str(exc)
        extra["server_jobs"] = jobs
        if error:
            extra["server_error"] = error
    if not args.json:
        out = [f"{'submission':10} {'title':24} {'state':10} {'stage':11} job"]
        out += [f"{d['submission_id'][:8]:10} {d['title'][:24]:24} {d['state']:10} {d['stage']:11} "
                f"{d['job_id'] or '-'}" for d in local]
        if not args.local:
            known = {d["job_id"] for d in local if d["job_id"]}
            out.append("")
            out.append(f"{'server job':40} {'state':10} {'%':>4} name")
            out += [f"{j['id']:40} {j['state']:10} {j['percent']:>4} {j['name']}"
                    + ("" if j["id"] not in known else "  (in the journal)") for j in jobs]
            if error:
                out.append(f"server: {error}")
        print("\n".join(out))
    if error:
        raise RunFailure(f"listing the server's jobs failed: {error}")


COMMANDS: dict[str, Callable[..., None]] = {
    "process": cmd_process, "apply": cmd_apply, "share-code": cmd_share_code, "download": cmd_download,
}


# ---------------------------------------------------------------------------------------------- main


@contextlib.contextmanager
def _report_on_exit(session: Session, args: argparse.Namespace, items: list[Item],
                    extra: dict[str, Any], result: dict[str, Any]) -> Iterator[None]:
    started = time.time()
    try:
        yield
    finally:
        result.setdefault("code", EXIT_FAILURE)
        doc = {
            "tool": "move_mocap scripts/mocap.py", "report_version": 1, "command": args.command,
            "started": _iso(started), "finished": _iso(time.time()), "seconds": round(time.time() - started, 3),
            "exit_code": result["code"],
            "status": {EXIT_OK: "success", EXIT_PARTIAL: "partial", EXIT_USAGE: "usage",
                       EXIT_INTERRUPTED: "interrupted"}.get(result["code"], "failure"),
            "error": result.get("error"),
            "addon": {"package": session.addon.package, "source": session.addon.source} if session.addon else None,
            "endpoint": session.endpoint or None, "saved": getattr(session, "saved", None),
        }
        try:
            import bpy

            doc["blender"] = bpy.app.version_string
        except ImportError:
            pass
        try:
            doc["items"] = [item_report(session, i) for i in items] if session.addon else []
        except Exception as exc:  # a broken journal must not lose the report
            doc["items"] = [{"input": i.input, "outcome": i.outcome, "error": i.error} for i in items]
            doc["report_error"] = f"{type(exc).__name__}: {exc}"
        doc["summary"] = {"total": len(items), "succeeded": sum(i.ok for i in items),
                          "failed": sum(not i.ok for i in items),
                          **{o: n for o in ("applied", "reapplied", "skipped", "downloaded", "failed", "invalid",
                                            "timeout", "interrupted", "found")
                             if (n := sum(i.outcome == o for i in items))}}
        doc.update(extra)
        text = session.scrub(json.dumps(doc, indent=2, sort_keys=False, default=str))
        if getattr(args, "json", False):
            print(text)
        if args.report:
            path = Path(args.report).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text + "\n")
            tmp.replace(path)


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on bad usage, 0 on --help
    console = Console(args.quiet)
    session = Session(args, console)
    items: list[Item] = []
    extra: dict[str, Any] = {}
    result: dict[str, Any] = {}
    try:
        with _report_on_exit(session, args, items, extra, result):
            try:
                try:
                    import bpy  # noqa: F401
                except ImportError:
                    raise RunFailure("bpy is not importable: run inside Blender (blender -b ... --python "
                                     "scripts/mocap.py -- ...) or with a Python that has the bpy module") from None
                session.open()
                if args.command in ("status", "list"):
                    (cmd_status if args.command == "status" else cmd_list)(session, args, items, extra)
                else:
                    COMMANDS[args.command](session, args, items)
                result["code"] = EXIT_OK if args.command == "list" else exit_code_for(items)
            except UsageError as exc:
                result["code"] = EXIT_USAGE
                result["error"] = session.scrub(str(exc))
                parser_for(parser, args.command).print_usage(sys.stderr)
                console.error(result["error"])
            except RunFailure as exc:
                result["code"] = EXIT_FAILURE
                result["error"] = session.scrub(str(exc))
                console.error(result["error"])
            except KeyboardInterrupt:
                result["code"] = EXIT_INTERRUPTED
                result["error"] = "interrupted; run the same command again to resume"
                for item in items:
                    if item.outcome == "pending":
                        item.outcome = "interrupted"
                console.error(result["error"])
            finally:
                session.close()
    except Exception as exc:  # a bug: still no secret on stderr
        console.error(f"unexpected {type(exc).__name__}: {session.scrub(str(exc))}")
        raise
    if items and result["code"] != EXIT_USAGE:
        good = sum(i.ok for i in items)
        console.info(f"done: {good}/{len(items)} succeeded (exit {result['code']})")
    return int(result["code"])


def parser_for(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and command in choices:
            return choices[command]
    return parser


def main() -> None:
    code = run(script_argv(sys.argv))
    sys.stdout.flush()
    sys.stderr.flush()
    bpy = sys.modules.get("bpy")
    if bpy is not None and not getattr(bpy.app, "binary_path", ""):
        # The bpy module (4.2 notably) can crash while the interpreter shuts down, e.g. with an abandoned HTTP
        # helper thread still blocked in a read: everything is written by now, so leave with our own status.
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
