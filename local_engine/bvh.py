"""A small BVH reader (numpy only, no bpy): hierarchy, channels, motion, and world-space forward kinematics;
and :func:`merge_roots`, which puts several single-skeleton files side by side in one (one ROOT per actor, as
Blender's BVH importer and this reader accept).

BVH conventions: a joint's rotation channels compose in the order listed (``Zrotation Yrotation Xrotation``
means R = Rz @ Ry @ Rx on column vectors); rest pose has every rotation at zero; the root's position channels
give its translation. Degrees in the file, radians out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .rotations import axis_matrix


class BVHError(ValueError):
    pass


@dataclass
class BVH:
    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J, 3)
    channels: list[list[str]]  # per joint, e.g. ["Xposition", ..., "Zrotation", ...]
    end_sites: dict[int, np.ndarray]  # joint index -> end-site offset
    frame_time: float
    motion: np.ndarray  # (F, total channels)
    columns: list[tuple[int, str]] = field(default_factory=list)  # (joint, channel) per motion column

    @property
    def fps(self) -> float:
        """Frames per second; ``Frame Time: .0083333`` is a rounded 1/120, so near-integer rates snap."""
        fps = 1.0 / self.frame_time
        return float(round(fps)) if abs(fps - round(fps)) < 0.01 else fps

    @property
    def frame_count(self) -> int:
        return int(self.motion.shape[0])

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise BVHError(f"BVH has no joint {name!r}") from None

    def world(self, frames: slice | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """World positions (F, J, 3) and rotations (F, J, 3, 3) of every joint, in file units and axes."""
        data = self.motion if frames is None else self.motion[frames]
        f, j = len(data), len(self.names)
        local = np.tile(np.eye(3), (f, j, 1, 1))
        trans = np.tile(self.offsets, (f, 1, 1)).astype(np.float64)
        for col, (joint, ch) in enumerate(self.columns):
            values = data[:, col]
            if ch.endswith("rotation"):
                local[:, joint] = local[:, joint] @ axis_matrix(ch[0], np.radians(values))
            else:
                trans[:, joint, "XYZ".index(ch[0].upper())] += values
        rot = np.empty_like(local)
        pos = np.empty((f, j, 3))
        for i, p in enumerate(self.parents):
            if p < 0:
                rot[:, i] = local[:, i]
                pos[:, i] = trans[:, i]
            else:
                rot[:, i] = rot[:, p] @ local[:, i]
                pos[:, i] = pos[:, p] + np.einsum("fij,fj->fi", rot[:, p], trans[:, i])
        return pos, rot

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions with every rotation zero and the root at the origin."""
        pos = np.zeros((len(self.names), 3))
        for i, p in enumerate(self.parents):
            pos[i] = self.offsets[i] + (pos[p] if p >= 0 else 0.0)
        return pos


def read_bvh(path: str | Path) -> BVH:
    tokens = Path(path).read_text().split()
    pos = 0

    def next_token() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise BVHError("unexpected end of file")
        pos += 1
        return tokens[pos - 1]

    if next_token().upper() != "HIERARCHY":
        raise BVHError("not a BVH file: missing HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    end_sites: dict[int, np.ndarray] = {}
    columns: list[tuple[int, str]] = []
    stack: list[int] = []
    pending_end = False
    while True:
        tok = next_token()
        up = tok.upper()
        if up in ("ROOT", "JOINT"):
            names.append(next_token())
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
        elif up == "END":
            next_token()  # "Site"
            pending_end = True
        elif tok == "{":
            if pending_end:
                stack.append(-2)
            else:
                stack.append(len(names) - 1)
        elif tok == "}":
            stack.pop()
            pending_end = False
            if not stack and tokens[pos].upper() == "MOTION":
                break
        elif up == "OFFSET":
            values = [float(next_token()) for _ in range(3)]
            if pending_end:
                end_sites[stack[-2]] = np.array(values)
            else:
                offsets[stack[-1]] = values
        elif up == "CHANNELS":
            n = int(next_token())
            chans = [next_token() for _ in range(n)]
            channels[stack[-1]] = chans
            columns.extend((stack[-1], c) for c in chans)
        else:
            raise BVHError(f"unexpected token {tok!r} in HIERARCHY")
    if next_token().upper() != "MOTION":
        raise BVHError("missing MOTION")
    if next_token().rstrip(":").upper() != "FRAMES":
        raise BVHError("missing Frames:")
    frames = int(next_token())
    if next_token().upper() != "FRAME" or next_token().rstrip(":").upper() != "TIME":
        raise BVHError("missing Frame Time:")
    frame_time = float(next_token())
    values = np.array(tokens[pos:], dtype=np.float64)
    width = len(columns)
    if values.size < frames * width:
        raise BVHError(f"motion has {values.size} values, expected {frames} x {width}")
    return BVH(names, parents, np.array(offsets), channels, end_sites, frame_time,
               values[: frames * width].reshape(frames, width), columns)


def merge_roots(texts: list[str]) -> str:
    """One BVH holding every skeleton of ``texts`` (each a whole BVH file with the same frame count and frame
    time): their ROOT blocks one after the other, each frame's values concatenated in the same order."""
    hierarchy: list[str] = []
    motion: list[list[str]] = []
    header: tuple[str, str] | None = None
    for k, text in enumerate(texts):
        lines = text.splitlines()
        try:
            at = next(i for i, ln in enumerate(lines) if ln.strip().upper() == "MOTION")
        except StopIteration:
            raise BVHError(f"skeleton {k + 1}: missing MOTION") from None
        if not lines or lines[0].strip().upper() != "HIERARCHY" or at + 2 >= len(lines):
            raise BVHError(f"skeleton {k + 1}: not a BVH file")
        frames_line, time_line = lines[at + 1].strip(), lines[at + 2].strip()
        if header is None:
            header = (frames_line, time_line)
        elif (frames_line, time_line) != header:
            raise BVHError(f"skeleton {k + 1}: {frames_line!r}, {time_line!r} differ from the first "
                           f"skeleton's {header[0]!r}, {header[1]!r}")
        hierarchy.extend(lines[1:at])
        rows = [ln.strip() for ln in lines[at + 3:] if ln.strip()]
        motion = [r.split() for r in rows] if k == 0 else [a + r.split() for a, r in zip(motion, rows)]
    if header is None:
        raise BVHError("no skeleton to merge")
    return "\n".join(["HIERARCHY", *hierarchy, "MOTION", *header, *(" ".join(r) for r in motion)]) + "\n"
