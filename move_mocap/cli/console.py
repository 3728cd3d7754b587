"""Human-readable progress of a command-line run, on stderr, with the API key scrubbed from every line.

Printing only: no bpy, no decisions.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime


def iso(t: float | None) -> str | None:
    """A Unix time as an ISO-8601 UTC string for the report (None stays None)."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if t else None


class Console:
    """Progress lines ``[mocap HH:MM:SS] ...`` on stderr; ``quiet`` keeps only errors."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.scrub: Callable[[str], str] = lambda text: text

    def info(self, text: str) -> None:
        if not self.quiet:
            self._write(text)

    def error(self, text: str) -> None:
        self._write(f"error: {text}")

    def _write(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[mocap {stamp}] {self.scrub(text)}", file=sys.stderr, flush=True)
