"""Shared by the engine benchmarks: real footage looped to a wanted length, and GraphQL calls that raise on errors.
Not a benchmark itself (bench.py lists only names without a leading underscore)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any


def looped_video(source: Path, out: Path, frames: int, fps: int = 60) -> Path:
    """``out``: ``source`` played forwards then backwards until ``frames`` frames (H.264), made once and kept."""
    import av

    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as c:
        src = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    order = list(range(len(src))) + list(range(len(src) - 2, 0, -1))
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = src[0].shape[1], src[0].shape[0], "yuv420p"
        s.options = {"crf": "20", "preset": "fast"}
        for k in range(frames):
            for p in s.encode(av.VideoFrame.from_ndarray(src[order[k % len(order)]], format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    tmp.rename(out)
    return out


def gql(server: Any, query: str, variables: dict | None = None) -> dict:
    """``data`` of a GraphQL call to a local server fixture; errors raise."""
    r = server.graphql(query, variables)
    if r.get("errors"):
        raise RuntimeError(f"GraphQL error: {r['errors']}")
    return r["data"]
