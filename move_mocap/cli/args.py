"""The command line's arguments: one argparse parser for ``blender -c move_mocap ...`` and for the
``scripts/mocap.py`` wrapper (which adds ``--addon``), its help text and exit-code epilogue.

Parsing only: no bpy, no network, nothing checked against the scene (``commands`` do that).
"""

from __future__ import annotations

import argparse

from ..core.pipeline.model import MULTI_MODELS, SINGLE_MODELS

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
  # with the extension installed; Blender's own options (--online-mode) go before -c
  # one video onto the rig "Hero" of shot.blend, saved to a new file
  blender --online-mode -c move_mocap process takes/run.mp4 --blend shot.blend --target Hero \\
      --save shot_mocap.blend --report run.json

  # a folder of takes overnight, 4 uploads/polls at once
  MOVE_API_KEY=... blender --online-mode -c move_mocap process takes/ --jobs 4 --model S2 --fingers \\
      --outputs MAIN_FBX,MOTION_DATA --blend shot.blend --target Hero --save shot.blend

  # four cameras: the volume calibrated from a person 1.78 m tall, then the take, two actors
  blender --online-mode -c move_mocap process --cameras c1.mp4 c2.mp4 c3.mp4 c4.mp4 \\
      --volume-video v1.mp4 v2.mp4 v3.mp4 v4.mp4 --human-height 1.78 --actors 2 --save out.blend
  # the same cameras again, with the volume made before (its id is in the report)
  blender -c move_mocap process --cameras d1.mp4 d2.mp4 d3.mp4 d4.mp4 --volume <volume-id> \\
      --sync-method clap --clap-window 0 3

  # against a local engine (see README "Headless and batch")
  MOVE_API_KEY=KEY blender -c move_mocap process take.mp4 --endpoint http://127.0.0.1:8765/ugc/graphql

  blender -c move_mocap list --json
  blender -c move_mocap status <job-id>
  blender -c move_mocap download <job-id> --to ./outputs
  blender -c move_mocap apply <job-id> --blend rig.blend --target Armature --actor 2 --save out.blend
  blender -c move_mocap share-code 12345678 --target Hero --save out.blend

