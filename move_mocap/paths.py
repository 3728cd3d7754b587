"""Where the add-on keeps its own files (journal, downloads, credentials) on this machine.

Installed as an extension, that is ``bpy.utils.extension_path_user(__package__)``. Run from a checkout as a
plain add-on (the tests, scripts/mocap.py), that call fails, so the folder is Blender's user data folder
``.../datafiles/move_mocap``. ``MOVE_MOCAP_USER_DIR`` overrides both (pipelines, tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy

ENV_USER_DIR = "MOVE_MOCAP_USER_DIR"


_KNOWN: dict[tuple[str, str], Path] = {}  # (override, sub) -> folder already made this session


def user_dir(sub: str = "") -> Path:
    """The add-on's user folder (or a subfolder of it), created when missing (checked with one stat once made)."""
    override = os.environ.get(ENV_USER_DIR, "").strip()
    known = _KNOWN.get((override, sub))
    if known is not None and known.is_dir():
        return known
    path = _make_user_dir(override, sub)
    _KNOWN[(override, sub)] = path
    return path


def _make_user_dir(override: str, sub: str) -> Path:
    if override:
        path = Path(override) / sub if sub else Path(override)
        path.mkdir(parents=True, exist_ok=True)
        return path
    assert __package__
    try:
        return Path(bpy.utils.extension_path_user(__package__, path=sub, create=True))
    except ValueError:  # not installed as an extension
        base = bpy.utils.user_resource("DATAFILES", path="move_mocap", create=True)
        path = Path(base) / sub if sub else Path(base)
        path.mkdir(parents=True, exist_ok=True)
        return path
