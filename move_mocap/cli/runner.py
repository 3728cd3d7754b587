"""Following submissions to the end on the main thread: start at most ``--jobs`` at once, print their events,
hand each finished one to the command's apply step one at a time, honour ``--timeout``; and that apply step
(``apply_item``), which goes through the add-on's one apply path, ``Runtime.apply_now``.

Threading as in the add-on: pipeline workers upload and poll in parallel; this (main) thread alone imports.
What it must not do: decide skip / re-apply / retry (``core.pipeline.plan`` does) or import by itself.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy

from ..core.outputs import pick_applicable
from .items import Item
from .session import Session


def deadline(args: Any) -> float | None:
    return time.monotonic() + args.timeout if args.timeout else None


def apply_item(session: Session, item: Item, target: Any, action_name: str) -> None:
    """Import the submission's best output onto ``target`` (main thread) through ``Runtime.apply_now`` (which
    journals it), and note the outcome on ``item``. With ``--no-apply``: downloaded is enough."""
    args = session.args
    row = session.pipeline.journal.require(item.submission_id)
    if getattr(args, "no_apply", False):
        picked = pick_applicable(row.outputs)
        if picked is not None:
            item.outcome = "downloaded"
            item.finished = time.time()
            session.console.info(f"{item.name}: downloaded {', '.join(sorted(row.outputs))} to "
                                 f"{Path(picked[1]).parent}")
            return
    t0 = time.time()  # (with nothing applicable, apply_now records why and fails, --no-apply or not)
    applied = session.runtime.apply_now(row.id, target, options=session.retarget, action_name=action_name,
                                        actor=getattr(args, "actor", None),
                                        keep_source=getattr(args, "keep_source", False),
                                        new_armature_name=action_name)
    if not applied.ok:
        message = session.scrub(applied.message)
        item.fail("applied", "apply", message, applied.hint)
        session.console.error(f"{item.name}: {message}")
        return
    result = applied.result
    item.armature, item.action = result.armature.name, result.action.name
    item.warnings += [session.scrub(w) for w in result.warnings]
    if item.outcome != "reapplied":
        item.outcome = "applied"
    item.mark("applied")
    item.finished = time.time()
    retarget = getattr(result, "retarget_summary", "")
    session.console.info(f"{item.name}: applied to {item.armature} as action {item.action!r} "
                         f"({time.time() - t0:.1f} s import)" + (f"; retarget {retarget}" if retarget else ""))


def save_blend(session: Session) -> None:
    """``--save FILE``: save the open .blend there (the API key is never in it)."""
    path_text = getattr(session.args, "save", None)
    if not path_text:
        return
    path = Path(path_text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(path), check_existing=False)
    session.saved = str(path)
    session.console.info(f"saved {path}")


class Runner:
    """Starts at most ``jobs`` submissions at once, follows their events and applies results one by one."""

    def __init__(self, session: Session, jobs: int, until: float | None) -> None:
        self.session = session
        self.pipeline = session.pipeline
        self.jobs = jobs
        self.deadline = until
        self.by_sid: dict[str, Item] = {}
        self.create_anyway = False  # Retry with create_anyway (process --create-anyway)

    def _event(self, event: Any) -> None:
        self.session.runtime.handle(event, auto_apply=False)  # keep the panel's views current
        item = self.by_sid.get(event.submission_id)
        if item is None:
            return
        kind = type(event).__name__
        say = self.session.console.info
        if kind == "StageChanged":
            item.mark(event.stage)
            if event.stage != "applied":  # said by apply_item itself
                say(f"{item.name}: {event.text or event.stage}")
        elif kind == "Progress":
            step = int(event.fraction * 4)  # a line per quarter of each stage
            if item.shown.get(event.stage, -1) < step:
                item.shown[event.stage] = step
                say(f"{item.name}: {event.text}")
        elif kind == "Failed":
            say(f"{item.name}: {event.kind.capitalize()} failed: {event.message}")
        elif kind == "Notice":
            say(f"{item.name}: {event.text}")

    def run(self, queue_: list[Item], on_ready: Callable[[Item], None]) -> None:
        pending = deque(queue_)
        running: dict[str, Item] = {}
        ready: deque[Item] = deque()
        for item in queue_:
            self.by_sid[item.submission_id] = item
        pipeline = self.pipeline
        while pending or running or ready:
            while pending and len(running) < self.jobs:
                item = pending.popleft()
                item.started = time.time()
                if item.mode == "apply":
                    ready.append(item)
                    continue
                if item.mode == "retry" or (item.mode == "start" and self.create_anyway):
                    pipeline.retry(item.submission_id, create_anyway=self.create_anyway)
                elif item.mode != "running":  # "running": started by the command (a share code's worker)
                    pipeline.start(item.submission_id)
                running[item.submission_id] = item
            for event in pipeline.drain(wait=0.0 if ready else 0.1):
                self._event(event)
            for sid, item in list(running.items()):
                if pipeline.is_running(sid):
                    continue
                for event in pipeline.drain():
                    self._event(event)
                del running[sid]
                self._finished(item, pipeline.journal.require(sid), ready)
            if ready:
                on_ready(ready.popleft())
            if self.deadline is not None and time.monotonic() > self.deadline and (running or pending):
                self._give_up([*running.values(), *pending])
                pending.clear()
                running.clear()
        while ready:
            on_ready(ready.popleft())

    @staticmethod
    def _finished(item: Item, row: Any, ready: deque[Item]) -> None:
        if row.state.value in ("ready", "done"):
            item.mark("downloaded")
            ready.append(item)
        elif row.state.value == "failed":
            item.fail(row.error_stage or "", row.error_kind or "", row.error_message or "", row.error_hint or "")
        else:  # cancelled, or still active (stopped): resumable
            item.fail(row.stage.value, "cancelled", f"stopped at {row.stage.value}",
                      "Run the same command again to resume.", outcome="interrupted")

    def _give_up(self, items: list[Item]) -> None:
        for item in items:
            item.fail((item.marks and max(item.marks, key=item.marks.__getitem__)) or "queued", "timeout",
                      "gave up waiting (--timeout); the work goes on on the server",
                      "Run the same command again: it resumes without a second job.", outcome="timeout")
        self.session.console.error(f"--timeout reached: {len(items)} item(s) left unfinished (resumable)")
        self.pipeline.shutdown(timeout=5.0)


def run_items(session: Session, items: list[Item], target: Any, *, jobs: int = 1,
              name: Callable[[Item], str] = lambda it: it.name, create_anyway: bool = False) -> None:
    """Follow ``items`` to the end and apply each onto ``target`` as it becomes ready."""
    runner = Runner(session, jobs, deadline(session.args))
    runner.create_anyway = create_anyway
    runner.run(items, lambda it: apply_item(session, it, target, name(it)))
