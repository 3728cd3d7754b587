"""Benchmark ``soak``: randomized end-to-end submissions against the local server with faults at every stage.

One local server (replay solver) and one in-process pipeline; each run submits real footage (the Sports2D demo,
a short clip window) with one to three randomly chosen faults: 5xx bursts, 429, slow answers, connection resets
mid-transfer, expired URLs, truncated bodies and downloads, GraphQL errors, a job that FAILS. A run that fails
is checked for a stage-aware report (stage, kind, message, hint), then the faults are cleared and Retry is
pressed (at most twice), as a user would. The downloaded MOTION_DATA is then imported with the add-on's
importer in this same bpy process and the action checked against the file.

Per run, from the server's own database (not the client): exactly one uploaded file, one take and one job per
submission (plus one new job per retried processing failure, by design); file records left unuploaded must be
the orphans the journal names. In the download folder: no ``.part`` or other stray file, and the output
byte-identical to the fault-free reference run. The applied action: the file's frame count, every bone keyed.

Prints ONE JSON line: ``runs``, ``duplicates``, ``corrupted``, ``partial_files``, ``unreported_failures``,
``unapplied`` (must all be 0 but ``runs``) and ``applied_first_try``, ``failed_then_recovered``,
``failures_by_stage``, ``faults_injected``, ``fault_hits``, ``orphan_files_noted`` (never-uploaded file records
the journal names), ``orphan_files_lost_answer`` (records made by a createFile whose answer the fault destroyed:
no id ever reached the client), ``seconds``, ``seconds_per_run``,
``baseline_seconds`` (the fault-free reference run in this same process) and ``ratio_to_baseline``.
Run: ``.venv/blender-4.2/bin/python scripts/bench.py soak --runs 300 [--seed 1] [--clip 1.0]``.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import importlib
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VIDEO = ROOT / ".cache" / "testdata" / "sports2d" / "demo.mp4"

_LOSES_ANSWER = ("reset", "truncate", "malformed")  # the server acted, then the answer was destroyed
GRAPHQL_OPS = ("createFile", "createSingleCamTake", "createSingleCamJob", "getJob", "listTakes", "listJobs")


def random_faults(rng: random.Random) -> list[dict[str, Any]]:
    """One to three fault rules drawn from every kind the server knows, at every stage."""
    menu = [
        lambda: {"route": "graphql", "kind": "status", "status": rng.choice([500, 502, 503, 504]),
                 "count": rng.randint(1, 4), "operation": rng.choice(GRAPHQL_OPS)},
        lambda: {"route": "graphql", "kind": "rate_limit", "retry_after": 0.05, "count": rng.randint(1, 3),
                 "operation": rng.choice(GRAPHQL_OPS)},
        lambda: {"route": rng.choice(["graphql", "upload", "download"]), "kind": "slow",
                 "delay": round(rng.uniform(0.05, 0.3), 2), "count": rng.randint(1, 2)},
        lambda: {"route": "graphql", "kind": rng.choice(["reset", "truncate"]), "count": 1,
                 "operation": rng.choice(GRAPHQL_OPS), "after_bytes": rng.randint(0, 40)},
        lambda: {"route": "graphql", "kind": "graphql_error", "count": 1, "operation": rng.choice(GRAPHQL_OPS),
                 "error_type": rng.choice(["InternalFailure", "MoveValidationError", "ThrottlingException"]),
                 "message": "Injected by the soak"},
        lambda: {"route": "graphql", "kind": "expire_url", "count": 1,
                 "operation": rng.choice(["createFile", "getJob"])},
        lambda: {"route": "upload", "kind": "status", "status": rng.choice([500, 503]), "count": rng.randint(1, 4)},
        lambda: {"route": "upload", "kind": "reset", "count": rng.randint(1, 2),
                 "after_bytes": rng.randint(1, 3_000_000)},
        lambda: {"route": "upload", "kind": "expire_url", "count": rng.randint(1, 2)},
        lambda: {"route": "download", "kind": "status", "status": rng.choice([500, 503]), "count": rng.randint(1, 4)},
        lambda: {"route": "download", "kind": rng.choice(["reset", "truncate"]), "count": rng.randint(1, 3),
                 "after_bytes": rng.randint(0, 200_000)},
        lambda: {"route": "download", "kind": "expire_url", "count": rng.randint(1, 2)},
        lambda: {"kind": "fail_job", "message": "Injected: no person could be tracked"},
    ]
    return [rng.choice(menu)() for _ in range(rng.randint(1, 3))]


def _lost_create_answers(report: dict[str, Any]) -> int:
    return sum(r["hits"] for r in report["faults"]
               if r.get("operation") == "createFile" and r["kind"] in _LOSES_ANSWER)


class Soak:
    def __init__(self, server: Any, tmp: Path, video: Path, clip: float) -> None:
        from move_mocap.core.api.client import MoveClient
        from move_mocap.core.api.retry import RetryPolicy
        from move_mocap.core.pipeline import Journal, Pipeline, PipelineConfig

        self.server = server
        self.video = video
        self.clip = clip
        self.downloads = tmp / "downloads"
        retry = RetryPolicy(attempts=3, base_delay=0.02, max_delay=0.1)

        def make(sleep: Any = None) -> MoveClient:
            kw = {"sleep": sleep} if sleep else {}
            return MoveClient(server.api_key, endpoint=server.url, timeout=(5.0, 30.0), retry=retry, **kw)

        config = PipelineConfig(endpoint=server.url, download_dir=self.downloads, poll_initial=0.05,
                                poll_factor=1.3, poll_max=0.3, reconcile_attempts=2, reconcile_delay=0.05, reconcile_settle=0.3,
                                progress_interval=0.5, secrets=(server.api_key,))
        self.pipeline = Pipeline(Journal(tmp / "journal.sqlite3"), make, config)
        self.reference: dict[str, Any] | None = None

    def spec(self) -> Any:
        from move_mocap.core.pipeline import SubmissionSpec
        from move_mocap.core.pipeline.model import Footage

        return SubmissionSpec(footage=(Footage(str(self.video)),), outputs=("MOTION_DATA",),
                              clip_window=(0.0, self.clip), name="soak")

    def finish(self, sid: str) -> tuple[Any, list[Any]]:
        events: list[Any] = []
        row = self.pipeline.wait(sid, timeout=120, on_event=events.append)
        return row, events

    def apply(self, sid: str, path: Path) -> tuple[int, set[str], int]:
        """Import the output with the add-on's importer; (keyed frames, animated bones, channel count)."""
        import bpy

        from move_mocap.importers import import_output
        from move_mocap.retarget import action_io

        result = import_output(path, target=None, action_name=f"soak_{sid[:8]}")
        channels = action_io.read_channels(result.action, result.armature)
        frames = {len(k.co) for k in channels.values()}
        bones = {dp.split('"')[1] for dp, _ in channels if dp.startswith("pose.bones[")}
        self.pipeline.record_applied(sid, result.armature.name, result.action.name)
        for obj in [result.armature, *(result.armature.children_recursive)]:
            data = obj.data
            bpy.data.objects.remove(obj)
            if data is not None and getattr(data, "users", 1) == 0:
                if isinstance(data, bpy.types.Armature):
                    bpy.data.armatures.remove(data)
                elif isinstance(data, bpy.types.Mesh):
                    bpy.data.meshes.remove(data)
        bpy.data.actions.remove(result.action)
        return (frames.pop() if len(frames) == 1 else -1), bones, len(channels)

    def served_digest(self, objs: dict[str, list[dict[str, Any]]], job_id: str) -> str:
        """sha256 of the MOTION_DATA file the server stored for ``job_id`` (from its own data folder)."""
        job = next((j for j in objs["job"] if j["id"] == job_id), None)
        out = next((o for o in (job or {}).get("outputs") or [] if o.get("key") == "MOTION_DATA"), None)
        db = {f["id"]: f for f in objs["file"]}
        doc = db.get(out["fileId"]) if out else None
        if doc is None:  # output files carry no submission tag: read the record by id
            doc = _file_record(self.server, out["fileId"]) if out else None
        if not doc or not doc.get("path"):
            return ""
        return hashlib.sha256((Path(self.server.data_dir) / "files" / doc["path"]).read_bytes()).hexdigest()

    def run_once(self, faults: list[dict[str, Any]], tally: dict[str, Any]) -> None:
        from move_mocap.core.pipeline import Failed, State

        sys.path.insert(0, str(ROOT)) if str(ROOT) not in sys.path else None
        from tests.pipeline.helpers import server_objects

        self.server.set_faults(faults) if faults else self.server.clear_faults()
        sid = self.pipeline.submit(self.spec())
        row, events = self.finish(sid)
        processing_retries = 0
        lost_create_answers = 0
        tries = 0
        while row.state is State.FAILED and tries < 2:
            fails = [e for e in events if isinstance(e, Failed)]
            reported = (len(fails) == 1 and fails[0].stage and fails[0].kind and fails[0].message
                        and fails[0].hint and row.error_stage == fails[0].stage and row.error_message)
            if not reported:
                tally["unreported_failures"] += 1
            tally["failures_by_stage"][f"{row.error_kind}@{row.error_stage}"] += 1
            if row.error_kind == "processing":
                processing_retries += 1
            report = self.server.fault_report()
            tally["fault_hits"] += sum(r["hits"] for r in report["faults"])
            lost_create_answers += _lost_create_answers(report)
            self.server.clear_faults()
            tries += 1
            self.pipeline.retry(sid)
            row, events = self.finish(sid)
        if tries == 0 and faults:
            report = self.server.fault_report()
            tally["fault_hits"] += sum(r["hits"] for r in report["faults"])
            lost_create_answers += _lost_create_answers(report)
        if row.state is not State.READY:
            if row.state is State.FAILED and row.error_stage and row.error_message and row.error_hint:
                tally["unapplied"] += 1
            else:
                tally["unreported_failures"] += 1
            return
        tally["failed_then_recovered" if tries else "applied_first_try"] += 1

        # the server's own record: one uploaded file, one take, one job (+1 per retried processing failure)
        objs = server_objects(self.server, sid)
        uploaded = [f for f in objs["file"] if f.get("uploaded")]
        orphans = {f["id"] for f in objs["file"] if not f.get("uploaded")}
        noted = orphans & {o for f in self.pipeline.journal.files(sid) for o in f.orphans}
        # A createFile whose answer was lost (reset, truncated, 5xx, unreadable) may have made a record the
        # client never learnt the id of; upstream has no listFiles to find it, so it is created again.
        unexplained = max(0, len(orphans - noted) - lost_create_answers)
        tally["orphan_files_noted"] += len(noted)
        tally["orphan_files_lost_answer"] += len(orphans - noted) - unexplained
        # a new job only replaces one the server FAILED (fail_job): exactly one job that did not fail
        failed_jobs = sum(1 for j in objs["job"] if j.get("state") == "FAILED")
        if (len(uploaded), len(objs["take"]), len(objs["job"]) - failed_jobs, len(objs["volume"])) != \
                (1, 1, 1, 0) or failed_jobs > processing_retries or unexplained:
            tally["duplicates"] += 1
            tally["details"].append({"sid": sid, "uploaded": len(uploaded), "takes": len(objs["take"]),
                                     "jobs": len(objs["job"]), "orphans": sorted(orphans - noted)})

        # the download folder: the output and nothing else, byte for byte the reference
        out_dir = self.downloads / str(row.job_id)
        path = Path(row.outputs["MOTION_DATA"])
        stray = [p.name for p in out_dir.iterdir() if p != path] if out_dir.is_dir() else []
        stray += [p.name for p in self.downloads.iterdir() if p.is_file()]
        if stray or not path.is_file():
            tally["partial_files"] += 1
            tally["details"].append({"sid": sid, "stray": stray})
            return
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        served = self.served_digest(objs, str(row.job_id))
        frames_in_file = len(json.loads(path.read_text())["mocap_data"])
        frames, bones, n_channels = self.apply(sid, path)
        # Byte for byte what the server holds for this job (the engine's floats may differ from another job's
        # in the last bit, so jobs are not compared byte for byte with each other), and the same import shape
        # as the first run's.
        got = {"file_frames": frames_in_file, "frames": frames, "bones": bones, "channels": n_channels}
        if self.reference is None:
            self.reference = got
        if digest != served or got != self.reference or frames != frames_in_file:
            tally["corrupted"] += 1
            tally["details"].append({"sid": sid, "frames": frames, "file_frames": frames_in_file,
                                     "same_bytes_as_served": digest == served})
        if self.pipeline.journal.require(sid).state is not State.DONE:
            tally["unapplied"] += 1


