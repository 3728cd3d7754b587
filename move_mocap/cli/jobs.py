"""``status``, ``list`` and ``download``: what the journal and the server know about submissions and jobs,
and a job's outputs fetched into a folder (through the pipeline's adopt path: safe names, no new job).

Reads and prints; the one write is ``download``'s files, made by the pipeline's worker.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..core import people
from ..core.pipeline.failures import classify
from ..core.pipeline.model import Stage
from ..core.pipeline.plan import outputs_on_disk
from ..core.pipeline.runner import TAG_KEY
from .console import iso
from .errors import RunFailure, UsageError
from .items import Item
from .runner import run_items
from .session import Session


def find_row(journal: Any, ident: str) -> Any:
    """The journal's row for a submission id, a job id, or a unique prefix of a submission id (>= 6 chars)."""
    row = journal.get(ident) or journal.by_job(ident)
    if row is None and len(ident) >= 6:
        matches = [r for r in journal.all(limit=100_000) if r.id.startswith(ident)]
        if len(matches) > 1:
            raise UsageError(f"{ident!r} matches {len(matches)} submissions; give more characters")
        row = matches[0] if matches else None
    return row


def job_doc(job: Any) -> dict[str, Any]:
    """A server job as the report and the listing show it."""
    meta = job.metadata if isinstance(job.metadata, dict) else {}
    state = job.job_state
    return {"id": job.id, "name": job.name or "", "state": state.value if state else "",
            "percent": job.percentage_complete or 0, "created": job.created.isoformat() if job.created else "",
            "submission": str(meta.get(TAG_KEY, "")), "error": str(meta.get("error", "")),
            "outputs": sorted(str(o.key) for o in job.outputs or () if o is not None and o.key)}


def cmd_status(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any]) -> None:
    pipeline = session.pipeline
    row = find_row(pipeline.journal, args.id)
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
            with pipeline.client_factory(sleep=time.sleep) as client:
                server = job_doc(client.get_job(job_id))
        except Exception as exc:
            server_error = session.scrub(classify(Stage.PROCESSED, exc).message)
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
        print("\n".join(_status_lines(row, server, server_error)))


def _status_lines(row: Any, server: dict[str, Any] | None, server_error: str) -> list[str]:
    lines = []
    if row is not None:
        lines.append(f"submission {row.id}  {row.title}  stage={row.stage.value} state={row.state.value}  "
                     f"job={row.job_id or '-'}" + (f"  volume={row.volume_id}" if row.volume_id else ""))
        if row.error_message:
            lines.append(f"  error ({row.error_kind}): {row.error_message}")
        if row.applied_to:
            lines.append(f"  applied to {row.applied_to} as {row.applied_action}")
        for key, path in sorted(row.outputs.items()):
            lines.append(f"  {key}: {path}")
        lines += people_lines(row)
    if server is not None:
        lines.append(f"job {server['id']}  {server['name']}  {server['state']} {server['percent']}%"
                     + (f"  error: {server['error']}" if server["error"] else ""))
    elif server_error:
        lines.append(f"server: {server_error}")
    return lines


def people_lines(row: Any) -> list[str]:
    """The people the submission's job listed (kept beside its outputs), each captured actor or only seen, with
    how to capture one only seen; none when the server listed nobody (Move's cloud lists no people)."""
    found = people.load(Path(next(iter(row.outputs.values()))).parent) if row.outputs else None
    if found is None or len(found.persons) < 2:
        return []
    lines = [f"  people found: {len(found.persons)} ({len(found.actors)} captured)"]
    for p in found.persons:
        who = f"actor {p.actor}" if p.actor is not None else "seen, not captured"
        lines.append(f"    person {p.number}: {who}; {p.summary()}")
    if not row.spec.multi_camera and row.take_id and len(found.actors) < len(found.persons):
        lines.append("  capture another of them instead: process the same video with the same options and "
                     "--person N (a new job on this take)")
    return lines


def cmd_list(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any]) -> None:
    pipeline = session.pipeline
    rows = pipeline.journal.all(limit=args.limit)
    local = [{"submission_id": r.id, "title": r.title, "kind": r.kind.value, "stage": r.stage.value,
              "state": r.state.value, "job_id": r.job_id, "take_id": r.take_id, "volume_id": r.volume_id,
              "created": iso(r.created), "applied_to": r.applied_to, "applied_action": r.applied_action,
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
                    session.runtime.handle(event, auto_apply=False)
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


def cmd_download(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any]) -> None:
    pipeline = session.pipeline
    journal = pipeline.journal
    item = Item(args.job_id, args.job_id)
    items.append(item)
    want_dir = Path(args.to).resolve() if args.to else None
    row = journal.by_job(args.job_id)
    if (row is not None and outputs_on_disk(row)
            and (want_dir is None or all(Path(p).resolve().is_relative_to(want_dir) for p in row.outputs.values()))):
        item.submission_id, item.outcome, item.finished = row.id, "downloaded", time.time()
        session.console.info(f"{args.job_id}: already downloaded to {Path(next(iter(row.outputs.values()))).parent}")
        return
    session.require_network()
    if want_dir is not None:
        session.override_download_dir(want_dir)
        pipeline = session.pipeline  # follows the new folder
    item.submission_id = pipeline.adopt_job(args.job_id, name=f"Job {args.job_id[:8]}", start=False)
    item.created_new = True
    args.no_apply = True
    args.actor = None
    args.keep_source = False
    run_items(session, [item], None)
    if item.ok:
        row = journal.require(item.submission_id)
        for key, path in sorted(row.outputs.items()):
            print(f"{key}\t{path}")
