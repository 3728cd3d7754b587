"""``apply`` (an existing job's or submission's result onto an armature, one actor of a multi-actor result
with ``--actor``) and ``share-code`` (a Move One recording): both end in ``Runtime.apply_now``.

Which result to use: the one downloaded before when its files are still there (``plan.outputs_on_disk``),
else the same job downloaded again through the pipeline's adopt path (never a new job).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

import bpy

from ..core.pipeline.plan import outputs_on_disk
from .errors import RunFailure, UsageError
from .items import Item
from .jobs import find_row
from .runner import apply_item, run_items, save_blend
from .session import Session, item_target, resolve_target


def _action_name(session: Session, args: argparse.Namespace, row: Any) -> str:
    """``--action-name``, else the title of this machine's submission of that job, else the server's job
    name (the take's), else ``job_<id>``; with ``--actor N``, ``_actorN`` after it."""
    journal = session.pipeline.journal
    title_row = next((r for r in journal.all(limit=5000) if r.job_id == args.id and r.kind.value == "submission"),
                     row)
    if args.action_name:
        return str(args.action_name)
    name = title_row.title if title_row is not None else ""
    if not name:
        session.require_network()
        with contextlib.suppress(Exception), session.pipeline.client_factory(sleep=time.sleep) as client:
            name = client.get_job(row.job_id if row is not None and row.job_id else args.id).name or ""
        name = name or f"job_{args.id[:12]}"
    return f"{name}_actor{args.actor}" if args.actor else str(name)


def cmd_apply(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any]) -> None:
    target = resolve_target(args)
    pipeline = session.pipeline
    row = find_row(pipeline.journal, args.id)
    item = Item(args.id, args.action_name or "")
    items.append(item)
    name = item.name = _action_name(session, args, row)
    if row is not None and outputs_on_disk(row):
        item.submission_id, item.mode = row.id, "apply"
        session.console.info(f"{name}: using the result downloaded before ({row.id[:8]})")
    elif row is not None and row.kind.value == "submission" and not row.job_id:
        raise RunFailure(f"submission {row.id} has no job yet ({row.stage.value}); run `process` to resume it")
    else:
        job_id = row.job_id if row is not None and row.job_id else args.id
        session.require_network()
        item.submission_id = pipeline.adopt_job(job_id, name=name, target=item_target(target),
                                                blend_file=bpy.data.filepath, start=False)
        item.created_new = True
        session.console.info(f"{name}: downloading job {job_id}")
    if item.mode == "apply":
        item.started = time.time()
        apply_item(session, item, target, name)
    else:
        run_items(session, [item], target, name=lambda _it: name)
    save_blend(session)


def cmd_share_code(session: Session, args: argparse.Namespace, items: list[Item], extra: dict[str, Any]) -> None:
    code = sys.stdin.readline() if args.code == "-" else args.code
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 8 or any(not (ch.isdigit() or ch in " -") for ch in code.strip()):
        raise UsageError("a share code is the 8 digits shown by the Move One app")
    target = resolve_target(args)
    session.require_network(needs_key=False)
    masked = f"{digits[:2]}****{digits[-2:]}"
    item = Item(f"share code {masked}", args.action_name or f"share_{masked.replace('*', 'x')}")
    items.append(item)
    item.submission_id = session.pipeline.import_share_code(digits, target=item_target(target),
                                                            blend_file=bpy.data.filepath)
    item.created_new = True
    session.console.info(f"{item.name}: downloading the shared recording")
    item.mode = "running"
    run_items(session, [item], target)
    save_blend(session)
