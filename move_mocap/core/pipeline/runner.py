"""``Pipeline``: runs submissions on worker threads, stage by stage, journaling every id first.

Threading rules: a worker owns one ``MoveClient`` and one submission; it only talks to the network, the
journal and the event queue. It never touches bpy (this package cannot even import it). The caller's thread
(Blender's main thread) drains ``Pipeline.events`` and is the only one that changes Blender data.

Idempotence: before a create call (volume, take, job) the journal marks it pending; the returned id is
journaled before anything else happens. A submission found pending without an id (a crash, or a create
whose answer was lost: ``OutcomeUnknownError``) is reconciled by its metadata tag
(``{"move_mocap_submission": <id>}``) through listTakes/listJobs/listVolumes, for as long as it takes, and
created again only when the server has proven it has none or the user asked (``reconcile.py`` holds the
policy). Files have no list call upstream: a file whose create answer was lost is created again (the orphan
record is harmless).

Secrets: no presigned URL is ever journaled. A created file's upload URL lives in the pipeline's memory
(``Pipeline._upload_urls``) so Retry in the same session resumes on the same file. After a restart there
is no URL: upstream's ``getFile`` hands out a download URL, never an upload one, so the file record is
created again (journaled) and the abandoned, never-uploaded record is noted in the journal as an orphan.
No bpy here.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import outputs as output_kinds
from .. import people, safe_paths
from ..api.client import MoveClient, metadata_matches
from ..api.errors import (
    NetworkError,
    OutcomeUnknownError,
    PresignedUrlExpiredError,
    RateLimitError,
    ServerError,
    TransferCancelledError,
)
from ..api.models import File
from ..api.redact import redact_text
from .backoff import PollSchedule
from .events import (
    Cancelled,
    CaptureChoices,
    Event,
    Failed,
    HistoryLoaded,
    Notice,
    Progress,
    ReadyToApply,
    StageChanged,
)
from .failures import ErrorKind, StageFailure, classify
from .journal import Journal, SubmissionRow
from .model import KEY_FIELD, Kind, Stage, State, SubmissionSpec, submission_key
from .preflight import calibration_file_backend_problem, folder_problem
from .reconcile import FILES_ARE_RECREATED, ReconcilePolicy, Search, reconcile

log = logging.getLogger(__name__)


def _is_id(text: str) -> bool:
    """Whether a server's id may be listed (and later sent back): the pipeline's one name check."""
    try:
        safe_paths.check_name(text, "volume id")
    except safe_paths.UnsafeNameError:
        return False
    return True


PERSON_OF = "person_of"  # SubmissionSpec.extra: the title of the result another person was chosen from
LENS = re.compile(r"[\w .+()-]{1,64}")  # a lens name the panel may offer (listCameraSettings)

TAG_KEY = "move_mocap_submission"
PERSON_KEY = "person"  # the job metadata's request for another person (local_engine.worker reads it)

ClientFactory = Callable[..., MoveClient]
"""Builds a client on the worker thread; called as ``factory(sleep=...)`` (a cancellable sleep)."""
Checkpoint = Callable[[str, str], None]
"""``checkpoint(submission_id, point)`` after each journal write ("files", "take", "before:job", ...)."""


@dataclass
class PipelineConfig:
    endpoint: str
    download_dir: Path
    poll_initial: float = 1.0
    poll_factor: float = 1.5
    poll_max: float = 15.0
    poll_error_limit: int = 8        # consecutive failed polls before the stage fails
    reconcile_attempts: int = 2      # consecutive complete, empty searches that prove a lost create absent
    reconcile_delay: float = 2.0     # first wait between searches (doubling up to reconcile_max_delay)
    reconcile_max_delay: float = 60.0
    reconcile_settle: float = 120.0  # see reconcile.py: searches count as proof only after this long
    progress_interval: float = 0.1   # seconds between Progress events of one transfer
    volume_timeout: float = 3600.0
    secrets: tuple[str, ...] = field(default=(), repr=False)  # scrubbed from every stored/posted message


class _Cancelled(Exception):
    pass


def _fmt_rate(bps: float) -> str:
    if bps >= 1e9:
        return f"{bps / 1e9:.1f} GB/s"
    if bps >= 1e6:
        return f"{bps / 1e6:.0f} MB/s"
    return f"{bps / 1e3:.0f} kB/s"


def _output_file_name(item: Any) -> str:
    """``<key>.<ext>`` for a job output, from the server's key and format (or its file name's suffix)."""
    key = safe_paths.check_name(item.key, "output key")
    fmt = item.format or Path(str(item.file.name or "")).suffix or "bin"
    return f"{key.lower()}.{safe_paths.check_extension(fmt)}"


def _unsafe(exc: safe_paths.UnsafeNameError) -> StageFailure:
    return StageFailure(Stage.DOWNLOADED, ErrorKind.DOWNLOAD, f"{exc}; nothing was written",
                        "The server's answer cannot be trusted: check the endpoint in Preferences (a typo or "
                        "a compromised server) and report it to the server's operator; Retry gets the same "
                        "answer.")


def _sniff_suffix(path: Path) -> str:
    with open(path, "rb") as fh:
        return output_kinds.suffix_for(fh.read(65536))


class Pipeline:
    """Submissions, their worker threads and the event queue.

    ``journal``: the durable record. ``client_factory``: builds a ``MoveClient`` (key, endpoint, timeout
    captured by the caller on its own thread). ``events``: where workers post (default: a new queue).
    ``checkpoint``: called after each journal write (tests use it to simulate a crash at a boundary).
    """

    def __init__(self, journal: Journal, client_factory: ClientFactory, config: PipelineConfig,
                 events: queue.SimpleQueue[Event] | None = None, checkpoint: Checkpoint | None = None) -> None:
        self.journal = journal
        self.client_factory = client_factory
        self.config = config
        self.events: queue.SimpleQueue[Event] = events if events is not None else queue.SimpleQueue()
        self.checkpoint = checkpoint
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._share_codes: dict[str, str] = {}
        # (sid, role, idx) -> (file id, presigned upload URL): capabilities, in memory only
        self._upload_urls: dict[tuple[str, str, int], tuple[str, str]] = {}
        self._replace_failed_job: set[str] = set()  # Retry pressed after a processing failure
        self._create_anyway: set[str] = set()  # Retry with create_anyway: skip reconciling a lost create

    def __repr__(self) -> str:
        return f"Pipeline({self.journal!r}, running={len(self.running_ids())})"

    # ------------------------------------------------------------------------------------ submitting

    def submit(self, spec: SubmissionSpec, *, start: bool = True) -> str:
        """Validate ``spec`` (and the download folder), journal it and (``start``) run it; returns its id.

        Raises ``ValueError`` with a message naming the problem and the fix; nothing is sent then."""
        problem = self._problem(spec)
        if problem:
            raise ValueError(problem)
        sid = self.journal.create(spec, endpoint=self.config.endpoint, output_dir=str(self.config.download_dir))
        if start:
            self.start(sid)
        return sid

    def submit_once(self, spec: SubmissionSpec, *, start: bool = False) -> tuple[str, bool]:
        """Journal ``spec`` unless the same footage and settings (``model.submission_key``) already are,
        for this endpoint; returns (id, created). An existing submission is returned as it is (finished,
        failed or unfinished: the caller decides to apply, retry or resume it); ``start`` runs a new one."""
        problem = self._problem(spec)
        if problem:
            raise ValueError(problem)
        sid, created = self.journal.create_once(spec, submission_key(spec), endpoint=self.config.endpoint,
                                                output_dir=str(self.config.download_dir))
        if created and start:
            self.start(sid)
        return sid, created

    def _problem(self, spec: SubmissionSpec) -> str | None:
        """Why ``spec`` cannot be sent to this pipeline's server (the spec itself, a calibration file for a
        server that cannot read it, the download folder), or None."""
        if spec.calibration_file:
            problem = calibration_file_backend_problem(self.config.endpoint)
            if problem:
                return problem
        return spec.validate() or folder_problem(self.config.download_dir)

    def capture_person(self, sid: str, person: int, *, target: str | None = None, blend_file: str | None = None,
                       extra: dict[str, Any] | None = None, start: bool = True) -> tuple[str, bool]:
        """A new job on ``sid``'s take (nothing uploaded again) capturing ``person`` of the people ``sid``'s job
        listed (kept beside its outputs) instead of its main subject; returns (id, created). The same person
        of the same take asked again is the same submission (``model.submission_key`` counts the take and the
        person), so a job is never created twice: nor is one made for a person already asked for by footage (a
        ``--person`` request made before any job of that footage was here) or for the person the first result of
        this chain captured (offered in another person's result as "seen, not captured"); that submission is
        returned (created False). Raises ``ValueError`` naming the problem and the fix."""
        row = self.journal.require(sid)
        if row.spec.multi_camera:
            raise ValueError(f"{row.title} is a multi-camera result: it captures its number of actors; apply "
                             "each with its actor number")
        if not row.take_id:
            raise ValueError(f"{row.title} has no take on the server (an adopted job or a share code): process "
                             "the footage to choose another person")
        if row.endpoint != self.config.endpoint:
            raise ValueError(f"{row.title}'s take is on {row.endpoint}, not on the server chosen now: switch the "
                             "backend back to it to capture another person of it")
        asked = self.journal.find_by_key(submission_key(replace(row.spec, take_id="", person=int(person))),
                                         endpoint=self.config.endpoint)
        if asked is not None:  # the same footage, settings and person, asked for before this take's job
            return asked.id, False
        root = self._first_of(row)
        if root.id != row.id and self._captured(root) == person:  # the root job captured them already
            return root.id, False
        found = self._people(row)
        listed = {p.number: p for p in found.persons} if found is not None else {}
        if person not in listed:
            raise ValueError(f"person {person} is not among the people {row.title}'s job listed "
                             f"({', '.join(map(str, sorted(listed))) or 'none: the server lists no people'})")
        if listed[person].actor is not None:
            raise ValueError(f"person {person} is already the one {row.title} captured: apply it")
        base = str(row.spec.extra.get(PERSON_OF, "")) or row.title
        kept = {k: v for k, v in row.spec.extra.items() if k != KEY_FIELD}
        spec = replace(row.spec, take_id=row.take_id, person=int(person), name=f"{base} person {person}",
                       target=row.spec.target if target is None else target,
                       blend_file=row.spec.blend_file if blend_file is None else blend_file,
                       extra={**kept, **(extra or {}), PERSON_OF: base, "from_submission": sid})
        return self.submit_once(spec, start=start)

    def _first_of(self, row: SubmissionRow) -> SubmissionRow:
        """The submission ``row``'s chain of "another person" requests started from (``row`` itself if none)."""
        seen = {row.id}
        while True:
            parent_id = str(row.spec.extra.get("from_submission", ""))
            parent = self.journal.get(parent_id) if parent_id and parent_id not in seen else None
            if parent is None:
                return row
            seen.add(parent.id)
            row = parent

    @staticmethod
    def _people(row: SubmissionRow) -> people.People | None:
        """The people ``row``'s job listed (kept beside its outputs), None when none are kept."""
        return people.load(Path(next(iter(row.outputs.values()))).parent) if row.outputs else None

    def _captured(self, row: SubmissionRow) -> int:
        """The person ``row``'s job captured: the one it asked for, else the one its people list says (0: not
        known)."""
        if row.spec.person:
            return int(row.spec.person)
        found = self._people(row)
        return next((p.number for p in found.persons if p.actor is not None), 0) if found is not None else 0

    def adopt_job(self, job_id: str, *, target: str = "", name: str = "", blend_file: str = "",
                  start: bool = True) -> str:
        """Track an existing server job (from the history) to download its outputs and apply them."""
        spec = SubmissionSpec(footage=(), name=name or f"Job {job_id[:8]}", target=target, blend_file=blend_file,
                              outputs=())
        sid = self.journal.create(spec, endpoint=self.config.endpoint, output_dir=str(self.config.download_dir),
                                  kind=Kind.ADOPTED, job_id=job_id)
        if start:
            self.start(sid)
        return sid

    def import_share_code(self, code: str, *, target: str = "", blend_file: str = "") -> str:
        """Download the file behind a Move One share code (the code is kept in memory only)."""
        digits = "".join(ch for ch in code if ch.isdigit())
        masked = f"{digits[:2]}****{digits[-2:]}" if len(digits) >= 4 else "****"
        spec = SubmissionSpec(footage=(), name=f"Share code {masked}", target=target, blend_file=blend_file,
                              outputs=())
        sid = self.journal.create(spec, endpoint=self.config.endpoint, output_dir=str(self.config.download_dir),
                                  kind=Kind.SHARE)
        self._share_codes[sid] = code
        self.start(sid)
        return sid

    # ------------------------------------------------------------------------------------- control

    def start(self, sid: str) -> bool:
        """Run (or resume) ``sid`` on a worker thread unless one is running; False if it was."""
        with self._lock:
            current = self._workers.get(sid)
            if current is not None and current.is_alive():
                return False
            worker = _Worker(self, sid)
            self._workers[sid] = worker
        worker.start()
        return True

    def resume_unfinished(self) -> list[str]:
        """Start a worker for every submission the journal says is active; returns their ids."""
        started = []
        for row in self.journal.unfinished():
            if row.kind is Kind.SHARE and row.id not in self._share_codes:
                self._fail(row.id, StageFailure(Stage.DOWNLOADED, ErrorKind.DOWNLOAD,
                                                "the share code download was interrupted and codes are not stored",
                                                "Enter the share code again (or a new one from Move One)."))
                continue
            if self.start(row.id):
                started.append(row.id)
        return started

    def cancel(self, sid: str) -> bool:
        """Stop local work on ``sid`` (ids stay in the journal; Retry resumes). False if nothing to stop."""
        with self._lock:
            worker = self._workers.get(sid)
        if worker is not None and worker.is_alive():
            worker.cancel.set()
            return True
        row = self.journal.get(sid)
        if row is not None and row.state in (State.ACTIVE, State.FAILED):
            self.journal.set_state(sid, State.CANCELLED)
            self._post(Cancelled(sid, row.stage.value))
            return True
        return False

    def retry(self, sid: str, *, create_anyway: bool = False) -> bool:
        """Resume ``sid`` at the stage that failed (or was cancelled). False if it is running or done.

        ``create_anyway``: a create whose outcome is unknown is sent again without looking for it first.
        The server may already have it: for a job that can mean a second, paid job (say so to the user)."""
        if self.is_running(sid):
            return False
        row = self.journal.require(sid)
        if row.state is State.DONE:
            return False
        if create_anyway:
            self._create_anyway.add(sid)
        if row.stage is Stage.DOWNLOADED:  # only the apply step is left: ask the caller again
            self.journal.clear_error(sid)
            self.journal.set_state(sid, State.READY)
            self._post(self._ready_event(self.journal.require(sid)))
            return True
        if row.error_kind == ErrorKind.PROCESSING.value and row.kind is Kind.SUBMISSION and row.job_id:
            # The worker looks at the job again: only if the server says it FAILED does it make a new job on
            # the same take (a processing error may also be an unreadable answer while polling a good job).
            self._replace_failed_job.add(sid)
        self.journal.clear_error(sid)
        self.start(sid)
        return True

    def is_running(self, sid: str) -> bool:
        with self._lock:
            worker = self._workers.get(sid)
        return worker is not None and worker.is_alive()

    def running_ids(self) -> list[str]:
        with self._lock:
            return [sid for sid, w in self._workers.items() if w.is_alive()]

    def ready(self) -> list[SubmissionRow]:
        """Submissions whose outputs are downloaded and not yet applied."""
        return self.journal.all(states=(State.READY,))

    def record_applied(self, sid: str, target: str, action: str = "") -> None:
        """The caller applied ``sid``'s outputs onto ``target`` (an armature name)."""
        self.journal.record_applied(sid, target, action)
        self._post(StageChanged(sid, Stage.APPLIED.value, f"Applied to {target}" if target else "Applied"))

    def record_apply_failed(self, sid: str, message: str, hint: str = "") -> None:
        self._fail(sid, StageFailure(Stage.APPLIED, ErrorKind.APPLY, message, hint))

    def _scrub(self, text: str) -> str:
        return redact_text(text, self.config.secrets)

    def _fail(self, sid: str, failure: StageFailure) -> None:
        message, hint = self._scrub(failure.message), self._scrub(failure.hint)
        self.journal.fail(sid, failure.stage, failure.kind.value, message, hint)
        self._post(Failed(sid, failure.stage.value, failure.kind.value, message, hint))

    def load_history(self, first: int = 50) -> threading.Thread:
        """List the server's jobs on a worker thread; posts ``HistoryLoaded``."""

        def run() -> None:
            try:
                with self.client_factory(sleep=time.sleep) as client:
                    page = client.list_jobs(first=first, sort_direction="DESC")
                jobs = []
                for job in page.items:
                    meta = job.metadata if isinstance(job.metadata, dict) else {}
                    state = job.job_state
                    jobs.append({
                        "id": job.id, "name": self._scrub(job.name or "")[:200],
                        "state": state.value if state else "",
                        "percent": job.percentage_complete or 0,
                        "created": job.created.isoformat() if job.created else "",
                        "submission": str(meta.get(TAG_KEY, ""))[:64],
                        "error": self._scrub(str(meta.get("error", ""))),
                    })
                self._post(HistoryLoaded("", tuple(jobs)))
            except Exception as exc:
                self._post(HistoryLoaded("", (), error=self._scrub(classify(Stage.PROCESSED, exc).message)))

        thread = threading.Thread(target=run, name="move_mocap-history", daemon=True)
        thread.start()
        return thread

    def load_capture_choices(self, first: int = 50) -> threading.Thread:
        """List the server's lenses and volumes on a worker thread; posts ``CaptureChoices``. Every value is
        checked (lens names and ids by their characters, text shortened and scrubbed of secrets)."""

        def run() -> None:
            lenses: list[str] = []
            volumes: list[dict[str, Any]] = []
            errors = []
            try:
                with self.client_factory(sleep=time.sleep) as client:
                    try:
                        page = client.list_camera_settings()
                        lenses = sorted({s.lens for s in page.items if s is not None and LENS.fullmatch(s.lens)})
                    except Exception as exc:
                        errors.append(f"lenses: {classify(Stage.TAKE, exc).message}")
                    for v in client.list_volumes(first=first, sort_direction="DESC").items:
                        if v is None or not _is_id(v.id):
                            continue
                        state = v.progress.state if v.progress and v.progress.state else v.state
                        meta = v.metadata if isinstance(v.metadata, dict) else {}
                        volumes.append({
                            "id": v.id, "name": self._scrub(v.name or "")[:120],
                            "state": state.value if state else "",
                            "reason": self._scrub(str(meta.get("error") or ""))[:400],
                            "human_height": float(v.human_height or 0.0),
                        })
            except Exception as exc:
                errors.append(f"volumes: {classify(Stage.VOLUME, exc).message}")
            self._post(CaptureChoices("", tuple(lenses[:200]), tuple(volumes),
                                      self._scrub("; ".join(errors))[:400]))

        thread = threading.Thread(target=run, name="move_mocap-capture-choices", daemon=True)
        thread.start()
        return thread

    # --------------------------------------------------------------------------------------- events

    def _post(self, event: Event) -> None:
        self.events.put(event)

    def drain(self, *, budget: float | None = None, wait: float = 0.0, max_events: int | None = None) -> list[Event]:
        """Events posted so far (without blocking unless ``wait`` > 0 for the first one).

        ``budget``: stop after this many seconds; ``max_events``: stop after that many.
        """
        out: list[Event] = []
        start = time.perf_counter()
        try:
            if wait > 0:
                out.append(self.events.get(timeout=wait))
            while max_events is None or len(out) < max_events:
                if budget is not None and time.perf_counter() - start >= budget:
                    break
                out.append(self.events.get_nowait())
        except queue.Empty:
            pass
        return out

    def wait(self, sid: str, *, timeout: float | None = None,
             on_event: Callable[[Event], None] | None = None) -> SubmissionRow:
        """Block until ``sid``'s worker ends, handing every event to ``on_event`` on this thread."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            alive = self.is_running(sid)
            for event in self.drain(wait=0.05):
                if on_event:
                    on_event(event)
            if not alive and self.events.empty():
                return self.journal.require(sid)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"submission {sid} still running after {timeout} s")

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every worker (as Cancel does) and wait for them; the journal keeps their ids."""
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            w.stopping = True
            w.cancel.set()
        end = time.monotonic() + timeout
        for w in workers:
            w.join(max(0.0, end - time.monotonic()))

    def _ready_event(self, row: SubmissionRow) -> ReadyToApply:
        return ReadyToApply(row.id, row.job_id or "", dict(row.outputs), row.spec.target, row.spec.blend_file)


class _Worker(threading.Thread):
    """One submission's network work, from its last journaled stage to downloaded outputs."""

    def __init__(self, pipeline: Pipeline, sid: str) -> None:
        super().__init__(name=f"move_mocap-{sid[:8]}", daemon=True)
        self.p = pipeline
        self.j = pipeline.journal
        self.cfg = pipeline.config
        self.sid = sid
        self.cancel = threading.Event()
        self.stopping = False  # shutdown: leave the journal state as it is (resumed next time)
        self.working = Stage.FILES
        self._last_progress = 0.0

    # ------------------------------------------------------------------------------------ helpers

    def _sleep(self, seconds: float) -> None:
        if self.cancel.wait(max(0.0, seconds)):
            raise _Cancelled()

    def _check(self) -> None:
        if self.cancel.is_set():
            raise _Cancelled()

    def _point(self, name: str) -> None:
        if self.p.checkpoint is not None:
            self.p.checkpoint(self.sid, name)

    def _stage_done(self, stage: Stage, text: str, **values: Any) -> None:
        self.j.set_stage(self.sid, stage, **values)
        self.p._post(StageChanged(self.sid, stage.value, text))
        self._point(stage.value)

    def _progress(self, stage: str, fraction: float, text: str, done: int = 0, total: int = 0,
                  force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < self.cfg.progress_interval:
            return
        self._last_progress = now
        self.p._post(Progress(self.sid, stage, max(0.0, min(1.0, fraction)), text, done, total))

    @property
    def tag(self) -> dict[str, str]:
        return {TAG_KEY: self.sid}

    # --------------------------------------------------------------------------------------- run

    def run(self) -> None:
        row = self.j.get(self.sid)
        if row is None:
            return
        self.working = Stage.FILES
        try:
            with self.p.client_factory(sleep=self._sleep) as client:
                client.should_cancel = self.cancel.is_set  # every request and transfer stops within ~0.05 s
                self.client = client
                if row.kind is Kind.SHARE:
                    self._share()
                else:
                    self._run_stages()
            final = self.j.require(self.sid)
            self.p._post(self.p._ready_event(final))
        except _Cancelled:
            self._stopped()
        except TransferCancelledError:
            self._stopped()
        except Exception as exc:
            if self.cancel.is_set():
                self._stopped()
                return
            failure = classify(self.working, exc)
            log.warning("submission %s failed at %s: %s", self.sid, self.working.value,
                        self.p._scrub(failure.message))
            self.p._fail(self.sid, failure)

    def _stopped(self) -> None:
        if self.stopping:
            return  # Blender is closing: stays active, resumed next time
        self.j.set_state(self.sid, State.CANCELLED)
        self.p._post(Cancelled(self.sid, self.working.value))

    def _row(self) -> SubmissionRow:
        return self.j.require(self.sid)

    def _run_stages(self) -> None:
        row = self._row()
        steps: list[tuple[Stage, Callable[[], None]]] = [
            (Stage.FILES, self._create_files), (Stage.UPLOADED, self._upload),
        ]
        if row.spec.multi_camera:
            steps.append((Stage.VOLUME, self._volume))
        steps += [(Stage.TAKE, self._take), (Stage.JOB, self._job), (Stage.PROCESSED, self._process),
                  (Stage.DOWNLOADED, self._download)]
        for stage, step in steps:
            self._check()
            if self._row().stage.order >= stage.order:
                continue
            self.working = stage
            step()

    # -------------------------------------------------------------------------------------- files

    def _create_files(self) -> None:
        row = self._row()
        files = self.j.files(self.sid)
        if row.spec.multi_camera and row.spec.volume_id:
            files = [f for f in files if f.role == "take"]
        elif row.spec.multi_camera and not row.spec.calibration:
            files = [f for f in files if f.role != "volume"]
        for f in files:
            self._check()
            if f.file_id:
                continue
            path = Path(f.path)
            if not path.is_file():
                raise StageFailure(Stage.FILES, ErrorKind.UPLOAD, f"{path} is missing",
                                   "Put the video back (or remove it from the list and submit again).")
            self._new_file(f.role, f.idx, path)
            self._point(f"file:{f.role}:{f.idx}")
        self._stage_done(Stage.FILES, "Files created")

    def _new_file(self, role: str, idx: int, path: Path) -> tuple[str, str | None]:
        """createFile for one footage; its id is journaled, its upload URL kept in memory only."""
        meta = {**self.tag, "role": role, "index": idx}
        try:
            created = self.client.create_file(path.suffix or "mp4", name=path.name, metadata=meta)
        except OutcomeUnknownError:
            if not FILES_ARE_RECREATED:
                raise
            log.info("submission %s: createFile answer lost; creating the file record again", self.sid)
            created = self.client.create_file(path.suffix or "mp4", name=path.name, metadata=meta)
        if created.presigned_url:
            self.p._upload_urls[(self.sid, role, idx)] = (created.id, created.presigned_url)
        self.j.set_file(self.sid, role, idx, created.id)
        return created.id, created.presigned_url

    def _upload_url(self, role: str, idx: int, file_id: str | None) -> str | None:
        held = self.p._upload_urls.get((self.sid, role, idx))
        return held[1] if held and held[0] == file_id else None

    def _upload(self) -> None:
        files = [f for f in self.j.files(self.sid) if f.file_id]
        total = sum(f.size for f in files) or 1
        base = sum(f.size for f in files if f.uploaded)
        started = time.monotonic()
        sent_before = base
        for f in files:
            if f.uploaded:
                continue
            self._check()
            path = Path(f.path)
            file_id, url = f.file_id, self._upload_url(f.role, f.idx, f.file_id)
            if not path.is_file():
                raise StageFailure(Stage.UPLOADED, ErrorKind.UPLOAD, f"{path} is missing",
                                   "Put the video back, then press Retry.")

            def progress(done: int, size: int, _base: int = base) -> None:
                now_total = _base + done
                elapsed = max(time.monotonic() - started, 1e-6)
                rate = (now_total - sent_before) / elapsed
                frac = now_total / total
                self._progress("upload", frac, f"Uploading {frac * 100:.0f}% - {_fmt_rate(rate)}",
                               now_total, total)

            for attempt in range(2):
                if not url:  # no URL to resume with (a restart, or it expired): a fresh file record
                    orphan = file_id
                    file_id, url = self._new_file(f.role, f.idx, path)
                    if orphan:
                        log.info("submission %s: file %s abandoned before upload, replaced by %s", self.sid,
                                 orphan, file_id)
                assert file_id is not None
                try:
                    self.client.upload(File(id=file_id, presigned_url=url), path, progress=progress,
                                       should_cancel=self.cancel.is_set)
                    break
                except PresignedUrlExpiredError:
                    if attempt:
                        raise
                    url = None
            self.j.mark_uploaded(self.sid, f.role, f.idx)
            self.p._upload_urls.pop((self.sid, f.role, f.idx), None)
            base += f.size
            self._point(f"uploaded:{f.role}:{f.idx}")
        self._progress("upload", 1.0, "Uploaded", total, total, force=True)
        self._stage_done(Stage.UPLOADED, "Uploaded")

    def _volume_sources(self) -> list[Any]:
        """The volume's sources: its footage (calibration footage, else the take's videos) and the user's
        calibration file when there is one (the engine recognises it by its content; Move's cloud calibrates
        from the person only)."""
        spec = self._row().spec
        sources = self._sources("volume" if spec.calibration else "take")
        if spec.calibration_file:
            ids = {f.idx: f.file_id for f in self.j.files(self.sid, "calibration")}
            sources.append(MoveClient.source(str(ids[0]), "calibration", "MOVE"))
        return sources

    def _sources(self, role: str) -> list[Any]:
        row = self._row()
        specs = row.spec.footage if role == "take" else row.spec.calibration
        labels = row.spec.labels() if role == "take" else [f.device_label or f"cam{i + 1:02d}"
                                                            for i, f in enumerate(specs)]
        ids = {f.idx: f.file_id for f in self.j.files(self.sid, role)}
        return [MoveClient.source(str(ids[i]), labels[i], s.path, s.lens or None) for i, s in enumerate(specs)]

    # ----------------------------------------------------------------------- create with reconcile

    def _create_once(self, what: str, create: Callable[[], Any], search: Callable[[], Search]) -> str:
        """Create ``what`` unless a previous attempt may have: a pending create (outcome unknown, journaled
        before sending) is reconciled (``reconcile.py``) and only created again when proven absent, or
        when the user pressed Retry with ``create_anyway``."""
        anyway = self.sid in self.p._create_anyway
        self.p._create_anyway.discard(self.sid)
        while True:
            if getattr(self._row(), f"{what}_pending"):
                if anyway:
                    self.p._post(Notice(self.sid, f"Creating the {what} again as asked, without looking for "
                                                  "the one the server may already have", "WARNING"))
                    log.warning("submission %s: %s created again at the user's request", self.sid, what)
                else:
                    found = self._reconcile(what, search)
                    if found is not None:
                        return str(found.id)
            anyway = False
            self.j.mark_pending(self.sid, what)
            self._point(f"before:{what}")
            try:
                obj = create()
            except OutcomeUnknownError:
                self.p._post(Notice(self.sid, f"The server did not confirm the {what} it was asked to create; "
                                              f"looking for it instead of creating another", "WARNING"))
                continue  # still pending: reconcile
            self._point(f"created:{what}")
            return str(obj.id)

    def _reconcile(self, what: str, search: Callable[[], Search]) -> Any | None:
        policy = ReconcilePolicy(initial=self.cfg.reconcile_delay, maximum=self.cfg.reconcile_max_delay,
                                 settle=self.cfg.reconcile_settle,
                                 confirmations=max(1, self.cfg.reconcile_attempts))

        def report(attempt: int, outcome: str) -> None:
            self._progress(what, 0.0, f"Looking for the {what} on the server (search {attempt + 1}: "
                                      f"{outcome}); not creating another until it is proven absent", force=True)

        found = reconcile(search, policy, sleep=self._sleep, on_search=report)
        if found is not None:
            self.p._post(Notice(self.sid, f"Found the {what} the server created earlier; not creating another"))
            log.info("submission %s: %s %s found by its tag", self.sid, what, found.id)
        else:
            log.info("submission %s: the server has no %s with this tag; creating it", self.sid, what)
        return found

    def _search(self, list_page: Callable[[Any], Any], max_pages: int = 200) -> Search:
        """Every page of a listing, matched on this submission's tag (complete only if the end was reached)."""
        out: list[Any] = []
        after: Any = None
        seen: set[Any] = set()
        for _ in range(max_pages):
            self._check()
            page = list_page(after)
            out += [o for o in page.items if metadata_matches(o.metadata, self.tag)]
            if out or not page.after:
                return Search(out, complete=not page.after or bool(out))
            if page.after in seen:
                return Search(out, complete=False)  # a looping cursor proves nothing
            seen.add(page.after)
            after = page.after
        return Search(out, complete=False)

    def _find_volumes(self) -> Search:
        return self._search(lambda after: self.client.list_volumes(first=50, after=after))

    def _volume(self) -> None:
        row = self._row()
        volume_id = row.volume_id
        if not volume_id and row.spec.volume_id:  # a finished volume reused: checked below, never created
            volume_id = row.spec.volume_id
            self.j.set_id(self.sid, "volume", volume_id)
        elif not volume_id:
            spec = row.spec
            volume_id = self._create_once(
                "volume",
                lambda: self.client.create_volume_with_human(
                    self._volume_sources(), human_height=spec.human_height, area_type=spec.area_type,
                    sync_method=spec.sync_input(), name=f"{spec.name or 'move_mocap'} volume",
                    metadata=self.tag),
                self._find_volumes,
            )
            self.j.set_id(self.sid, "volume", volume_id)
            self._point("id:volume")
        schedule = self._schedule()
        deadline = time.monotonic() + self.cfg.volume_timeout
        while True:
            self._check()
            volume = self.client.get_volume(volume_id)
            state = volume.progress.state if volume.progress and volume.progress.state else volume.state
            pct = (volume.progress.percentage_complete if volume.progress else None) or 0
            if state is not None and state.value == "FINISHED":
                break
            if state is not None and state.value == "FAILED":
                meta = volume.metadata if isinstance(volume.metadata, dict) else {}
                raise StageFailure(Stage.VOLUME, ErrorKind.PROCESSING,
                                   f"calibration failed: {meta.get('error') or 'the volume could not be solved'}",
                                   "Record calibration footage with one person walking through the whole "
                                   "area, visible to every camera, then submit again.")
            if time.monotonic() > deadline:
                raise StageFailure(Stage.VOLUME, ErrorKind.PROCESSING, "calibration did not finish in time")
            self._progress("volume", pct / 100.0, f"Calibrating {pct}%", force=True)
            self._sleep(schedule.next_delay())
        self._stage_done(Stage.VOLUME, "Volume ready")

    def _take(self) -> None:
        row = self._row()
        spec = row.spec
        name = spec.name or Path(spec.footage[0].path).stem
        if spec.multi_camera:
            assert row.volume_id
            volume_id = row.volume_id

            def create() -> Any:
                return self.client.create_multi_cam_take(volume_id, self._sources("take"),
                                                         sync_method=spec.sync_input(), name=name,
                                                         metadata=self.tag)
        else:
            def create() -> Any:
                return self.client.create_single_cam_take(self._sources("take"), name=name, metadata=self.tag)
        take_id = self._create_once(
            "take", create, lambda: self._search(lambda after: self.client.list_takes(first=50, after=after)))
        self._stage_done(Stage.TAKE, "Take created", take_id=take_id, take_pending=0)

    def _job(self) -> None:
        row = self._row()
        spec = row.spec
        assert row.take_id
        take_id = row.take_id
        options = {"mocap_model": spec.model, "track_fingers": spec.track_fingers,
                   "track_ball": spec.track_ball, "floor_plane": spec.floor_plane}
        name = spec.name or Path(spec.footage[0].path).stem
        outputs = list(spec.outputs) or None
        # another person than the main subject: asked in the job's free-JSON metadata (Move's schema unchanged;
        # the local engine honours it, Move's cloud ignores it and _keep_people says so)
        metadata = {**self.tag, PERSON_KEY: int(spec.person)} if spec.person else self.tag

        def create() -> Any:
            if spec.multi_camera:
                return self.client.create_multi_cam_job(
                    take_id, number_of_actors=spec.number_of_actors, options=options, outputs=outputs,
                    clip_window=spec.clip_window, name=name, metadata=metadata)
            return self.client.create_single_cam_job(take_id, options=options, outputs=outputs,
                                                     clip_window=spec.clip_window, name=name, metadata=metadata)

        job_id = self._create_once("job", create, lambda: self._search(
            lambda after: self.client.list_jobs(first=50, after=after, take_id=take_id)))
        self._stage_done(Stage.JOB, "Job created", job_id=job_id, job_pending=0)

    # ------------------------------------------------------------------------------- processing

    def _schedule(self) -> PollSchedule:
        return PollSchedule(initial=self.cfg.poll_initial, factor=self.cfg.poll_factor,
                            maximum=self.cfg.poll_max, after_progress=max(self.cfg.poll_initial, 2.0))

    def _process(self) -> None:
        row = self._row()
        assert row.job_id
        job_id = row.job_id
        schedule = self._schedule()
        errors = 0
        last = -1
        while True:
            self._check()
            try:
                job = self.client.get_job(job_id)
                errors = 0
            except (NetworkError, ServerError, RateLimitError) as exc:
                errors += 1
                if errors >= self.cfg.poll_error_limit:
                    raise
                if isinstance(exc, RateLimitError):
                    schedule.retry_after(exc.retry_after)
                self._sleep(schedule.next_delay())
                continue
            state = job.job_state
            pct = job.percentage_complete or 0
            if state is not None and state.value == "FINISHED":
                break
            if state is not None and state.value == "FAILED":
                if self.sid in self.p._replace_failed_job:  # Retry after the server failed it: a new job
                    self.p._replace_failed_job.discard(self.sid)
                    self.j.set_id(self.sid, "job", None)
                    self.j.set_stage(self.sid, Stage.TAKE)
                    self.working = Stage.JOB
                    self._job()
                    self.working = Stage.PROCESSED
                    job_id = str(self._row().job_id)
                    schedule, errors, last = self._schedule(), 0, -1
                    continue
                meta = job.metadata if isinstance(job.metadata, dict) else {}
                reason = str(meta.get("error") or "the job failed on the server without a reason")
                raise StageFailure(Stage.PROCESSED, ErrorKind.PROCESSING, f"job {job.id}: {reason}")
            self.p._replace_failed_job.discard(self.sid)  # the job is alive: Retry only resumed polling
            if pct != last:
                if last >= 0:
                    schedule.progressed()
                last = pct
                self.j.set_percent(self.sid, pct)
                text = f"Processing {pct}%" if state and state.value != "NOT_STARTED" else "Queued on the server"
                self._progress("processing", pct / 100.0, text, force=True)
            self._sleep(schedule.next_delay())
        self.p._replace_failed_job.discard(self.sid)
        self._stage_done(Stage.PROCESSED, "Processed", percent=100)

    # ------------------------------------------------------------------------------------ download

    def _download(self) -> None:
        row = self._row()
        assert row.job_id
        job_id = row.job_id
        job = self.client.get_job(job_id)
        wanted = {o.upper() for o in row.spec.outputs}
        items = [o for o in job.outputs or () if o is not None and o.key
                 and (not wanted or o.key.upper() in wanted)]
        if not items:
            raise StageFailure(Stage.DOWNLOADED, ErrorKind.DOWNLOAD,
                               f"job {job_id} finished without the outputs asked for ({', '.join(sorted(wanted)) or 'any'})",
                               "Submit again with outputs the server produces (see the server's message).")
        root = Path(row.output_dir or self.cfg.download_dir)
        try:  # every server name checked before the folder is made or a byte written
            safe_paths.check_name(job_id, "job id")
            names = [_output_file_name(item) for item in items]
            for name in names:
                safe_paths.confined(root, job_id, name, what="output path")
            out_dir = safe_paths.make_folder(root, job_id, what="job id")
            dests = [safe_paths.file_in(out_dir, name, root, what="output name") for name in names]
        except safe_paths.UnsafeNameError as exc:
            raise _unsafe(exc) from exc
        outputs = dict(row.outputs)
        for i, (item, dest) in enumerate(zip(items, dests, strict=True)):
            self._check()
            key = str(item.key)
            if key in outputs and dest.is_file():
                continue
            n = len(items)

            def progress(done: int, size: int, _i: int = i, _n: int = n) -> None:
                part = done / size if size > 0 else 0.0
                frac = (_i + part) / _n
                self._progress("download", frac, f"Downloading {frac * 100:.0f}%", done, size)

            self._progress("download", i / n, f"Downloading {i * 100 // n}%", force=True)
            self.client.download_output(job_id, key, dest, progress=progress, should_cancel=self.cancel.is_set)
            outputs[key] = str(dest)
            self.j.set_outputs(self.sid, outputs)
            self._point(f"downloaded:{key}")
        self._keep_people(job.metadata, row.spec, out_dir)
        self._stage_done(Stage.DOWNLOADED, "Ready to apply", state=State.READY.value)

    def _keep_people(self, metadata: Any, spec: Any, out_dir: Path) -> None:
        """The people the job found (validated server JSON; a multi-camera job's asked actors when the server
        says nothing) kept beside its outputs for the panel's actor list. Malformed: a notice, never a failure."""
        try:
            found = people.parse(metadata)
        except people.PeopleError as exc:
            self.p._post(Notice(self.sid, f"Ignored the job's list of people: {exc}", "WARNING"))
            found = None
        if found is None and spec.multi_camera and spec.number_of_actors > 1:
            found = people.numbered(min(spec.number_of_actors, people.MAX_PEOPLE))
        if spec.person:
            captured = found.actors[0].number if found is not None and found.actors else None
            if captured != spec.person:
                did = f"its metadata says it captured person {captured}" if captured else "it lists no people"
                self.p._post(Notice(self.sid, f"The server was asked for person {spec.person} but {did}: the "
                                              "result is its own choice of person (Move's cloud ignores the "
                                              "request; the local engine honours it)", "WARNING"))
        if found is not None:
            people.save(found, out_dir)

    def _share(self) -> None:
        self.working = Stage.DOWNLOADED
        code = self.p._share_codes.get(self.sid)
        if not code:
            raise StageFailure(Stage.DOWNLOADED, ErrorKind.DOWNLOAD, "the share code is no longer known",
                               "Enter the share code again.")
        row = self._row()
        root = Path(row.output_dir or self.cfg.download_dir)
        try:
            out_dir = safe_paths.make_folder(root, f"share-{uuid.uuid4().hex[:8]}", what="share folder")
            tmp = safe_paths.file_in(out_dir, "shared.part.bin", root)
        except safe_paths.UnsafeNameError as exc:
            raise _unsafe(exc) from exc

        def progress(done: int, size: int) -> None:
            frac = done / size if size > 0 else 0.0
            self._progress("download", frac, f"Downloading {frac * 100:.0f}%", done, size)

        self.client.download_share_code(code, tmp, progress=progress, should_cancel=self.cancel.is_set)
        try:
            final = safe_paths.file_in(out_dir, f"shared{_sniff_suffix(tmp)}", root)
        except safe_paths.UnsafeNameError as exc:
            tmp.unlink(missing_ok=True)
            raise _unsafe(exc) from exc
        tmp.replace(final)
        self.p._share_codes.pop(self.sid, None)
        self.j.set_outputs(self.sid, {"SHARED": str(final)})
        self._stage_done(Stage.DOWNLOADED, "Ready to apply", state=State.READY.value)
