"""Move's output kinds, the one registry: for each of the 16 ``OutputType`` values its label and description,
its file kind (extension, how the bytes are recognised) and whether and how the add-on applies it (which
importer kind, in which order of preference).

The importer (``importers/formats``), the pipeline (download names, ``model.pick_applicable``), the panel
(``capture.props.OUTPUT_ITEMS``) and the command line (``--outputs``) read this; none keeps a list of its own.
Pure data and byte sniffing: must not import bpy, open files or touch the network.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- importer kinds: how ``importers.load`` reads a file (the import operator's "Output" choices) ------------

MAIN_FBX = "MAIN_FBX"
MAIN_BLEND = "MAIN_BLEND"
MOTION_DATA = "MOTION_DATA"
BVH = "BVH"
GLB = "GLB"
IMPORTER_KINDS: tuple[str, ...] = (MAIN_FBX, MAIN_BLEND, MOTION_DATA, BVH, GLB)


@dataclass(frozen=True)
class FileKind:
    """A kind of file Move delivers. ``suffixes``: the first is the one a download is named with.
    ``importer``: the importer kind that reads it, or None (the add-on does not apply it)."""

    name: str
    suffixes: tuple[str, ...]
    importer: str | None = None


FBX_FILE = FileKind("FBX", (".fbx",), MAIN_FBX)
BLEND_FILE = FileKind("BLEND", (".blend",), MAIN_BLEND)
JSON_FILE = FileKind("JSON", (".json",), MOTION_DATA)
ZIP_FILE = FileKind("ZIP", (".zip",), MOTION_DATA)  # MOTION_DATA's JSON in a zip
BVH_FILE = FileKind("BVH", (".bvh",), BVH)
GLB_FILE = FileKind("GLB", (".glb",), GLB)
GLTF_FILE = FileKind("GLTF", (".gltf",), GLB)  # glTF as JSON
# USD: Blender's USD importer renames Move's bones ('1:Hips' -> '_1_Hips': ':' is not allowed in a USD prim
# name), which loses the actor namespace the retarget mapping reads, so the add-on does not apply USD.
USDC_FILE = FileKind("USDC", (".usdc",))
USDZ_FILE = FileKind("USDZ", (".usdz",))
C3D_FILE = FileKind("C3D", (".c3d",))
MP4_FILE = FileKind("MP4", (".mp4",))
SYNC_FILE = FileKind("SYNC", (".json",))

#: Every file kind the importer can read, in the order the file browser lists them.
IMPORTABLE_FILES: tuple[FileKind, ...] = (FBX_FILE, BLEND_FILE, JSON_FILE, ZIP_FILE, BVH_FILE, GLB_FILE,
                                            GLTF_FILE)


@dataclass(frozen=True)
class Output:
    """One of Move's ``OutputType`` values. ``flag``: the panel's enum-flag bit (saved in .blend files: never
    renumber). ``apply_rank``: preference when several applicable outputs were downloaded (lower first);
    None: never applied."""

    key: str
    label: str
    description: str
    file: FileKind
    flag: int
    apply_rank: int | None = None

    @property
    def suffix(self) -> str:
        return self.file.suffixes[0]

    @property
    def importer(self) -> str | None:
        """The importer kind that applies this output, or None."""
        return self.file.importer if self.apply_rank is not None else None


#: Move's 16 output types, in the panel's order.
OUTPUTS: tuple[Output, ...] = (
    Output("MAIN_FBX", "FBX", "Main character as FBX (applied to the rig)", FBX_FILE, 1, apply_rank=0),
    Output("MOTION_DATA", "Motion Data", "Joint rotations, positions and ground contacts (JSON)", JSON_FILE, 2,
           apply_rank=5),
    Output("ALL_BVH", "BVH", "Every actor as BVH", BVH_FILE, 4, apply_rank=2),
    Output("MAIN_BLEND", "Blend", "Main character as a .blend", BLEND_FILE, 8, apply_rank=6),
    Output("MAIN_GLB", "GLB", "Main character as glTF binary", GLB_FILE, 16, apply_rank=3),
    Output("MAIN_USDC", "USDC", "Main character as USD (not applied to the rig)", USDC_FILE, 32),
    Output("RENDER_VIDEO", "Render Video", "A rendered preview video", MP4_FILE, 64),
    Output("RENDER_OVERLAY_VIDEO", "Overlay Video", "The footage with the tracked skeleton drawn over it",
           MP4_FILE, 128),
    Output("ALL_FBX", "FBX (All)", "Every actor as FBX", FBX_FILE, 256, apply_rank=1),
    Output("ALL_GLB", "GLB (All)", "Every actor as glTF binary", GLB_FILE, 512, apply_rank=4),
    Output("ALL_BLEND", "Blend (All)", "Every actor in a .blend", BLEND_FILE, 1024, apply_rank=7),
    Output("ALL_USDC", "USDC (All)", "Every actor as USD (not applied to the rig)", USDC_FILE, 2048),
    Output("MAIN_USDZ", "USDZ", "Main character as USDZ (not applied to the rig)", USDZ_FILE, 4096),
    Output("ALL_USDZ", "USDZ (All)", "Every actor as USDZ (not applied to the rig)", USDZ_FILE, 8192),
    Output("ALL_C3D", "C3D", "Every actor's markers as C3D (not applied to the rig)", C3D_FILE, 16384),
    Output("SYNC_DATA", "Sync Data", "How the cameras were synchronised (JSON)", SYNC_FILE, 32768),
)

BY_KEY: dict[str, Output] = {o.key: o for o in OUTPUTS}
KEYS: tuple[str, ...] = tuple(o.key for o in OUTPUTS)
#: Outputs the add-on can apply to a rig, best first.
APPLICABLE: tuple[str, ...] = tuple(o.key for o in sorted((o for o in OUTPUTS if o.apply_rank is not None),
                                                           key=lambda o: o.apply_rank or 0))
#: The outputs a new submission asks for unless told otherwise.
DEFAULT_KEYS: tuple[str, ...] = ("MAIN_FBX", "MOTION_DATA")
#: Suffix -> importer kind, for files named by the user.
IMPORTER_BY_SUFFIX: dict[str, str] = {s: f.importer for f in IMPORTABLE_FILES if f.importer for s in f.suffixes}
#: The file browser's filter for importable files.
FILTER_GLOB = ";".join(f"*{s}" for f in IMPORTABLE_FILES for s in f.suffixes)


def parse_keys(text: str) -> tuple[str, ...]:
    """Output keys from ``"MAIN_FBX, motion_data"`` (sorted, unique); ValueError naming an unknown one."""
    items = tuple(sorted({t.strip().upper() for t in text.split(",") if t.strip()}))
    if not items:
        raise ValueError("name at least one output, e.g. " + ",".join(DEFAULT_KEYS))
    unknown = [k for k in items if k not in BY_KEY]
    if unknown:
        raise ValueError(f"unknown output {', '.join(unknown)}; Move's outputs are {', '.join(KEYS)}")
    return items


def pick_applicable(files: dict[str, str]) -> tuple[str, str] | None:
    """(output key, path) of the downloaded output best suited to apply onto a rig, or None. Keys are Move's
    (any case); a key Move does not define (a share code's ``SHARED``) counts when its file's suffix is one
    the importer reads."""
    by_key = {k.upper(): v for k, v in files.items()}
    for key in APPLICABLE:
        if key in by_key:
            return key, by_key[key]
    for key, path in files.items():
        if key.upper() not in BY_KEY and _suffix(path) in IMPORTER_BY_SUFFIX:
            return key, path
    return None


def _suffix(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff_file_kind(head: bytes) -> FileKind | None:
    """The file kind of a Move output from its first bytes, or None. A zip is reported as MOTION_DATA's zip:
    the reader checks that it holds the JSON."""
    text = head.lstrip()
    if head.startswith(b"Kaydara FBX Binary") or text.startswith(b"; FBX"):
        return FBX_FILE
    if head.startswith(b"BLENDER") or head.startswith(b"\x28\xb5\x2f\xfd") or head.startswith(b"\x1f\x8b"):
        return BLEND_FILE  # plain, zstd- or gzip-compressed .blend
    if head.startswith(b"glTF"):
        return GLB_FILE
    if text.startswith(b"HIERARCHY"):
        return BVH_FILE
    if head.startswith(b"PK\x03\x04"):
        return ZIP_FILE
    if head.startswith(b"PXR-USDC"):
        return USDC_FILE
    if head[4:8] == b"ftyp":
        return MP4_FILE
    if text.startswith(b"{"):
        if b"mocap_data" in text[:4096]:
            return JSON_FILE
        if b'"asset"' in text[:65536] or b'"scenes"' in text[:65536]:
            return GLTF_FILE
    if text.startswith((b"{", b"[")):
        return SYNC_FILE
    return None


def sniff(head: bytes) -> str | None:
    """The importer kind the first bytes of a file suggest (one of :data:`IMPORTER_KINDS`), or None."""
    kind = sniff_file_kind(head)
    return kind.importer if kind is not None else None


def suffix_for(head: bytes) -> str:
    """The extension to name a downloaded file with, from its first bytes (``.bin`` when unknown)."""
    kind = sniff_file_kind(head)
    return kind.suffixes[0] if kind is not None else ".bin"
