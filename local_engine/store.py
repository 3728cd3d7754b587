"""The server's persistent state: one SQLite database under the data directory. No HTTP, no bpy here.

Files, takes, jobs, volumes, share codes and webhook endpoints are stored as JSON documents keyed by
upstream-shaped ids (``file-<uuid>``, ``take-<uuid>``, ``job-<uuid>``, ``volume-<uuid>``); ``seq`` keeps
creation order for paging. Everything survives a restart. Uploaded bytes live next to the database in
``files/`` and are named only by server-made ids, never by anything a client sent.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KINDS = ("file", "take", "job", "volume", "client")


def now_iso() -> str:
    """AWSDateTime as upstream writes it: ``2023-07-10T12:13:56.615715Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(kind)
    return f"{kind}-{uuid.uuid4()}"


class Store:
    """Thread-safe access to the database (one connection, one lock: the load here is tiny)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir = self.data_dir / "files"
        self.files_dir.mkdir(exist_ok=True)
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.data_dir / "state.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS objects (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT UNIQUE NOT NULL,
                kind TEXT NOT NULL,
                parent TEXT,
                data TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS objects_kind ON objects (kind, seq);
            CREATE INDEX IF NOT EXISTS objects_parent ON objects (parent, seq);
            CREATE TABLE IF NOT EXISTS share_codes (
                code TEXT PRIMARY KEY, file_id TEXT NOT NULL, created TEXT NOT NULL, expires REAL NOT NULL
            );
            CREATE TABLE IF NOT EXISTS webhooks (uid TEXT PRIMARY KEY, data TEXT NOT NULL);
            """
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta -------------------------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def meta_or_create(self, key: str, make: Any) -> str:
        with self._lock:
            value = self.meta(key)
            if value is None:
                value = make()
                self.set_meta(key, value)
            return value

    def signing_key(self) -> bytes:
        """The HMAC key for presigned URLs; kept in the database so URLs survive a restart."""
        return bytes.fromhex(self.meta_or_create("signing_key", lambda: secrets.token_hex(32)))

    # -- documents --------------------------------------------------------------------------------------
    def insert(self, kind: str, data: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
        data = dict(data)
        data.setdefault("id", new_id(kind))
        data.setdefault("created", now_iso())
        with self._lock:
            self._db.execute(
                "INSERT INTO objects (id, kind, parent, data) VALUES (?, ?, ?, ?)",
                (data["id"], kind, parent, json.dumps(data)),
            )
        return data

    def get(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM objects WHERE id=? AND kind=?", (obj_id, kind)).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, kind: str, obj_id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            data = self.get(kind, obj_id)
            if data is None:
                raise KeyError(obj_id)
            data.update(changes)
            self._db.execute("UPDATE objects SET data=? WHERE id=?", (json.dumps(data), obj_id))
        return data

    def page(
        self, kind: str, first: int, after: int | None, descending: bool, parent: str | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``first`` documents after cursor ``after`` (a seq); returns them and the next cursor."""
        op = "<" if descending else ">"
        sql = "SELECT seq, data FROM objects WHERE kind=?"
        args: list[Any] = [kind]
        if parent is not None:
            sql += " AND parent=?"
            args.append(parent)
        if after is not None:
            sql += f" AND seq {op} ?"
            args.append(after)
        sql += f" ORDER BY seq {'DESC' if descending else 'ASC'} LIMIT ?"
        args.append(first + 1)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        more = len(rows) > first
        rows = rows[:first]
        return [json.loads(r[1]) for r in rows], (rows[-1][0] if more and rows else None)

    def ids_where(self, kind: str, key: str, values: tuple[str, ...]) -> list[str]:
        """Ids of documents of ``kind`` whose ``data[key]`` is one of ``values`` (creation order)."""
        with self._lock:
            rows = self._db.execute("SELECT id, data FROM objects WHERE kind=? ORDER BY seq", (kind,)).fetchall()
        return [r[0] for r in rows if json.loads(r[1]).get(key) in values]

    # -- share codes and webhooks -----------------------------------------------------------------------
    def add_share_code(self, code: str, file_id: str, expires: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO share_codes (code, file_id, created, expires) VALUES (?, ?, ?, ?)",
                (code, file_id, now_iso(), expires),
            )

    def take_share_code(self, code: str) -> tuple[str, float] | None:
        """The file and expiry of a share code, consuming it (codes are one-time)."""
        with self._lock:
            row = self._db.execute("SELECT file_id, expires FROM share_codes WHERE code=?", (code,)).fetchone()
            if row:
                self._db.execute("DELETE FROM share_codes WHERE code=?", (code,))
        return (row[0], row[1]) if row else None

    def share_code_exists(self, code: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM share_codes WHERE code=?", (code,)).fetchone() is not None

    def upsert_webhook(self, uid: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT data FROM webhooks WHERE uid=?", (uid,)).fetchone()
            merged = {**json.loads(row[0]), **data} if row else {"created": now_iso(), **data}
            self._db.execute("INSERT OR REPLACE INTO webhooks (uid, data) VALUES (?, ?)", (uid, json.dumps(merged)))
        return merged

    def webhooks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute("SELECT data FROM webhooks").fetchall()]
