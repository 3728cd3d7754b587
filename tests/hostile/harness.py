"""Runs one hostile-server case (tests/hostile/cases.py) and checks what the user would suffer.

``run_case`` drives the add-on's ``Pipeline`` (the same object the panel and scripts/mocap.py use) against a
``HostileServer`` or, for crafted outputs, runs ``scripts/mocap.py process`` (which imports, retargets and
saves a .blend) in a subprocess. Checked for each case, from outside the code under test:

- nothing written outside the download folder (a snapshot of a temporary tree before and after);
- the longest main-thread slice while draining events (``Pipeline.drain``, what Blender's timer runs);
- no second create (the server's own count of jobs and takes);
- the outcome and the stage named by the failure, with a non-empty message and hint;
- the API key and the URL signature absent from every event text, log record, journal, report and .blend;
- for cancel cases, the time from ``Pipeline.cancel`` to the ``Cancelled`` event.

Test-only code (imports the add-on's bpy-free core; mocap.py runs with the caller's Python, which has bpy).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from move_mocap.core.api.client import MoveClient
from move_mocap.core.api.retry import RetryPolicy
from move_mocap.core.pipeline import Journal, Pipeline, PipelineConfig, SubmissionSpec
from move_mocap.core.pipeline.events import Cancelled, Failed, Notice, Progress, ReadyToApply, StageChanged
from move_mocap.core.pipeline.model import Footage
from tests.hostile.cases import Case
from tests.hostile.server import API_KEY, SIGNATURE, HostileServer

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / ".cache" / "testdata"
VIDEO = TESTDATA / "sports2d" / "demo.mp4"
BVH = TESTDATA / "bvh" / "01_03.bvh"
SECRETS = (API_KEY, SIGNATURE, API_KEY.replace("-", "%2D"), API_KEY.replace("-", "%2d"))

LIMITS: dict[str, Any] = {"timeout": (2.0, 0.5), "request_deadline": 1.5, "transfer_deadline": 1.0,
                          "transfer_min_rate": 4000.0, "max_download_bytes": 32 * 1024 * 1024}


@dataclass
class Result:
    case: str
    outcome: str = ""
    stage: str = ""
    message: str = ""
    problems: list[str] = field(default_factory=list)
    files_outside: list[str] = field(default_factory=list)
    max_stall_ms: float = 0.0       # the longest Pipeline.drain call (what Blender's timer runs)
    max_gap_ms: float = 0.0         # the main loop's longest lateness past a 10 ms sleep (GIL hogs; noisy)
    jobs: int = 0
    takes: int = 0
    cancel_latency_s: float | None = None
    seconds: float = 0.0

    @property
    def handled_well(self) -> bool:
        return not self.problems


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.lines.append(str(record.msg))


def _snapshot(root: Path) -> dict[str, float]:
    out = {}
    for p in root.rglob("*"):
        try:
            out[str(p.relative_to(root))] = p.lstat().st_mtime
        except OSError:
            pass
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        import shutil
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _leaks(texts: list[str]) -> list[str]:
    found = []
    for secret in SECRETS:
        if any(secret in t for t in texts):
            found.append(f"secret {secret[:8]}... leaked")
    return found


def _blob(path: Path) -> str:
    texts = []
    for p in [path, *path.parent.glob(path.name + "-*")]:
        if p.is_file():
            texts.append(p.read_bytes().decode("latin-1"))
    return "\n".join(texts)


def run_case(case: Case, tmp: Path, *, via: str = "pipeline") -> Result:
    world = tmp / "world"  # the snapshot covers this tree; downloads go deep inside it
    downloads = world / "a" / "b" / "c" / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    (world / "startup").mkdir(exist_ok=True)
    for watched in case.watch:
        _remove(Path(watched))
    before = _snapshot(world)
    started = time.monotonic()
    result = Result(case.name)
    with HostileServer(case.behaviour(), output_body=BVH.read_bytes()) as server:
        if via == "mocap":
            _run_mocap(case, tmp, downloads, server, result)
        else:
            _run_pipeline(case, tmp, downloads, server, result)
        result.jobs, result.takes = server.created["job"], server.created["take"]
    result.seconds = time.monotonic() - started
    after = _snapshot(world)
    inside = str(downloads.relative_to(world))
    result.files_outside = sorted(p for p in after if p not in before and not p.startswith(inside))
    result.files_outside += [w for w in case.watch if os.path.lexists(w)]
    for watched in case.watch:
        _remove(Path(watched))
    _judge(case, result)
    return result


def _client_factory(server: HostileServer, limits: dict[str, Any]):
    def make(sleep=None) -> MoveClient:
        return MoveClient(API_KEY, endpoint=server.url, retry=RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2),
                          **limits, **({"sleep": sleep} if sleep else {}))
    return make


def _run_pipeline(case: Case, tmp: Path, downloads: Path, server: HostileServer, result: Result) -> None:
    limits = {**LIMITS, **case.limits}
    config = PipelineConfig(endpoint=server.url, download_dir=downloads, poll_initial=0.05, poll_factor=1.3,
                            poll_max=0.3, poll_error_limit=2, reconcile_attempts=2, reconcile_delay=0.1,
                            reconcile_settle=3.0, progress_interval=0.02, secrets=(API_KEY,))
    journal_path = tmp / "journal.sqlite3"
    pipeline = Pipeline(Journal(journal_path), _client_factory(server, limits), config)
    capture = _Capture()
    logging.getLogger().addHandler(capture)
    old_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    texts: list[str] = []
    cancelled_at: float | None = None
    try:
        keys = tuple(sorted({str(o.get("key") or "MOTION_DATA").upper() if str(o.get("key", "")).isidentifier()
                             else "MOTION_DATA" for o in (case.behaviour().outputs or [{}])}))
        spec = SubmissionSpec(footage=(Footage(str(VIDEO)),), outputs=keys, clip_window=(0.0, 2.0))
        sid = pipeline.submit(spec)
        deadline = time.monotonic() + 60
        while True:
            alive = pipeline.is_running(sid)
            t0 = time.perf_counter()
            events = pipeline.drain(budget=0.008)
            result.max_stall_ms = max(result.max_stall_ms, (time.perf_counter() - t0) * 1000)
            for e in events:
                if isinstance(e, Progress | StageChanged | Notice):
                    texts.append(e.text)
                if isinstance(e, Failed):
                    texts += [e.message, e.hint]
                    result.outcome, result.stage, result.message = "failed", e.stage, e.message
                    if not e.message or not e.hint:
                        result.problems.append("failure without a message or a hint")
                if isinstance(e, Cancelled):
                    result.outcome, result.stage = "cancelled", e.stage
                    if cancelled_at is not None:
                        result.cancel_latency_s = time.monotonic() - cancelled_at
                if isinstance(e, ReadyToApply):
                    result.outcome = "ready"
            if case.cancel_at and cancelled_at is None and server.started[case.cancel_at]:
                time.sleep(0.3)  # well inside the slow exchange
                cancelled_at = time.monotonic()
                pipeline.cancel(sid)
            if not alive and not events and pipeline.events.empty():
                break
            if time.monotonic() > deadline:
                result.problems.append("the pipeline did not finish within 60 s")
                pipeline.shutdown(2.0)
                break
            t1 = time.perf_counter()
            time.sleep(0.01)
            result.max_gap_ms = max(result.max_gap_ms, (time.perf_counter() - t1 - 0.01) * 1000)
        row = pipeline.journal.require(sid)
        texts += [row.error_message or "", row.error_hint or "", json.dumps(row.outputs)]
    finally:
        logging.getLogger().removeHandler(capture)
        logging.getLogger().setLevel(old_level)
        pipeline.shutdown(2.0)
        pipeline.journal.close()
    texts += [*capture.lines, _blob(journal_path)]
    result.problems += _leaks(texts)


def _run_mocap(case: Case, tmp: Path, downloads: Path, server: HostileServer, result: Result) -> None:
    key_file = tmp / "key.txt"
    key_file.write_text(API_KEY)
    report, blend = tmp / "report.json", tmp / "out.blend"
    outputs = ",".join(o["key"] for o in (case.behaviour().outputs or [{"key": "MOTION_DATA"}]))
    env = {k: v for k, v in os.environ.items() if k not in ("MOVE_API_KEY", "MOVE_MOCAP_USER_DIR")}
    env["MOVE_MOCAP_USER_DIR"] = str(tmp / "user")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [sys.executable, str(ROOT / "scripts" / "mocap.py"), "process", str(VIDEO), "--endpoint", server.url,
           "--api-key-file", str(key_file), "--download-dir", str(downloads), "--report", str(report),
           "--save", str(blend), "--poll-max", "0.3", "--outputs", outputs, "--clip", "0", "1.5", "-q"]
    proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=180)
    texts = [proc.stdout, proc.stderr]
    doc: dict[str, Any] = {}
    if report.is_file():
        texts.append(report.read_text())
        doc = json.loads(report.read_text())
    items = doc.get("items") or [{}]
    item = items[0]
    error = item.get("error") or {}
    if item.get("outcome") in ("applied", "done", "ok") or (not error and proc.returncode == 0):
        result.outcome = "ready"
    elif error:
        result.outcome, result.stage, result.message = "failed", error.get("stage", ""), error.get("message", "")
        if not error.get("message") or not error.get("hint"):
            result.problems.append("failure without a message or a hint")
    else:
        result.outcome = f"exit {proc.returncode}"
    if blend.is_file():
        texts.append(blend.read_bytes().decode("latin-1"))
    for journal in (tmp / "user").rglob("*.sqlite3*"):
        texts.append(journal.read_bytes().decode("latin-1"))
    result.problems += _leaks(texts)


def _judge(case: Case, result: Result) -> None:
    kind, _, stage = case.expect.partition(":")
    got = result.outcome if result.outcome != "failed" else f"failed:{result.stage}"
    matched = (result.outcome == "failed" and result.stage == stage) if kind == "failed" else result.outcome == kind
    if not matched:
        result.problems.append(f"expected {case.expect}, got {got} ({result.message[:200]})")
    for word in case.message_has:
        if word.lower() not in result.message.lower():
            result.problems.append(f"the message does not name the problem ({word!r}): {result.message[:200]}")
    if result.files_outside:
        result.problems.append(f"files written outside the download folder: {result.files_outside[:5]}")
    if result.jobs > 1 or result.takes > 1:
        result.problems.append(f"duplicate creates: {result.takes} takes, {result.jobs} jobs")
    if result.max_stall_ms > 10:
        result.problems.append(f"a main-thread slice took {result.max_stall_ms:.1f} ms")
    if case.seconds_max is not None and result.seconds > case.seconds_max:
        result.problems.append(f"took {result.seconds:.1f} s (bounded work should end within {case.seconds_max} s)")
    if case.cancel_at and (result.cancel_latency_s is None or result.cancel_latency_s > 3.0):
        result.problems.append(f"cancel took {result.cancel_latency_s} s")