def _file_record(server: Any, file_id: str) -> dict[str, Any] | None:
    import sqlite3

    db = sqlite3.connect(f"file:{Path(server.data_dir) / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT data FROM objects WHERE kind = 'file' AND id = ?", (file_id,)).fetchone()
    finally:
        db.close()
    return json.loads(row[0]) if row else None


def new_tally() -> dict[str, Any]:
    return {"runs": 0, "duplicates": 0, "corrupted": 0, "partial_files": 0, "unreported_failures": 0,
            "unapplied": 0, "applied_first_try": 0, "failed_then_recovered": 0,
            "failures_by_stage": collections.Counter(), "faults_injected": 0, "fault_hits": 0,
            "orphan_files_noted": 0, "orphan_files_lost_answer": 0,
            "details": []}


def soak(runs: int, seed: int, clip: float, video: Path) -> dict[str, Any]:
    import bpy  # noqa: F401  (first: puts Blender's own modules on the path)

    addon_utils = importlib.import_module("addon_utils")
    from tests.fixtures.local_server import DEFAULT_MOTION, LocalServer

    logging.getLogger("move_mocap").setLevel(logging.ERROR)  # failures are counted, not printed
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="move_soak_") as tmp_name:
        tmp = Path(tmp_name)
        old_user_dir = os.environ.get("MOVE_MOCAP_USER_DIR")
        os.environ["MOVE_MOCAP_USER_DIR"] = str(tmp / "user")
        enabled_here = not addon_utils.check("move_mocap")[1]  # a test session may have it enabled already
        if enabled_here:
            addon_utils.enable("move_mocap", default_set=True,
                               handle_error=lambda exc: (_ for _ in ()).throw(exc))
        server = LocalServer(tmp / "server", motion=DEFAULT_MOTION).start()
        try:
            s = Soak(server, tmp, video, clip)
            tally = new_tally()
            t0 = time.perf_counter()
            s.run_once([], tally)  # the fault-free reference (and baseline time)
            baseline = time.perf_counter() - t0
            if tally["applied_first_try"] != 1 or s.reference is None:
                raise RuntimeError(f"the fault-free reference run failed: {tally}")
            tally = new_tally()
            start = time.perf_counter()
            for _ in range(runs):
                faults = random_faults(rng)
                tally["faults_injected"] += len(faults)
                s.run_once(faults, tally)
                tally["runs"] += 1
            seconds = time.perf_counter() - start
            s.pipeline.shutdown()
        finally:
            server.stop()
            if enabled_here:
                addon_utils.disable("move_mocap", default_set=True)
            if old_user_dir is None:
                os.environ.pop("MOVE_MOCAP_USER_DIR", None)
            else:
                os.environ["MOVE_MOCAP_USER_DIR"] = old_user_dir
    tally["failures_by_stage"] = dict(sorted(tally["failures_by_stage"].items()))
    tally["details"] = tally["details"][:10]
    per_run = seconds / max(runs, 1)
    return {"benchmark": "soak", "seed": seed, "clip_seconds": clip, **tally, "seconds": round(seconds, 1),
            "seconds_per_run": round(per_run, 3), "baseline_seconds": round(baseline, 3),
            "ratio_to_baseline": round(per_run / baseline, 2) if baseline else None}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py soak")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clip", type=float, default=1.0, help="clip window in seconds (default 1.0)")
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    args = ap.parse_args(argv)
    if not args.video.is_file():
        print(f"soak: {args.video} is missing: run scripts/fetch_test_data.sh", file=sys.stderr)
        return 2
    result = soak(args.runs, args.seed, args.clip, args.video)
    print(json.dumps(result, sort_keys=False))
    bad = result["duplicates"] + result["corrupted"] + result["partial_files"] + result["unreported_failures"] \
        + result["unapplied"]
    return 1 if bad else 0
