"""The add-on's command line, ``blender -c move_mocap <command> ...``: process videos (one camera or several),
check, list, download and apply jobs, import share codes, without a UI (a folder of takes overnight, a
render-farm task, a CI check). ``scripts/mocap.py`` runs the same code for ``blender -b --python`` and the bpy
module.

It drives the add-on's own pieces, never copies of them: the session's ``Pipeline`` and journal
(``capture.runtime.RUNTIME``), the resubmission policy (``core.pipeline.plan``), the output registry
(``core.outputs``), ``RetargetOptions`` built from the flags (``session.retarget_options``), and the one apply
path (``Runtime.apply_now``: the importer and the retarget engine). The package holds argument parsing
(``args``), the run's session (``session``), progress lines (``console``), the items and exit codes
(``items``, ``errors``), waiting and applying (``runner``), the report (``report``), one module per command
group (``process``, ``jobs``, ``apply``) and the command table (``app``).

Command id: Blender's ``-c`` ids are one global namespace (a second registration of an id makes it
unusable), so the id is the add-on's own name, ``move_mocap``. The API key comes from the add-on's
preferences, ``MOVE_API_KEY`` or ``--api-key-file``, never from an argument, and never reaches stderr, the
report or a .blend. Heavy modules are imported when a command runs, not when the add-on registers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bpy

COMMAND_ID = "move_mocap"
CLASSES: tuple[type, ...] = ()
_handles: list[Any] = []


def execute(argv: list[str]) -> int:
    """What ``blender -c move_mocap ARGS`` calls with ARGS; returns the exit code (see ``errors``)."""
    from .app import run

    return run(list(argv), source="installed" if __package__.startswith("bl_ext.") else "repo")


def register_extra() -> None:
    # the API stubs type it as returning None; Blender returns the handle unregister_cli_command takes
    register: Callable[[str, Callable[[list[str]], int]], Any] = bpy.utils.register_cli_command
    if not _handles:
        _handles.append(register(COMMAND_ID, execute))


def unregister_extra() -> None:
    while _handles:
        bpy.utils.unregister_cli_command(_handles.pop())
