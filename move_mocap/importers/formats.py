"""Which Move output a file is, from its extension and its first bytes (no bpy here, nothing is parsed
beyond a sniff). Must not import bpy."""

from __future__ import annotations

import zipfile
from pathlib import Path

MAIN_FBX = "MAIN_FBX"
MAIN_BLEND = "MAIN_BLEND"
MOTION_DATA = "MOTION_DATA"
BVH = "BVH"
GLB = "GLB"
KINDS: tuple[str, ...] = (MAIN_FBX, MAIN_BLEND, MOTION_DATA, BVH, GLB)

#: Extensions the file browser offers.
FILTER_GLOB = "*.fbx;*.blend;*.json;*.zip;*.bvh;*.glb;*.gltf"

_BY_EXT = {".fbx": MAIN_FBX, ".blend": MAIN_BLEND, ".json": MOTION_DATA, ".zip": MOTION_DATA, ".bvh": BVH,
           ".glb": GLB, ".gltf": GLB}


class FormatError(ValueError):
    """Unknown or mismatched format; the message says what was expected."""


def sniff(head: bytes) -> str | None:
    """The kind the first bytes of a file suggest, or None."""
    text = head.lstrip()
    if head.startswith(b"Kaydara FBX Binary") or text.startswith(b"; FBX"):
        return MAIN_FBX
    if head.startswith(b"BLENDER") or head.startswith(b"\x28\xb5\x2f\xfd") or head.startswith(b"\x1f\x8b"):
        return MAIN_BLEND  # plain, zstd- or gzip-compressed .blend
    if head.startswith(b"glTF"):
        return GLB
    if text.startswith(b"HIERARCHY"):
        return BVH
    if head.startswith(b"PK\x03\x04"):
        return MOTION_DATA  # checked further by the reader (a zip holding the JSON)
    if text.startswith(b"{"):
        if b"mocap_data" in text[:4096]:
            return MOTION_DATA
        if b'"asset"' in text[:65536] or b'"scenes"' in text[:65536]:
            return GLB
    return None


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
    by_ext = _BY_EXT.get(path.suffix.lower())
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
    expected = by_ext or "one of " + ", ".join(sorted(_BY_EXT))
    raise FormatError(f"{path.name}: unknown format (expected {expected}); Move outputs are FBX, .blend, "
                      "MOTION_DATA JSON (or a zip of it), BVH and GLB")


def _zip_has_json(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.lower().endswith(".json") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
