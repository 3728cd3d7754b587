"""Thumbnails of the people a job found, for the actor list: each person in the frame where the job saw them
best, cut from the footage on this computer and kept as an icon in a ``bpy.utils.previews`` collection.

Where the picture comes from: the submission's own video (the path the user picked, from the journal; never a
name from the server), read through Blender's own movie reader; the frame number and the box come from the
job's metadata as core.people validated them (bounded numbers, clamped to the picture by core.thumbnail).
Nothing is written to disk. Main thread only and never from a draw: the runtime calls :func:`icon_for` when it
loads a result's people; panels only draw the icon id it returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import numpy as np

from ..core.thumbnail import thumbnail

_previews: Any = None  # the collection (bpy.utils.previews), made on first use, freed on unregister


def _collection() -> Any:
    global _previews
    if _previews is None:
        import bpy.utils.previews

        _previews = bpy.utils.previews.new()
    return _previews


def read_frame(video: str, frame: int) -> np.ndarray | None:
    """(H, W, 4) float RGBA of frame ``frame`` (0-based, as the engine counts) of ``video``, rows bottom-up;
    None when Blender cannot read it as a movie or it has no such frame. The movie is read through an image
    texture's image user (the frame it asks for is the one the image's pixels then hold); both data-blocks
    are removed before returning."""
    if frame < 0 or not Path(video).is_file():
        return None
    image = tex = None
    try:
        image = bpy.data.images.load(video, check_existing=False)
        size: Any = image.size  # (width, height)
        w, h = int(size[0]), int(size[1])
        if image.source != "MOVIE" or frame >= image.frame_duration or w <= 0 or h <= 0:
            return None
        tex = bpy.data.textures.new(".move_mocap_thumbnail", "IMAGE")
        tex.image = image  # type: ignore[attr-defined]
        tex.image_user.frame_current = frame + 1  # type: ignore[attr-defined]  # Blender counts movie frames from 1
        tex.evaluate((0.0, 0.0, 0.0))
        flat = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(flat)  # type: ignore[attr-defined]
        return flat.reshape(h, w, 4)
    except (RuntimeError, OSError, ValueError):  # not a movie Blender can read
        return None
    finally:
        if tex is not None:
            bpy.data.textures.remove(tex)
        if image is not None:
            bpy.data.images.remove(image)


def make(key: str, video: str, frame: int | None, box: tuple[float, float, float, float] | None) -> bool:
    """Make the thumbnail named ``key`` from ``video``'s ``frame`` around ``box`` unless it is made already;
    whether there is one (none without a frame or box from the server, or when the video is gone)."""
    previews = _collection()
    if key in previews:
        return True
    if frame is None or box is None:
        return False
    pixels = read_frame(video, frame)
    icon = thumbnail(pixels, box) if pixels is not None else None
    if icon is None:
        return False
    preview = previews.new(key)
    preview.image_size = (icon.shape[1], icon.shape[0])
    preview.image_pixels_float.foreach_set(icon.ravel())
    return True


def icon_id(key: str) -> int:
    """The icon of thumbnail ``key`` for a draw (0: none; background Blender makes no icons). Memory only."""
    preview = _previews.get(key) if _previews is not None and key else None
    return int(preview.icon_id) if preview is not None else 0


def free() -> None:
    global _previews
    if _previews is not None:
        import bpy.utils.previews

        bpy.utils.previews.remove(_previews)
        _previews = None


CLASSES: tuple[type, ...] = ()


def register_extra() -> None:
    pass


def unregister_extra() -> None:
    free()
