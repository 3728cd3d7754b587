"""The job worker: one background thread that takes queued jobs through NOT_STARTED -> RUNNING ->
FINISHED/FAILED, running the selected solver and then the output writers.

It never imports bpy: the bpy-built formats are written by a subprocess (see local_engine.outputs).
On start, jobs left RUNNING by a previous server process are restarted from the beginning (their inputs
are on disk and solving is deterministic); jobs still NOT_STARTED are queued again in creation order.

Each job runs on a thread of its own under a deadline (``job_timeout``): a job that passes it is FAILED with
the reason, its thread is abandoned (it can no longer change the job; progress reports stop it where a solver
reports progress, the Blender writer subprocess is killed at the deadline), and the worker goes on to the next
job. Failure reasons go through local_engine.messages (no absolute paths of this machine).
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from .faults import FaultInjector
from .messages import public_message
from .solvers.base import Camera, Solver, SolveRequest, SolverError
from .store import Store

log = logging.getLogger("local_engine.worker")
SOLVE_SHARE = 60  # percent of the progress bar given to the solver, the rest to the writers


class JobWorker:
    def __init__(self, store: Store, solver: Solver, faults: FaultInjector, export_python: str | None = None,
                 job_timeout: float = 1800.0, blender: str | None = None) -> None:
        self.store = store
        self.solver = solver
        self.faults = faults
        self.export_python = export_python
        self.blender = blender
        self.job_timeout = job_timeout
        self._abandoned: set[str] = set()
        self._abandoned_lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="job-worker", daemon=True)
        self._stop = threading.Event()

    def start(self) -> None:
        for job_id in self.store.ids_where("job", "state", ("RUNNING",)):
            log.info("restarting %s, interrupted by a server restart", job_id)
            self.store.update("job", job_id, state="NOT_STARTED", percentageComplete=0, restarts=(
                (self.store.get("job", job_id) or {}).get("restarts", 0) + 1))
        for job_id in self.store.ids_where("job", "state", ("NOT_STARTED",)):
            self._queue.put(job_id)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)

    # ------------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            job_id = self._queue.get()
            if job_id is None:
                return
            self._process_bounded(job_id)

    def _process_bounded(self, job_id: str) -> None:
        """Runs the job on its own thread; past ``job_timeout`` the job FAILS and that thread is abandoned."""
        done = threading.Event()
        deadline = time.monotonic() + self.job_timeout

        def target() -> None:
            try:
                self._process(job_id, deadline)
            except _Abandoned:
                pass
            except Exception as exc:  # never let one job kill the worker
                log.error("job %s: %s", job_id, traceback.format_exc())
                self._fail(job_id, f"Internal error while processing the job: {exc}")
            finally:
                done.set()

        threading.Thread(target=target, name=f"job-{job_id}", daemon=True).start()
        if done.wait(self.job_timeout):
            return
        with self._abandoned_lock:
            self._abandoned.add(job_id)
        reason = (f"Processing took longer than this server's job timeout of {self.job_timeout:g} s "
                  "(--job-timeout); the job was stopped. Try a shorter clip window or raise the timeout.")
        log.warning("job %s failed: %s", job_id, reason)
        self.store.update("job", job_id, state="FAILED", error=reason)

    def _is_abandoned(self, job_id: str) -> bool:
        with self._abandoned_lock:
            return job_id in self._abandoned

    def _set(self, job_id: str, **changes: Any) -> None:
        if self._is_abandoned(job_id):
            raise _Abandoned  # the deadline passed: this thread may no longer change the job
        self.store.update("job", job_id, **changes)

    def _fail(self, job_id: str, reason: str) -> None:
        reason = public_message(reason)
        log.warning("job %s failed: %s", job_id, reason)
        try:
            self._set(job_id, state="FAILED", error=reason)
        except _Abandoned:
            pass

    def _process(self, job_id: str, deadline: float) -> None:
        job = self.store.get("job", job_id)
        if job is None or job["state"] != "NOT_STARTED":
            return
        take = self.store.get("take", job["takeId"])
        if take is None:
            self._fail(job_id, "The job's take no longer exists")
            return
        self._set(job_id, state="RUNNING", percentageComplete=1, started=time.time())
        fault = self.faults.take("job", ("fail_job",))
        if fault is not None:
            self._fail(job_id, fault.message)
            return

        work_dir = self.store.jobs_dir / job_id
        if work_dir.exists():
            shutil.rmtree(work_dir)  # a restarted job starts clean
        work_dir.mkdir(parents=True)
        cameras = []
        for src in take["sources"]:
            f = self.store.get("file", src["fileId"])
            if f is None or not f.get("uploaded"):
                self._fail(job_id, f"Source file {src['fileId']} is missing")
                return
            cameras.append(Camera(video=self.store.files_dir / f["path"], device_label=src["deviceLabel"]))
        options: dict[str, Any] = {}
        if take.get("takeType") == "MULTI_CAM":
            from .volumes import VolumeError, cameras_for_take

            try:
                cameras = cameras_for_take(self.store, take, cameras)
            except VolumeError as exc:
                self._fail(job_id, str(exc))
                return
            options["syncMethod"] = take.get("syncMethod")
        metadata = job.get("metadata")
        if isinstance(metadata, dict) and "person" in metadata:
            options["person"] = metadata["person"]  # a single-camera job capturing someone else (solver checks it)
        inputs = job["inputs"]
        clip = inputs.get("clipWindow")
        last = [0.0]

        def progress(fraction: float, lo: int = 1, hi: int = SOLVE_SHARE) -> None:
            now = time.monotonic()
            if now - last[0] < 0.2 and fraction < 1.0:
                return
            last[0] = now
            pct = int(lo + (hi - lo) * min(max(fraction, 0.0), 1.0))
            self._set(job_id, percentageComplete=max(1, min(pct, 99)))

        hang = self.faults.take("job", ("hang_job",))
        if hang is not None:
            time.sleep(hang.delay)  # a solver that hangs and never looks at its progress callback
        request = SolveRequest(
            cameras=cameras,
            work_dir=work_dir,
            # The job's options, plus the outputs asked for (a solver may skip work nobody wants).
            options={**(inputs.get("options") or {}), **options, "outputs": list(job["requestedOutputs"])},
            clip_window=(clip["startTime"], clip["endTime"]) if clip else None,
            number_of_actors=inputs.get("numberOfActors") or 1,
            progress=progress,
        )
        try:
            result = self.solver.solve(request)
        except SolverError as exc:
            self._fail(job_id, str(exc))
            return
        if not result.motions:
            self._fail(job_id, "No person could be tracked in the footage")
            return
        progress(1.0)
        problem = _apply_job_metadata(job.get("metadata"), result.motions)
        if problem:
            self._fail(job_id, problem)
            return

        from .outputs import OutputError, write_outputs

        out_dir = work_dir / "outputs"
        try:
            files = write_outputs(
                result.motions,
                out_dir,
                [o for o in job["requestedOutputs"] if o not in result.extra_outputs],
                progress=lambda f: progress(f, SOLVE_SHARE, 99),
                python=self.export_python or "",  # none given: no PyPI bpy fallback (as /_health says)
                blender=self.blender,
                timeout=max(deadline - time.monotonic(), 1.0),
            )
        except OutputError as exc:
            self._fail(job_id, f"Writing the outputs failed: {exc}")
            return
        files.update({k: Path(v) for k, v in result.extra_outputs.items() if k in job["requestedOutputs"]})

        outputs = []
        for key in job["requestedOutputs"]:
            path = files.get(key)
            if path is None:
                continue
            ext = path.suffix.lstrip(".").lower() or "bin"
            doc = self.store.insert("file", {"type": f".{ext}", "name": f"{key.lower()}.{ext}", "metadata": None,
                                             "uploaded": False, "size": None})
            final = self.store.files_dir / f"{doc['id']}.{ext}"
            shutil.move(str(path), final)
            self.store.update("file", doc["id"], uploaded=True, size=final.stat().st_size, path=final.name)
            outputs.append({"key": key, "format": ext, "fileId": doc["id"]})
        self._set(job_id, state="FINISHED", percentageComplete=100, outputs=outputs, solverMetadata=result.metadata,
                  finished=time.time())
        log.info("job %s finished with %s", job_id, [o["key"] for o in outputs])


class _Abandoned(Exception):
    """Raised in an abandoned job's thread when it tries to change the job after its deadline."""


# Job metadata keys the engine reads (Move's schema carries metadata as free JSON), passed to each motion.
JOB_METADATA_KEYS = ("body_mass_kg",)


def _apply_job_metadata(metadata: Any, motions: list[Any]) -> str | None:
    """Copy the job metadata the writers read onto each motion; a reason to fail the job, or None."""
    if not isinstance(metadata, dict):
        return None
    from .dynamics import body_mass

    for key in JOB_METADATA_KEYS:
        if key in metadata:
            for motion in motions:
                motion.metadata[key] = metadata[key]
    if motions and "body_mass_kg" in metadata:
        try:
            body_mass(motions[0])
        except ValueError as exc:
            return str(exc)
    return None
