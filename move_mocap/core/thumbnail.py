"""The picture of one person for the panel's actor list: a square around the box where the job saw them best,
cut from one frame of the footage and shrunk to an icon.

Pure numpy on RGBA pixels in Blender's order (rows bottom-up); the box comes from the job's metadata, already
checked by core.people (finite, not inverted, bounded) and is only ever used as numbers here, clamped to the
picture. It must not read files nor know Blender. No bpy here.
"""

from __future__ import annotations

import numpy as np

SIDE = 96  # pixels of an icon (Blender scales previews to the row they are drawn in)
MARGIN = 0.15  # of the box's longer side, added on each side so the whole body shows


def crop_square(box: tuple[float, float, float, float], width: int, height: int,
                margin: float = MARGIN) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) whole pixels, rows counted from the top, of the square around ``box`` (x0, y0, x1, y1
    in the picture's pixels, rows from the top) grown by ``margin``, moved and shrunk to fit the picture;
    None when the box does not meet the picture or the picture is empty."""
    if width <= 0 or height <= 0:
        return None
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height or x1 <= x0 or y1 <= y0:
        return None
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    side = min(side, float(width), float(height))
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    left = min(max(cx - 0.5 * side, 0.0), width - side)
    top = min(max(cy - 0.5 * side, 0.0), height - side)
    s = max(1, int(round(side)))
    left_i = max(0, min(int(round(left)), width - s))  # rounding never takes the square past the picture's edge
    top_i = max(0, min(int(round(top)), height - s))
    return left_i, top_i, min(width, left_i + s), min(height, top_i + s)


def thumbnail(pixels: np.ndarray, box: tuple[float, float, float, float], side: int = SIDE) -> np.ndarray | None:
    """(side, side, 4) float RGBA, rows bottom-up like ``pixels`` ((H, W, 4), Blender's order), of the square
    around ``box`` (rows from the top, as the engine measures them), sampled at each icon pixel's centre; None
    when the box does not meet the picture."""
    h, w = pixels.shape[:2]
    square = crop_square(box, w, h)
    if square is None:
        return None
    x0, y0, x1, y1 = square
    crop = pixels[h - y1:h - y0, x0:x1]  # the same rows, counted from the bottom
    rows = ((np.arange(side) + 0.5) * crop.shape[0] / side).astype(int)
    cols = ((np.arange(side) + 0.5) * crop.shape[1] / side).astype(int)
    out = np.array(crop[rows][:, cols], dtype=np.float32)
    out[..., 3] = 1.0
    return out
