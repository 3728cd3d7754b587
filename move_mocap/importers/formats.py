"""Which importer kind a file is, from its extension and its first bytes (the kinds, extensions and magic
come from ``core.outputs``; nothing is parsed beyond a sniff). Must not import bpy."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..core.outputs import (
    BVH,
    FILTER_GLOB,
    GLB,
    IMPORTER_BY_SUFFIX,
    IMPORTER_KINDS,
    MAIN_BLEND,
    MAIN_FBX,
    MOTION_DATA,
    sniff,
)

__all__ = ["BVH", "FILTER_GLOB", "GLB", "KINDS", "MAIN_BLEND", "MAIN_FBX", "MOTION_DATA", "FormatError", "detect",
           "sniff"]

KINDS = IMPORTER_KINDS


class FormatError(ValueError):
    """Unknown or mismatched format; the message says what was expected."""


def detect(path: str | Path, kind: str | None = None) -> str:
    """The kind of ``path`` (one of :data:`KINDS`); ``kind`` forces one (checked against the content)."""
    path = Path(path)
    if kind is not None and kind not in KINDS:
        raise FormatError(f"Unknown output kind {kind!r}; use one of {', '.join(KINDS)}")
    try:
        with path.open("rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise FormatError(f"{path.name}: cannot be read ({exc.strerror or exc}); check the path and permissions") from exc
    if not head:
        raise FormatError(f"{path.name} is empty; the download may have failed: download it again")
    by_content = sniff(head)
    by_ext = IMPORTER_BY_SUFFIX.get(path.suffix.lower())
    if by_content == MOTION_DATA and head.startswith(b"PK") and not _zip_has_json(path):
        by_content = None
    if kind is not None:
        if by_content is not None and by_content != kind:
            raise FormatError(f"{path.name} looks like {by_content}, not {kind}; import it as {by_content}")
        return kind
    if by_content is not None:
        if by_ext is not None and by_ext != by_content and not (by_ext == GLB and by_content == MOTION_DATA):
            raise FormatError(f"{path.name} has a {path.suffix} name but holds {by_content} data; rename it "
                              f"or choose the kind {by_content}")
        return by_content
    expected = by_ext or "one of " + ", ".join(sorted(IMPORTER_BY_SUFFIX))
    raise FormatError(f"{path.name}: unknown format (expected {expected}); Move outputs are FBX, .blend, "
                      "MOTION_DATA JSON (or a zip of it), BVH and GLB")


def _zip_has_json(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.lower().endswith(".json") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
