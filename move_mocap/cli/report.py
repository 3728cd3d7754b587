"""The JSON report of a command-line run (``--report FILE``, and stdout with ``--json``): every item's ids,
stage, timings and error, the summary and the exit code, with the API key and URL signatures scrubbed.

Writes the report only; reads the journal for each item's ids. No decisions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy

from .console import iso
from .errors import EXIT_FAILURE, STATUS
from .items import OUTCOMES, Item
from .session import Session


def item_report(session: Session, item: Item) -> dict[str, Any]:
    doc: dict[str, Any] = {"input": item.input, "name": item.name, "outcome": item.outcome,
                           "submission_id": item.submission_id or None, "created_new": item.created_new}
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
    doc["timings"] = {"started": iso(item.started), "finished": iso(item.finished),
                      "seconds": round(end - item.started, 3), "stages": dict(item.marks)}
    doc["warnings"] = list(item.warnings)
    doc["error"] = item.error
    return doc


@contextlib.contextmanager
def report_on_exit(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any],
                   result: dict[str, Any]) -> Iterator[None]:
    """Write the report when the run ends, however it ends (``result["code"]`` set by then, else failure)."""
    started = time.time()
    try:
        yield
    finally:
        result.setdefault("code", EXIT_FAILURE)
        doc: dict[str, Any] = {
            "tool": "move_mocap command line", "report_version": 1, "command": args.command,
            "started": iso(started), "finished": iso(time.time()), "seconds": round(time.time() - started, 3),
            "exit_code": result["code"], "status": STATUS.get(result["code"], "failure"),
            "error": result.get("error"), "addon": session.addon,
            "endpoint": session.endpoint or None, "saved": session.saved, "blender": bpy.app.version_string,
        }
        try:
            doc["items"] = [item_report(session, i) for i in items] if session.opened else []
        except Exception as exc:  # a broken journal must not lose the report
            doc["items"] = [{"input": i.input, "outcome": i.outcome, "error": i.error} for i in items]
            doc["report_error"] = f"{type(exc).__name__}: {exc}"
        doc["summary"] = {"total": len(items), "succeeded": sum(i.ok for i in items),
                          "failed": sum(not i.ok for i in items),
                          **{o: n for o in OUTCOMES if (n := sum(i.outcome == o for i in items))}}
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
