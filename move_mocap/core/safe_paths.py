"""The one gate where names a server sends (job, take, volume and file ids, output keys, formats) become
file-system paths.

A name passes only if it is plain ASCII from a strict set (letters, digits, ``-``, ``_``, ``.`` not leading
or trailing), of bounded length and not a Windows device name; a path built from such names passes only if,
with every symlink resolved, it lies inside the download folder. The checks run before any folder is made
or any byte written (``confined`` makes nothing; ``make_folder`` makes the folder after the check and checks
again). Refusals raise :class:`UnsafeNameError` whose message names the offending value (escaped, shortened).
No bpy, no network.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MAX_NAME = 128
MAX_EXTENSION = 12

_NAME = re.compile(r"[A-Za-z0-9_-](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?")
_EXTENSION = re.compile(rf"[a-z0-9]{{1,{MAX_EXTENSION}}}")
# Names Windows maps to devices whatever their extension ("nul.fbx" is the null device).
_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


class UnsafeNameError(ValueError):
    """A server-supplied name cannot be used as a file name, or its path would leave the download folder."""

    def __init__(self, what: str, value: object, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"the server sent an unsafe {what} {shown(value)} ({reason})")


def shown(value: object, limit: int = 60) -> str:
    """``value`` escaped (control characters, non-ASCII) and shortened for a message."""
    text = str(value)
    cut = text[:limit]
    return ascii(cut) + (f"... ({len(text)} characters)" if len(text) > limit else "")


def _reason(value: str) -> str:
    if not value:
        return "empty"
    if len(value) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if "\x00" in value:
        return "contains a NUL byte"
    if "/" in value or "\\" in value:
        return "contains a path separator"
    if value in (".", ".."):
        return "is a parent or current folder reference"
    if ":" in value:
        return "contains a drive or stream separator ':'"
    if not value.isascii():
        return "contains non-ASCII characters"
    if value[0] == ".":
        return "starts with '.'"
    return "contains characters outside letters, digits, '-', '_' and '.'"


def check_name(value: object, what: str) -> str:
    """``value`` if it is a safe single path component (an id or key), else :class:`UnsafeNameError`."""
    if not isinstance(value, str):
        raise UnsafeNameError(what, value, f"not text but {type(value).__name__}")
    if not _NAME.fullmatch(value):
        raise UnsafeNameError(what, value, _reason(value))
    if value.split(".", 1)[0].lower() in _DEVICES:
        raise UnsafeNameError(what, value, "a Windows device name")
    return value


def check_extension(value: object, what: str = "output format") -> str:
    """A file extension from a server format (``"FBX"``, ``".glb"``): lower case, letters and digits only."""
    if not isinstance(value, str):
        raise UnsafeNameError(what, value, f"not text but {type(value).__name__}")
    if not value.isascii():  # checked before lower(): the Kelvin sign lowers to an ASCII "k"
        raise UnsafeNameError(what, value, _reason(value))
    ext = value.removeprefix(".").lower()
    if not _EXTENSION.fullmatch(ext):
        if len(ext) > MAX_EXTENSION:
            reason = f"longer than {MAX_EXTENSION} characters"
        elif ext and _NAME.fullmatch(ext):
            reason = "an extension has letters and digits only"
        else:
            reason = _reason(ext)
        raise UnsafeNameError(what, value, reason)
    return ext


def _inside(root: Path, path: Path) -> bool:
    return path == root or path.is_relative_to(root)


def confined(root: str | os.PathLike[str], *names: str, what: str = "name") -> Path:
    """``root / name / ...`` with every name checked and every symlink resolved, refused unless it stays
    inside ``root`` (itself resolved). Creates nothing."""
    base = Path(root).expanduser().resolve()
    for name in names:
        check_name(name, what)
    path = base.joinpath(*names)
    real = path.resolve()
    if not _inside(base, real):
        raise UnsafeNameError(what, "/".join(names), f"it resolves outside the download folder, to {real}")
    return real


def make_folder(root: str | os.PathLike[str], *names: str, what: str = "name") -> Path:
    """:func:`confined`, then the folder made (with parents) and checked again (a symlink swapped in)."""
    path = confined(root, *names, what=what)
    path.mkdir(parents=True, exist_ok=True)
    return confined(root, *names, what=what)


def file_in(folder: Path, name: str, root: str | os.PathLike[str], what: str = "file name") -> Path:
    """``folder / name`` for a file about to be written: ``name`` checked, refused if ``folder / name`` (or
    a hidden ``.name.part`` beside it) resolves outside ``root``."""
    check_name(name, what)
    base = Path(root).expanduser().resolve()
    for candidate in (folder / name, folder / f".{name}.part"):
        real = candidate.resolve()
        if not _inside(base, real):
            raise UnsafeNameError(what, name, f"it resolves outside the download folder, to {real}")
    return folder / name
