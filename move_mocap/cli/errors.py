"""Exit codes of the move_mocap command line and the two exceptions that end a run early.

Plain Python (no bpy): ``scripts/mocap.py`` and the tests read these too.
"""

from __future__ import annotations

EXIT_OK = 0          # everything asked for succeeded (applied, skipped as already done, or downloaded)
EXIT_FAILURE = 1     # nothing succeeded, or the run could not start (add-on, key, server, unknown id)
EXIT_USAGE = 2       # bad usage: the command line cannot be carried out as written (argparse's code)
EXIT_PARTIAL = 3     # some items succeeded and some failed (see the report)
EXIT_INTERRUPTED = 130

STATUS = {EXIT_OK: "success", EXIT_PARTIAL: "partial", EXIT_USAGE: "usage", EXIT_INTERRUPTED: "interrupted"}


class UsageError(Exception):
    """The command line cannot be carried out (exit 2)."""


class RunFailure(Exception):
    """The run could not start or its one item failed (exit 1); the message is safe to print."""
