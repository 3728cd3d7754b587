"""Foot contacts: when a foot is planted, per frame (numpy only, no bpy here).

Contacts come from the capture where it has them (Move's MOTION_DATA reaction forces, stored by the importer
on the action as one int per frame from the action's first frame, bit 0 left, bit 1 right: :data:`STORED_PROP`,
:func:`encode_stored`, :func:`decode_stored`; placed on the keyed frames by :func:`on_frame_grid`; read back,
whatever a .blend holds, only through the one validator :func:`read_stored`; the retarget carries them to its
new action, :func:`at_frames`)
or are detected from the motion: a foot is
planted when it is near the floor *and* nearly still. Thresholds are decided over the whole clip (the floor
is a low percentile of the foot's height, speeds are relative to the leg's length), with hysteresis (a
contact starts below the "on" thresholds and ends above the looser "off" ones), short gaps filled and
contacts shorter than a minimum dropped, so one noisy frame neither starts nor breaks a contact.

:func:`segments` turns a mask into (start, end) runs; the foot-locking and smoothing maths use them.
This module does not touch Blender and does not decide what to do with contacts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DetectOptions:
    """Detection thresholds, relative to the leg's length (hip joint to ankle at rest) and in seconds."""

    height_on: float = 0.05  # above the floor, fraction of leg length (~4 cm for a 0.85 m leg)
    height_off: float = 0.08
    speed_on: float = 0.15  # leg lengths per second (~13 cm/s)
    speed_off: float = 0.3
    min_contact: float = 0.08  # seconds: shorter contacts are dropped
    max_gap: float = 0.05  # seconds: shorter breaks inside a contact are filled
    floor_percentile: float = 2.0


#: The custom property of an action holding its stored foot contacts (:func:`encode_stored`).
STORED_PROP = "move_foot_contacts"


def encode_stored(mask: np.ndarray | Sequence[Sequence[bool]]) -> list[int]:
    """The per-frame ints an action stores (:data:`STORED_PROP`) for an (F, 2) mask (left, right)."""
    m = np.asarray(mask, dtype=bool).reshape(-1, 2).astype(np.int64)
    return (m[:, 0] | (m[:, 1] << 1)).tolist()


def decode_stored(bits: Sequence[int]) -> np.ndarray:
    """(F, 2) bool, left and right, from the importer's per-frame ints (bit 0 left, bit 1 right)."""
    a = np.asarray(list(bits), dtype=np.int64)
    if a.ndim != 1:
        raise ValueError("stored foot contacts must be a flat list of ints")
    return np.stack(((a & 1) != 0, (a & 2) != 0), axis=1)


#: No stored contacts longer than this are read (frames; ~4.6 hours at 60 fps), whatever the action's span.
MAX_STORED = 1_000_000


def read_stored(value: object, frame_count: int) -> tuple[np.ndarray | None, str]:
    """The (F, 2) mask of a stored property's ``value`` (an action's :data:`STORED_PROP`, which a downloaded
    .blend may hold anything in) and a warning: (mask, "") when it is an int or bool array (an IDProperty
    array, a list or a numpy array) of values 0..3 no longer than :data:`MAX_STORED`; read up to
    ``frame_count`` (the action's frame span) before anything is converted. Anything else gives
    (None, the problem; contacts will be detected)."""
    def bad(problem: str) -> tuple[None, str]:
        return None, (f"the action's stored foot contacts ({STORED_PROP!r}) {problem}, so they are left out and "
                      "foot contacts will be detected from the motion; re-import the take to restore them")

    if value is None:
        return None, ""
    typecode = getattr(value, "typecode", None)  # bpy's IDPropertyArray: 'i' int, 'b' bool, 'f'/'d' float
    if typecode is not None and typecode not in ("i", "b"):
        return bad(f"are an array of type {typecode!r}, not of ints")
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__") or not hasattr(value, "__getitem__"):
        return bad(f"are a {type(value).__name__}, not a list of ints")
    try:
        length = len(value)  # type: ignore[arg-type]
    except TypeError:
        return bad(f"are a {type(value).__name__}, not a list of ints")
    if length > MAX_STORED:
        return bad(f"hold {length} frames, more than the {MAX_STORED} read")
    n = max(0, min(length, int(frame_count), MAX_STORED))
    try:
        part = value[:n]  # type: ignore[index]
        items = part.tolist() if isinstance(part, np.ndarray) else list(part)
        if any(not isinstance(v, (int, bool, np.integer, np.bool_)) for v in items):
            return bad("hold values that are not ints")
        a = np.asarray(items, dtype=np.int64).reshape(len(items))
    except (TypeError, ValueError, OverflowError) as exc:
        return bad(f"cannot be read as a list of ints ({type(exc).__name__})")
    if a.size and (int(a.min()) < 0 or int(a.max()) > 3):
        return bad("hold values outside 0..3 (bit 0 left foot, bit 1 right foot)")
    return np.stack(((a & 1) != 0, (a & 2) != 0), axis=1), ""


