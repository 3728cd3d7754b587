"""Checks before anything is sent (nothing paid for, nothing uploaded): is each video a complete video file
Move accepts, can the download folder be written, is a calibration file one and can the server read it?

Small validators that return a message naming the problem and the fix, or None (the bpy layer shows it in a
report or poll message). They read at most a few hundred bytes per video (container headers: MP4/MOV atoms,
AVI's RIFF header), so a renamed text file or an interrupted copy is caught before upload. No bpy, no network.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

from ..endpoints import is_loopback

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".move")
_QUICKTIME_ATOMS = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid", b"meta", b"pdin",
                    b"moof", b"mfra", b"styp", b"sidx"}
_MAX_ATOMS = 10_000
_KNOWN_NOT_VIDEO = {  # what a misnamed file most often is, to say so
    b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"%PDF": "a PDF document", b"PK\x03\x04": "a zip archive",
    b"BLENDER": "a .blend file", b"Kaydara FBX": "an FBX file", b"GIF8": "a GIF image", b"\x1aE\xdf\xa3": "a Matroska/WebM video",
}


def _describe(head: bytes) -> str:
    for magic, what in _KNOWN_NOT_VIDEO.items():
        if head.startswith(magic):
            return what
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:64]):
        return "text"
    return "not a video container"


def _quicktime_problem(fh, size: int, name: str) -> str | None:  # type: ignore[no-untyped-def]
    """Walk the top-level atoms of an MP4/MOV: every atom must fit in the file and a ``moov`` must exist."""
    pos, seen_moov = 0, False
    for _ in range(_MAX_ATOMS):
        if pos == size:
            break
        if size - pos < 8:
            return f"{name} is truncated (it stops inside a header at byte {pos} of {size})"
        fh.seek(pos)
        header = fh.read(16)
        length, kind = struct.unpack(">I4s", header[:8])
        if pos == 0 and kind not in _QUICKTIME_ATOMS:
            return None  # not QuickTime-shaped: the caller reports it as not a video
        if length == 1:
            if len(header) < 16:
                return f"{name} is truncated (it stops inside a header at byte {pos} of {size})"
            length = struct.unpack(">Q", header[8:16])[0]
        elif length == 0:
            length = size - pos
        if length < 8:
            return f"{name} is damaged (an atom of {length} bytes at byte {pos})"
        if pos + length > size:
            return (f"{name} is truncated: it ends at byte {size} but its {kind.decode('latin-1')!r} part runs to "
                    f"byte {pos + length} (an interrupted copy, download or recording)")
        seen_moov = seen_moov or kind == b"moov"
        pos += length
    if not seen_moov:
        return f"{name} has no index ('moov' part): the recording or export did not finish"
    return None


def footage_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the video at ``path`` cannot be submitted (problem and fix), or None."""
    p = Path(path)
    name = p.name or str(p)
    suffix = p.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        return (f"{name}: {suffix or 'no extension'} is not a format Move accepts ({', '.join(VIDEO_SUFFIXES)}); "
                "convert it to MP4 (e.g. with ffmpeg or Blender's Video Editor) and add that file")
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        return f"{name}: file not found at {p}; it was moved, renamed or deleted: add the video again"
    except OSError as exc:
        return f"{name}: cannot be read ({exc.strerror}); check the path and its permissions"
    if not p.is_file():
        return f"{name} is a folder, not a video file; add the video file itself"
    if size == 0:
        return f"{name} is empty (0 bytes); copy or export the video again and add that file"
    try:
        with open(p, "rb") as fh:
            head = fh.read(64)
            if suffix in (".mp4", ".mov"):
                if head[4:8] not in _QUICKTIME_ATOMS:
                    return (f"{name} is not an MP4/MOV video (its content is {_describe(head)}); add the video "
                            "file itself")
                problem = _quicktime_problem(fh, size, name)
                return f"{problem}; copy or export the video again" if problem else None
            if suffix == ".avi":
                if head[:4] != b"RIFF" or head[8:12] != b"AVI ":
                    return f"{name} is not an AVI video (its content is {_describe(head)}); add the video file itself"
                declared = struct.unpack("<I", head[4:8])[0] + 8
                if declared > size:
                    return (f"{name} is truncated: its header announces {declared} bytes but the file has {size} "
                            "(an interrupted copy or recording); copy or export the video again")
    except OSError as exc:
        return f"{name}: cannot be read ({exc.strerror}); check its permissions"
    return None


#: A camera calibration the user already has (for a multi-camera volume): Pose2Sim's .toml or a Qualisys .qca.txt.
CALIBRATION_SUFFIXES = (".toml", ".txt")
CALIBRATION_MAX_BYTES = 1 << 20
CALIBRATION_FILE_FIX = "Process On This Computer, or clear the calibration file to calibrate from the person"


def calibration_file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the file at ``path`` cannot be a volume's calibration (a Pose2Sim ``.toml`` or a Qualisys
    ``.qca.txt``, told apart by their first bytes), or None. The server checks every number."""
    p = Path(path)
    name = p.name or str(p)
    if p.suffix.lower() not in CALIBRATION_SUFFIXES:
        return (f"{name}: a calibration file is a Pose2Sim .toml or a Qualisys .qca.txt; export the cameras' "
                "calibration in one of those")
    try:
        size = p.stat().st_size
        if not p.is_file():
            return f"{name} is a folder, not a calibration file"
        if size > CALIBRATION_MAX_BYTES:
            return f"{name} is {size} bytes: too large to be a calibration file (at most 1 MiB)"
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        return f"{name}: file not found at {p}; choose the calibration file again"
    except OSError as exc:
        return f"{name}: cannot be read ({exc.strerror}); check the path and its permissions"
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if b"\0" in head or not ((text.startswith("<") and "<calibration" in text)
                             or ("[" in text and "matrix" in text)):
        return (f"{name} is neither a Pose2Sim calibration (.toml with a matrix per camera) nor a Qualisys one "
                "(.qca.txt, XML); choose the calibration file itself")
    return None


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why downloads cannot be written to the folder ``path`` (created when missing), or None."""
    folder = Path(path)
    fix = "choose another Download Folder in Preferences > Add-ons > Move Mocap"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"The download folder {folder} cannot be created ({exc.strerror}); {fix}"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".move_mocap_probe_") as fh:
            fh.write(b"probe")
            fh.flush()
    except OSError as exc:
        return f"The download folder {folder} is not writable ({exc.strerror}); {fix}, or free disk space"
    return None


def calibration_file_backend_problem(endpoint: str, fix: str = CALIBRATION_FILE_FIX) -> str | None:
    """Why a calibration file cannot go to the server at ``endpoint``, or None. Only the local engine on this
    computer (a loopback endpoint: Preferences' "This Computer", or ``--endpoint http://127.0.0.1:...``) reads
    one; Move's cloud cannot (it calibrates a volume from the person walking through the area), so the file
    is refused before anything is uploaded or paid for. ``fix``: what the user can do, in their words."""
    if is_loopback(endpoint):
        return None
    return ("A calibration file is read only by the local engine on this computer; Move's cloud cannot read it "
            f"(it calibrates the volume from the person walking through the area). {fix}")
