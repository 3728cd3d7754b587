"""The command table and one run of the command line: parse, open the session, call the command, turn what
happened into an exit code, print the summary and write the report.

Every command (process, status, list, download, apply, share-code) goes through ``COMMANDS`` with the same
signature; none is special-cased here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .apply import cmd_apply, cmd_share_code
from .args import build_parser, parser_for
from .console import Console
from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, RunFailure, UsageError
from .items import Item, exit_code_for
from .jobs import cmd_download, cmd_list, cmd_status
from .process import cmd_process
from .report import report_on_exit
from .session import Session


@dataclass(frozen=True)
class Command:
    run: Callable[..., None]  # (session, args, items, extra)
    exit_from_items: bool = True  # else success unless it raised (a listing has no items)


COMMANDS: dict[str, Command] = {
    "process": Command(cmd_process), "status": Command(cmd_status), "list": Command(cmd_list, False),
    "download": Command(cmd_download), "apply": Command(cmd_apply), "share-code": Command(cmd_share_code),
}


def run(argv: list[str], *, prog: str = "blender -c move_mocap", script: bool = False,
        source: str = "installed") -> int:
    """One run with ``argv`` (the arguments after the command id); returns the exit code. ``script``: the
    scripts/mocap.py form (its ``--addon`` flag); ``source``: where the add-on came from, for the report."""
    parser = build_parser(prog, script=script)
    try:
        args = parser.parse_args(argv)  # bad usage: exit 2; --help: exit 0
    except SystemExit as exc:  # a registered command must return its code, not leave Blender from inside
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    console = Console(args.quiet)
    session = Session(args, console, source)
    items: list[Item] = []
    extra: dict[str, Any] = {}
    result: dict[str, Any] = {}
    command = COMMANDS[args.command]
    try:
        with report_on_exit(session, args, items, extra, result):
            try:
                session.open()
                command.run(session, args, items, extra)
                result["code"] = exit_code_for(items) if command.exit_from_items else EXIT_OK
            except UsageError as exc:
                result["code"] = EXIT_USAGE
                result["error"] = session.scrub(str(exc))
                parser_for(parser, args.command).print_usage(sys.stderr)
                console.error(result["error"])
            except RunFailure as exc:
                result["code"] = EXIT_FAILURE
                result["error"] = session.scrub(str(exc))
                console.error(result["error"])
            except KeyboardInterrupt:
                result["code"] = EXIT_INTERRUPTED
                result["error"] = "interrupted; run the same command again to resume"
                for item in items:
                    if item.outcome == "pending":
                        item.outcome = "interrupted"
                console.error(result["error"])
            finally:
                session.close()
    except Exception as exc:  # a bug: still no secret on stderr
        console.error(f"unexpected {type(exc).__name__}: {session.scrub(str(exc))}")
        raise
    if items and result["code"] != EXIT_USAGE:
        good = sum(i.ok for i in items)
        console.info(f"done: {good}/{len(items)} succeeded (exit {result['code']})")
    return int(result["code"])