def on_frame_grid(frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The (F, 2) contacts of samples keyed at ``frames`` (ints, increasing, one sample per frame: the keys
    an importer wrote) on every frame from the first to the last: a frame no sample is keyed at (a dropped
    sample) takes the nearest sample's contacts (the earlier one on a tie). Spans longer than
    :data:`MAX_STORED` raise ValueError."""
    f = np.asarray(frames, dtype=np.int64)
    m = np.asarray(mask, dtype=bool)
    if len(f) != len(m):
        raise ValueError("one contact per keyed frame is needed")
    if not len(f):
        return m.reshape(0, *m.shape[1:])
    if len(f) > 1 and np.any(np.diff(f) <= 0):
        raise ValueError("keyed frames must be increasing, one sample per frame")
    span = int(f[-1] - f[0]) + 1
    if span > MAX_STORED:
        raise ValueError(f"the take spans {span} frames, more than the {MAX_STORED} contacts are stored for")
    grid = np.arange(f[0], f[-1] + 1)
    after = np.clip(np.searchsorted(f, grid, side="left"), 0, len(f) - 1)
    before = np.clip(after - 1, 0, len(f) - 1)
    nearest = np.where(np.abs(f[before] - grid) <= np.abs(f[after] - grid), before, after)
    return m[nearest]


def segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as (start, end) frame indices, end exclusive."""
    m = np.asarray(mask, dtype=bool)
    if not m.size:
        return []
    d = np.diff(np.concatenate(([0], m.astype(np.int8), [0])))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist()))


def clean(mask: np.ndarray, min_len: int, max_gap: int) -> np.ndarray:
    """Fill gaps of at most ``max_gap`` frames between contacts, then drop contacts shorter than ``min_len``."""
    m = np.asarray(mask, dtype=bool).copy()
    segs = segments(m)
    for (_, e0), (s1, _) in itertools.pairwise(segs):
        if s1 - e0 <= max_gap:
            m[e0:s1] = True
    for s, e in segments(m):
        if e - s < min_len:
            m[s:e] = False
    return m


def _hysteresis(on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """True from a frame where ``on`` holds until the first frame where ``off`` holds (exclusive)."""
    on = np.asarray(on, dtype=bool)
    off = np.asarray(off, dtype=bool)
    if not (on & off).any():
        # Thresholds that never hold together (the detector's: "on" is stricter than "not off"): the state is
        # the last event's (on or off) at or before each frame, False before the first.
        events = on | off
        last = np.maximum.accumulate(np.where(events, np.arange(len(on)), -1))
        return np.where(last >= 0, on[np.maximum(last, 0)], False)
    out = np.zeros(len(on), dtype=bool)
    state = False
    for i in range(len(on)):  # one pass; the clip's length, not per-bone work
        state = not off[i] if state else bool(on[i])
        out[i] = state
    return out


def detect(points: np.ndarray, fps: float, leg_length: float, floor: float | None = None,
           options: DetectOptions | None = None) -> np.ndarray:
    """Contact mask (F,) of one foot from its low points' world positions ``points`` (F, P, 3) (e.g. ankle
    and ball; Z up): the lowest point's height over the floor and the slowest point's speed decide.

    ``floor``: the floor's height (default: a low percentile of the lowest point over the clip)."""
    o = options or DetectOptions()
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 2:
        p = p[:, None]
    if fps <= 0 or leg_length <= 0:
        raise ValueError("contact detection needs a positive frame rate and leg length")
    n = len(p)
    if n < 2:
        return np.zeros(n, dtype=bool)
    low = p[..., 2].min(axis=1)
    ground = float(np.percentile(low, o.floor_percentile)) if floor is None else float(floor)
    height = (low - ground) / leg_length
    vel = np.gradient(p, axis=0) * fps / leg_length  # central differences: no half-frame lag
    speed = np.linalg.norm(vel, axis=-1).min(axis=1)
    on = (height < o.height_on) & (speed < o.speed_on)
    off = (height > o.height_off) | (speed > o.speed_off)
    mask = _hysteresis(on, off)
    return clean(mask, max(1, int(round(o.min_contact * fps))), int(round(o.max_gap * fps)))


def at_frames(mask: np.ndarray, first_frame: float, frames: np.ndarray) -> np.ndarray | None:
    """The (F, 2) contacts of a mask stored from ``first_frame`` (one row per frame) at ``frames`` (any
    frames of the same clock, e.g. a retarget's source frames: a sub-range, or fractional when it changes the
    frame rate): the nearest stored frame's (halves round up, so edges stay put at any rate). None when some
    of ``frames`` lie outside the stored ones: their contacts are unknown, not "no contact" (detect them)."""
    m = np.asarray(mask, dtype=bool)
    idx = np.floor(np.asarray(frames, dtype=np.float64) - float(first_frame) + 0.5).astype(np.int64)
    if not len(idx):
        return np.zeros((0, *m.shape[1:]), dtype=bool)
    if not bool(((idx >= 0) & (idx < len(m))).all()):
        return None
    return m[idx]


def resample(mask: np.ndarray, n: int) -> np.ndarray:
    """A mask stored for one clip length read for another (nearest frame; stored contacts shorter than the
    action are padded with 'no contact')."""
    m = np.asarray(mask, dtype=bool)
    if len(m) >= n:
        return m[:n].copy()
    return np.concatenate((m, np.zeros((n - len(m), *m.shape[1:]), dtype=bool)))
