"""Helpers for the pipeline tests: a fast-polling pipeline against the local server, and the server's own
record of what was created (read from its database, independent of the client)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from move_mocap.core.api.client import MoveClient
from move_mocap.core.api.retry import RetryPolicy
from move_mocap.core.pipeline import Journal, Pipeline, PipelineConfig, SubmissionSpec
from move_mocap.core.pipeline.model import Footage

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2)


def fast_config(endpoint: str, download_dir: Path) -> PipelineConfig:
    return PipelineConfig(endpoint=endpoint, download_dir=download_dir, poll_initial=0.1, poll_factor=1.3,
                          poll_max=0.5, reconcile_attempts=2, reconcile_delay=0.1, reconcile_settle=0.3,
                          progress_interval=0.02)


def factory(server: Any, retry: RetryPolicy = FAST_RETRY):
    def make(sleep=None) -> MoveClient:
        kw = {"sleep": sleep} if sleep else {}
        return MoveClient(server.api_key, endpoint=server.url, timeout=(5.0, 30.0), retry=retry, **kw)
    return make


def make_pipeline(server: Any, tmp: Path, journal_name: str = "journal.sqlite3", **kw: Any) -> Pipeline:
    journal = Journal(tmp / journal_name)
    return Pipeline(journal, factory(server), fast_config(server.url, tmp / "downloads"), **kw)


def spec_for(video: Path, **kw: Any) -> SubmissionSpec:
    kw.setdefault("outputs", ("MOTION_DATA",))
    kw.setdefault("clip_window", (0.0, 2.0))
    return SubmissionSpec(footage=(Footage(str(video)),), **kw)


def server_objects(server: Any, sid: str) -> dict[str, list[dict[str, Any]]]:
    """Files, takes, volumes and jobs on the server tagged with submission ``sid`` (from its database)."""
    db = sqlite3.connect(f"file:{server.data_dir / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT kind, id, data FROM objects").fetchall()
    finally:
        db.close()
    out: dict[str, list[dict[str, Any]]] = {"file": [], "take": [], "job": [], "volume": []}
    for kind, oid, data in rows:
        doc = json.loads(data)
        meta = doc.get("metadata")
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except ValueError:
                meta = None
        if isinstance(meta, dict) and meta.get("move_mocap_submission") == sid and kind in out:
            out[kind].append({"id": oid, **doc})
    return out


def counts(server: Any, sid: str) -> dict[str, int]:
    """Objects per kind; ``file`` counts files that received bytes (an upload interrupted by a restart
    leaves a never-uploaded record behind, see ``orphan_files``: the journal notes those)."""
    objs = server_objects(server, sid)
    out = {k: len(v) for k, v in objs.items()}
    out["file"] = sum(1 for f in objs["file"] if f.get("uploaded"))
    return out


def orphan_files(server: Any, sid: str) -> set[str]:
    """Ids of the submission's file records on the server that never received bytes."""
    return {f["id"] for f in server_objects(server, sid)["file"] if not f.get("uploaded")}
