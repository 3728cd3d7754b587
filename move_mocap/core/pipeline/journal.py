"""The durable journal of submissions: every server id is written (and fsynced by SQLite) before the next
stage starts, so a crash or restart resumes without a second file, take or job.

One SQLite file in the add-on's user folder (the path is injected: this module never asks Blender where
that is). Safe to use from several threads (one connection, one lock) and several processes (WAL, busy
timeout). Never stores the API key nor any presigned URL (a signed URL is a capability: the runner keeps
upload URLs in memory only; an upload interrupted by a restart gets a fresh file record, and the record
left behind is noted in ``files.orphans``). Journals written by older versions are scrubbed of the upload
URLs they held when opened (``secure_delete`` overwrites the freed pages). No bpy here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .model import KEY_FIELD, Kind, Stage, State, SubmissionSpec

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    endpoint TEXT NOT NULL,
    spec TEXT NOT NULL,
    stage TEXT NOT NULL,
    state TEXT NOT NULL,
    volume_id TEXT, volume_pending INTEGER NOT NULL DEFAULT 0,
    take_id TEXT, take_pending INTEGER NOT NULL DEFAULT 0,
    job_id TEXT, job_pending INTEGER NOT NULL DEFAULT 0,
    percent INTEGER NOT NULL DEFAULT 0,
    error_stage TEXT, error_kind TEXT, error_message TEXT, error_hint TEXT,
    output_dir TEXT,
    outputs TEXT NOT NULL DEFAULT '{}',
    applied_to TEXT, applied_action TEXT, applied_at REAL
);
CREATE TABLE IF NOT EXISTS files (
    submission_id TEXT NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    idx INTEGER NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    file_id TEXT,
    upload_url TEXT,                       -- unused: older versions kept presigned URLs here (scrubbed)
    uploaded INTEGER NOT NULL DEFAULT 0,
    orphans TEXT NOT NULL DEFAULT '[]',    -- server file ids created for this row and abandoned unuploaded
    PRIMARY KEY (submission_id, role, idx)
);
"""

_IDS = ("volume", "take", "job")


@dataclass(frozen=True)
class FileRow:
    submission_id: str
    role: str  # "take", "volume" (calibration footage) or "calibration" (a calibration file)
    idx: int
    path: str
    size: int
    file_id: str | None
    uploaded: bool
    orphans: tuple[str, ...] = ()  # file records created for this footage and abandoned before any upload


@dataclass(frozen=True)
class SubmissionRow:
    id: str
    kind: Kind
    created: float
    updated: float
    endpoint: str
    spec: SubmissionSpec
    stage: Stage
    state: State
    volume_id: str | None
    volume_pending: bool
    take_id: str | None
    take_pending: bool
    job_id: str | None
    job_pending: bool
    percent: int
    error_stage: str | None
    error_kind: str | None
    error_message: str | None
    error_hint: str | None
    output_dir: str | None
    outputs: dict[str, str]
    applied_to: str | None
    applied_action: str | None
    applied_at: float | None

    @property
    def title(self) -> str:
        if self.spec.name:
            return self.spec.name
        if self.spec.footage:
            return Path(self.spec.footage[0].path).stem
        return self.job_id or self.id[:8]