the same commands from a checkout: `blender -b --python scripts/mocap.py -- <command> ...`, or
`python scripts/mocap.py <command> ...` with the bpy module.
"""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _session_options(script: bool) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("session")
    g.add_argument("--blend", metavar="FILE", help="open this .blend first")
    if script:
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
    g.add_argument("--timeout", type=positive_float, metavar="SECONDS",
                   help="give up waiting after this long (unfinished items stay resumable)")
    g.add_argument("--poll-max", type=positive_float, default=15.0, metavar="SECONDS",
                   help="longest pause between two job-status polls (default: 15)")
    g.add_argument("-q", "--quiet", action="store_true", help="print only errors on stderr")
    return common


def _apply_options() -> argparse.ArgumentParser:
    apply_opts = argparse.ArgumentParser(add_help=False)
    a = apply_opts.add_argument_group("applying and retargeting")
    a.add_argument("--target", metavar="ARMATURE", help="armature object to put the motion on (retargeted; "
                   "default: a new armature per result)")
    a.add_argument("--actor", type=positive_int, help="which actor of a multi-actor result (1, 2, ...)")
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
    return apply_opts


def _process_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", metavar="VIDEO_OR_FOLDER", help="single camera: videos (.mp4 .mov "
                   ".avi .move) or folders of them, one job each")
    p.add_argument("--recursive", action="store_true", help="look for videos in sub-folders too")
    p.add_argument("--model", choices=(*SINGLE_MODELS, *MULTI_MODELS), help="Move model (default: S2 for "
                   "one camera, M2 with --cameras)")
    p.add_argument("--fingers", action="store_true", help="track fingers")
    p.add_argument("--ball", action="store_true", help="track a ball")
    p.add_argument("--floor-plane", action="store_true", help="solve a floor plane")
    p.add_argument("--outputs", default="MAIN_FBX,MOTION_DATA", metavar="A,B",
                   help="Move outputs to make, comma-separated (default: MAIN_FBX,MOTION_DATA): any of Move's "
                        "output types; the best one the add-on can import is applied")
    p.add_argument("--clip", nargs=2, type=float, metavar=("START", "END"), help="process only this window "
                   "of each video (seconds)")
    p.add_argument("--person", type=positive_int, metavar="N", help="single camera: capture person N of the "
                   "people an earlier job of the same video and settings listed (`status` shows them) instead of "
                   "the main subject: a new job on that job's take, nothing uploaded again (the local engine "
                   "honours it; Move's cloud lists no people and ignores it)")
    p.add_argument("--jobs", type=positive_int, default=2, metavar="N", help="videos uploaded and polled at "
                   "once (default: 2); imports run one at a time")
    p.add_argument("--no-retry-failed", action="store_true", help="leave items that failed in an earlier run "
                   "as failed instead of retrying them")
    p.add_argument("--create-anyway", action="store_true", help="RISK OF A SECOND PAID JOB: for items whose "
                   "take or job create got no answer, create it again without looking for the one the server "
                   "may already have (by default the command keeps looking, and creates again only once the "
                   "server shows it has none)")
    m = p.add_argument_group("multi-camera (one take filmed by several cameras)")
    m.add_argument("--cameras", nargs="+", metavar="VIDEO", help="the take: one video per camera (2 or more), "
                   "instead of VIDEO_OR_FOLDER")
    m.add_argument("--multi-camera", action="store_true", help="a batch of multi-camera takes: each "
                   "VIDEO_OR_FOLDER is a folder holding one take's camera videos (sorted by name: the same "
                   "order in every folder); with --volume-video the first take calibrates the volume and "
                   "the others reuse it")
    m.add_argument("--volume-video", nargs="+", metavar="VIDEO", help="the volume: a person of known height "
                   "walking through the area, one video per camera in --cameras' order (default: the take's "
                   "own videos calibrate)")
    m.add_argument("--volume", metavar="ID", help="reuse a finished volume (the same cameras, not moved) "
                   "instead of calibrating a new one")
    m.add_argument("--calibration", metavar="FILE", help="the cameras' calibration you already have (Pose2Sim "
                   ".toml or Qualisys .qca.txt; cameras matched to the videos by name, else in order), given to the "
                   "volume instead of calibrating from the person (read by the local engine)")
    m.add_argument("--human-height", type=positive_float, metavar="METRES",
                   help="height of the person in the volume videos (default: 1.75)")
    m.add_argument("--area-type", choices=("NORMAL", "LARGE"), default="NORMAL",
                   help="size of the capture area (default: NORMAL)")
    m.add_argument("--lens", nargs="+", metavar="LENS", help="camera lens (a name from the server's "
                   "listCameraSettings), one for all cameras or one per camera")
    m.add_argument("--sync-method", choices=("clap", "timecode"), help="how the cameras are synchronised: "
                   "a clap within --clap-window, or the videos' timecode (default: the server estimates it "
                   "from the motion)")
    m.add_argument("--clap-window", nargs=2, type=float, metavar=("START", "END"),
                   help="with --sync-method clap: where the clap is (seconds)")
    m.add_argument("--actors", type=positive_int, default=1, metavar="N",
                   help="people to capture (numberOfActors, default 1); apply each with --actor")


def build_parser(prog: str = "blender -c move_mocap", *, script: bool = False) -> argparse.ArgumentParser:
    """The whole command line; ``script``: the scripts/mocap.py form (adds ``--addon``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Move mocap without a UI: the move_mocap extension's own pipeline, importer and retarget "
                    "engine, as `blender -c move_mocap <command>` (the installed extension), `blender -b "
                    "--python scripts/mocap.py -- <command>` or `python scripts/mocap.py <command>` (bpy module).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = _session_options(script)
    apply_opts = _apply_options()
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    p = sub.add_parser("process", parents=[common, apply_opts], formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="upload videos (files or folders, or --cameras), process them and apply each",
                       description="Upload each video (or the cameras of one multi-camera take), create a take and "
                                   "a job, wait for it, download the outputs and put each result on the target as "
                                   "a new action named after the video. Resumable: run the same command again "
                                   "to continue.",
                       epilog=EPILOG)
    _process_options(p)

    s = sub.add_parser("status", parents=[common], help="state of a job (server) or a submission (journal)",
                       description="The journal's record of a submission or job and, for a job, the server's "
                                   "state.")
    s.add_argument("id", help="job id or submission id")
    s.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    li = sub.add_parser("list", parents=[common], help="this machine's submissions and the server's jobs")
    li.add_argument("--limit", type=positive_int, default=50, help="at most this many of each (default: 50)")
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


def parser_for(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The sub-parser of ``command`` (for its usage line), else ``parser``."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and command in choices:
            return choices[command]
    return parser
