"""The one policy for creates whose outcome is unknown (files, takes, jobs, volumes).

A create whose answer never arrived (a read timeout, a connection dropped after the request was sent, a 5xx
after the body was sent, a crash between "sent" and "id journaled") may have been carried out by the
server. Sending it again could make a second job, and on Move's cloud a second job is paid for. So:

- The journal marks the create pending before it is sent (``Journal.mark_pending``); a pending create
  without an id is "outcome unknown", and that state survives restarts: a worker that (re)starts on it
  reconciles, it never creates.
- Reconciling = searching the server for the object by the submission's metadata tag (jobs: within the
  take), with capped exponential backoff, for as long as it takes. Searches that fail for a transient
  reason (network, 5xx, 429, an unreadable answer) prove nothing and are simply repeated.
- The object is **proven absent** (and only then created again) when ``confirmations`` consecutive searches
  that each succeeded and listed every page (the listing reached its end; a truncated or looping listing
  proves nothing) found no match, and every one of them started at least ``settle`` seconds after this
  reconciliation began. The reconciliation begins once the create is known to be lost (right after the
  lost answer, or at the restart that found the create pending), which is after the last moment the create
  could have been sent by this process; ``settle`` is the time a server may still take to act on a request
  it received (twice the default read timeout: 120 s).
- The user may override it: Retry with ``create_anyway`` creates again without searching, with the risk
  (a second, paid job) spelled out by the UI and the CLI.
- Files cannot be searched (the API has no listFiles) and cost nothing: a lost createFile is created again
  and the abandoned record, if any, is noted by the journal as an orphan (``FILES_ARE_RECREATED``).

This module holds the decision only: the caller passes ``search`` (one full listing) and a cancellable
``sleep``. No I/O of its own, no bpy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api.errors import MoveAPIError

FILES_ARE_RECREATED = True
"""A createFile whose answer was lost is sent again (no listFiles upstream; an unused file record is free)."""


@dataclass(frozen=True)
class Search:
    """One listing: the matching objects, and whether every page was read (only then can it prove absence)."""

    found: list[Any]
    complete: bool


@dataclass(frozen=True)
class ReconcilePolicy:
    initial: float = 2.0        # first wait between searches
    factor: float = 2.0
    maximum: float = 60.0       # longest wait between searches
    settle: float = 120.0       # seconds after reconciliation began before an empty search counts as proof
    confirmations: int = 2      # consecutive complete, empty searches (after ``settle``) that prove absence

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum, self.initial * (self.factor ** min(attempt, 60))))


def reconcile(
    search: Callable[[], Search],
    policy: ReconcilePolicy,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
    on_search: Callable[[int, str], None] | None = None,
) -> Any | None:
    """Search until the object is found (returns it) or proven absent (returns None).

    Transient errors from ``search`` (``MoveAPIError.retryable``, or an unreadable answer) are waited out
    with backoff; other errors (a refused key, a validation error) propagate, leaving the create pending so
    that Retry resumes the reconciliation. ``on_search(attempt, outcome)`` reports each search.
    """
    began = clock()
    empty = 0
    attempt = 0
    while True:
        started = clock()
        try:
            result = search()
        except MoveAPIError as exc:
            if not (exc.retryable or type(exc).__name__ == "MalformedResponseError"):
                raise
            result = None
        if result is not None and result.found:
            return result.found[0]
        if result is None:
            outcome = "search failed"
        elif not result.complete:
            outcome = "listing incomplete"
            empty = 0
        elif started - began >= policy.settle:
            empty += 1
            outcome = f"not found ({empty}/{policy.confirmations})"
        else:
            outcome = "not found yet"
        if on_search is not None:
            on_search(attempt, outcome)
        if empty >= policy.confirmations:
            return None
        wait = policy.delay(attempt)
        to_settle = began + policy.settle - clock()
        if 0 < to_settle < wait:
            wait = to_settle  # do not overshoot the moment searches start to count
        sleep(max(wait, 0.0))
        attempt += 1