class Journal:
    """SQLite journal at ``path`` (created with its folder, mode 0600)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        if fresh:
            try:
                os.chmod(self.path, 0o600)
            except OSError:
                pass
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)
            self._migrate()
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _migrate(self) -> None:
        """Bring a journal of an older version up to date: add ``files.orphans``, drop stored upload URLs."""
        cols = {r["name"] for r in self._db.execute("PRAGMA table_info(files)")}
        if "orphans" not in cols:
            self._db.execute("ALTER TABLE files ADD COLUMN orphans TEXT NOT NULL DEFAULT '[]'")
        cur = self._db.execute("UPDATE files SET upload_url=NULL WHERE upload_url IS NOT NULL")
        if cur.rowcount:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------------------------------ create

    def create(self, spec: SubmissionSpec, *, endpoint: str, output_dir: str, kind: Kind = Kind.SUBMISSION,
               submission_id: str | None = None, job_id: str | None = None) -> str:
        """A new submission (and its file rows); returns its id (a uuid, also its server metadata tag)."""
        with self._tx() as db:
            return self._insert(db, spec, endpoint=endpoint, output_dir=output_dir, kind=kind,
                                submission_id=submission_id, job_id=job_id)

    def create_once(self, spec: SubmissionSpec, key: str, *, endpoint: str, output_dir: str) -> tuple[str, bool]:
        """The submission journaled under ``key`` for ``endpoint`` (newest), else a new one stored with it.

        Returns (id, created). Lookup and insert run in one write transaction, so two processes running
        the same batch at once still make one submission per key.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT id FROM submissions WHERE endpoint=? AND json_extract(spec, '$.extra." + KEY_FIELD
                + "')=? ORDER BY created DESC LIMIT 1", (endpoint, key)).fetchone()
            if row is not None:
                return str(row["id"]), False
            keyed = replace(spec, extra={**spec.extra, KEY_FIELD: key})
            return self._insert(db, keyed, endpoint=endpoint, output_dir=output_dir), True

    def find_by_key(self, key: str, *, endpoint: str | None = None) -> SubmissionRow | None:
        """The newest submission journaled under ``key`` (see ``model.submission_key``), or None."""
        sql = "SELECT * FROM submissions WHERE json_extract(spec, '$.extra." + KEY_FIELD + "')=?"
        args: list[Any] = [key]
        if endpoint is not None:
            sql += " AND endpoint=?"
            args.append(endpoint)
        with self._lock:
            row = self._db.execute(sql + " ORDER BY created DESC LIMIT 1", args).fetchone()
        return _submission(row) if row else None

    @staticmethod
    def _insert(db: sqlite3.Connection, spec: SubmissionSpec, *, endpoint: str, output_dir: str,
                kind: Kind = Kind.SUBMISSION, submission_id: str | None = None, job_id: str | None = None) -> str:
        sid = submission_id or uuid.uuid4().hex
        now = time.time()
        stage = Stage.JOB if job_id else Stage.TAKE if spec.take_id else Stage.NEW
        db.execute(
            "INSERT INTO submissions (id, kind, created, updated, endpoint, spec, stage, state, job_id, "
            "take_id, output_dir) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (sid, kind.value, now, now, endpoint, spec.to_json(), stage.value, State.ACTIVE.value, job_id,
             spec.take_id or None, output_dir),
        )
        if kind is Kind.SUBMISSION and not spec.take_id:  # a take reused: its videos are on the server
            rows = [("take", i, f.path) for i, f in enumerate(spec.footage)]
            rows += [("volume", i, f.path) for i, f in enumerate(spec.calibration)]
            if spec.calibration_file:
                rows.append(("calibration", 0, spec.calibration_file))
            for role, idx, path in rows:
                try:
                    size = Path(path).stat().st_size
                except OSError:
                    size = 0
                db.execute("INSERT INTO files (submission_id, role, idx, path, size) VALUES (?,?,?,?,?)",
                           (sid, role, idx, path, size))
        return sid

    # ------------------------------------------------------------------------------------------- read

    def get(self, sid: str) -> SubmissionRow | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM submissions WHERE id=?", (sid,)).fetchone()
        return _submission(row) if row else None

    def require(self, sid: str) -> SubmissionRow:
        row = self.get(sid)
        if row is None:
            raise KeyError(f"no submission {sid} in the journal")
        return row

    def all(self, *, states: tuple[State, ...] | None = None, limit: int = 500) -> list[SubmissionRow]:
        sql = "SELECT * FROM submissions"
        args: list[Any] = []
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args += [s.value for s in states]
        sql += " ORDER BY created DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_submission(r) for r in rows]

    def unfinished(self) -> list[SubmissionRow]:
        """Submissions a worker should be running (state active), oldest first."""
        return sorted(self.all(states=(State.ACTIVE,)), key=lambda r: r.created)

    def by_job(self, job_id: str) -> SubmissionRow | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM submissions WHERE job_id=? ORDER BY created DESC LIMIT 1",
                                   (job_id,)).fetchone()
        return _submission(row) if row else None

    def files(self, sid: str, role: str | None = None) -> list[FileRow]:
        sql = "SELECT * FROM files WHERE submission_id=?"
        args: list[Any] = [sid]
        if role:
            sql += " AND role=?"
            args.append(role)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY role DESC, idx", args).fetchall()
        return [FileRow(r["submission_id"], r["role"], r["idx"], r["path"], r["size"], r["file_id"],
                        bool(r["uploaded"]), tuple(json.loads(r["orphans"] or "[]"))) for r in rows]

    # ------------------------------------------------------------------------------------------ write

    def _update(self, sid: str, **values: Any) -> None:
        values["updated"] = time.time()
        cols = ", ".join(f"{k}=?" for k in values)
        with self._tx() as db:
            cur = db.execute(f"UPDATE submissions SET {cols} WHERE id=?", (*values.values(), sid))
            if cur.rowcount != 1:
                raise KeyError(f"no submission {sid} in the journal")

    def set_stage(self, sid: str, stage: Stage, **values: Any) -> None:
        self._update(sid, stage=stage.value, **values)

    def set_state(self, sid: str, state: State) -> None:
        self._update(sid, state=state.value)

    def set_percent(self, sid: str, percent: int) -> None:
        self._update(sid, percent=int(percent))

    def mark_pending(self, sid: str, what: str) -> None:
        """Record that a create call for ``what`` (volume/take/job) is about to be sent."""
        assert what in _IDS
        self._update(sid, **{f"{what}_pending": 1})

    def set_id(self, sid: str, what: str, value: str | None) -> None:
        """Record a server id (or clear it: a failed job is replaced on retry)."""
        assert what in _IDS
        self._update(sid, **{f"{what}_id": value, f"{what}_pending": 0})

    def set_file(self, sid: str, role: str, idx: int, file_id: str) -> None:
        """Record the server's file id for this footage; a previous id not yet uploaded becomes an orphan."""
        with self._tx() as db:
            row = db.execute("SELECT file_id, uploaded, orphans FROM files WHERE submission_id=? AND role=? "
                             "AND idx=?", (sid, role, idx)).fetchone()
            orphans = json.loads(row["orphans"] or "[]") if row else []
            if row and row["file_id"] and row["file_id"] != file_id and not row["uploaded"]:
                orphans.append(row["file_id"])
            db.execute("UPDATE files SET file_id=?, upload_url=NULL, uploaded=0, orphans=? WHERE submission_id=? "
                       "AND role=? AND idx=?", (file_id, json.dumps(orphans), sid, role, idx))

    def mark_uploaded(self, sid: str, role: str, idx: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE files SET uploaded=1, upload_url=NULL WHERE submission_id=? AND role=? AND idx=?",
                       (sid, role, idx))

    def fail(self, sid: str, stage: Stage, kind: str, message: str, hint: str) -> None:
        self._update(sid, state=State.FAILED.value, error_stage=stage.value, error_kind=kind,
                     error_message=message, error_hint=hint)

    def clear_error(self, sid: str) -> None:
        self._update(sid, state=State.ACTIVE.value, error_stage=None, error_kind=None, error_message=None,
                     error_hint=None)

    def set_outputs(self, sid: str, outputs: dict[str, str]) -> None:
        self._update(sid, outputs=json.dumps(outputs, sort_keys=True))

    def record_applied(self, sid: str, target: str, action: str) -> None:
        self._update(sid, stage=Stage.APPLIED.value, state=State.DONE.value, applied_to=target,
                     applied_action=action, applied_at=time.time(), error_stage=None, error_kind=None,
                     error_message=None, error_hint=None)

    def delete(self, sid: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM files WHERE submission_id=?", (sid,))
            db.execute("DELETE FROM submissions WHERE id=?", (sid,))


def _submission(r: sqlite3.Row) -> SubmissionRow:
    return SubmissionRow(
        id=r["id"], kind=Kind(r["kind"]), created=r["created"], updated=r["updated"], endpoint=r["endpoint"],
        spec=SubmissionSpec.from_json(r["spec"]), stage=Stage(r["stage"]), state=State(r["state"]),
        volume_id=r["volume_id"], volume_pending=bool(r["volume_pending"]),
        take_id=r["take_id"], take_pending=bool(r["take_pending"]),
        job_id=r["job_id"], job_pending=bool(r["job_pending"]), percent=r["percent"],
        error_stage=r["error_stage"], error_kind=r["error_kind"], error_message=r["error_message"],
        error_hint=r["error_hint"], output_dir=r["output_dir"], outputs=json.loads(r["outputs"] or "{}"),
        applied_to=r["applied_to"], applied_action=r["applied_action"], applied_at=r["applied_at"],
    )
