"""Foot contacts: when each foot is planted, decided over the whole clip (the one detector of the engine: the
skeleton fit and the replay solver both call :func:`detect`).

A foot is planted where its sole is near the floor and it is nearly still. The sole's height is the lowest of
the foot's points, each measured from where it sits when standing (the skeleton's rest), above a floor that may
drift slowly (a single camera's depth and tilt errors): the floor is the low envelope of both feet over a
sliding window (someone standing, walking or jumping touches the floor within ``floor_window_s``). The speed is
the slowest of the foot's points (a rolling foot keeps its toes or its heel still), taken from low-passed
positions, or from the image where one camera's depth would make it up. A still foot while the other one
swings counts as on the floor whatever its height (the body stands on something). The decision uses hysteresis (a
contact starts below the thresholds and lasts until ``release`` times them), fills gaps shorter than
``gap_s`` and drops contacts shorter than ``min_s``.

numpy/scipy only; it must not fit skeletons, read video or write files. No bpy here.
"""

from __future__ import annotations

import numpy as np

#: Heights (m) and speeds (m/s) below which a foot counts as planted, and how far above them a contact lasts.
HEIGHT = 0.06
SPEED = 0.35
RELEASE = 1.5
#: From one camera a foot's height inherits the error of its depth (centimetres to a decimetre): a foot still in
#: the image counts as planted up to this height.
HEIGHT_ONE_CAMERA = 0.2


def _lowpass(x: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    from .pose.filters import butterworth_zero_phase

    return butterworth_zero_phase(x, fps, cutoff_hz)


def _speed(points: np.ndarray, fps: float) -> np.ndarray:
    """(F,) the slowest point's horizontal speed (m/s) of (F, k, 3) points (low-passed at 6 Hz first)."""
    p = _lowpass(points[..., :2], fps, 6.0)
    v = np.zeros(points.shape[:2])
    if len(p) > 1:
        v[1:] = np.linalg.norm(np.diff(p, axis=0), axis=-1) * fps
        v[0] = v[1]
    return v.min(1)


def _floor(sole: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """(F,) the floor under a clip whose lowest foot is ``sole`` (F,): its low envelope over a sliding window
    (a low percentile, so one bad frame does not decide it), smoothed."""
    half = max(1, int(round(0.5 * window_s * fps)))
    padded = np.concatenate([np.full(half, sole[0]), sole, np.full(half, sole[-1])])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    low = np.percentile(windows, 10, axis=1)
    return _lowpass(low, fps, 0.5)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))


def hysteresis(height: np.ndarray, speed: np.ndarray, fps: float, height_on: float = HEIGHT,
               speed_on: float = SPEED, release: float = RELEASE, min_s: float = 0.1, gap_s: float = 0.1
               ) -> np.ndarray:
    """(F,) bool: planted where ``height`` < ``height_on`` and ``speed`` < ``speed_on``, lasting while both stay
    below ``release`` times those; gaps shorter than ``gap_s`` filled, contacts shorter than ``min_s`` dropped."""
    out = np.zeros(len(height), bool)
    on = False
    for f in range(len(height)):
        k = release if on else 1.0
        on = bool(height[f] < height_on * k and speed[f] < speed_on * k)
        out[f] = on
    gap = max(1, int(round(gap_s * fps)))
    for a, b in _runs(~out):
        if a > 0 and b < len(out) and b - a < gap:
            out[a:b] = True
    shortest = max(1, int(round(min_s * fps)))
    for a, b in _runs(out):
        if b - a < shortest:
            out[a:b] = False
    return out


def detect(feet: np.ndarray, rest: np.ndarray, fps: float, *, speed: np.ndarray | None = None,
           height_on: float = HEIGHT, speed_on: float = SPEED, floor_window_s: float = 1.5) -> np.ndarray:
    """(F, 2) bool: left/right foot planted.

    ``feet``: (F, 2, k, 3) points of each foot (e.g. ankle, ball, toe tip), Z up, metres; ``rest``: (2, k)
    their heights when standing on the floor. ``speed``: (F, 2) each foot's speed (m/s) when known better
    than from ``feet`` (one camera: from the image)."""
    n = len(feet)
    out = np.zeros((n, 2), bool)
    if n < 3:
        return out
    sole = (feet[..., 2] - rest[None]).min(-1)  # (F, 2) lowest point above its standing height
    sole = _lowpass(sole, fps, 6.0)
    floor = _floor(sole.min(1), fps, floor_window_s)
    v = speed if speed is not None else np.stack([_speed(feet[:, c], fps) for c in range(2)], 1)
    height = sole - floor[:, None]
    for c in range(2):
        # Someone standing stands on something: a still foot while the other one swings carries the body,
        # however high a single camera's depth error puts it.
        support = (v[:, c] < speed_on) & (v[:, 1 - c] > 2 * speed_on)
        out[:, c] = hysteresis(np.where(support, 0.0, height[:, c]), v[:, c], fps, height_on, speed_on)
    return out


def points_of_feet(heads: np.ndarray, tails: np.ndarray, bones: list[str]) -> np.ndarray:
    """(F, 2, 3, 3) ankle, ball and toe tip of the left and right foot from posed heads and tails of Move's
    skeleton (or (2, 3, 3) from rest heads and tails)."""
    index = {b: i for i, b in enumerate(bones)}
    feet = []
    for side in ("Left", "Right"):
        foot, toe = index[side + "Foot"], index[side + "ToeBase"]
        feet.append(np.stack([heads[..., foot, :], heads[..., toe, :], tails[..., toe, :]], -2))
    return np.stack(feet, -3)


def detect_on_skeleton(heads: np.ndarray, tails: np.ndarray, rest_heads: np.ndarray, rest_tails: np.ndarray,
                       bones: list[str], fps: float, image_speed: np.ndarray | None = None) -> np.ndarray:
    """:func:`detect` on a posed Move skeleton (heads, tails (F, B, 3)) with its rest pose; ``image_speed``
    (F, 2): the feet's speeds seen by a single camera (their heights are then trusted less)."""
    rest = points_of_feet(rest_heads, rest_tails, bones)[..., 2]
    return detect(points_of_feet(heads, tails, bones), rest, fps, speed=image_speed,
                  height_on=HEIGHT if image_speed is None else HEIGHT_ONE_CAMERA)
