"""Foot contacts: when a foot is planted, per frame (numpy only, no bpy here).

Contacts come from the capture where it has them (Move's MOTION_DATA reaction forces, stored by the importer
on the action as one int per frame from the action's first frame, bit 0 left, bit 1 right: :data:`STORED_PROP`,
:func:`encode_stored`, :func:`decode_stored`; the retarget carries them to its new action, :func:`at_frames`)
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


def at_frames(mask: np.ndarray, first_frame: float, frames: np.ndarray) -> np.ndarray:
    """The (F, 2) contacts of a mask stored from ``first_frame`` (one row per frame) at ``frames`` (any
    frames of the same clock, e.g. a retarget's source frames: a sub-range, or fractional when it changes the
    frame rate): the nearest stored frame's; frames outside the stored ones have no contact."""
    m = np.asarray(mask, dtype=bool)
    idx = np.rint(np.asarray(frames, dtype=np.float64) - float(first_frame)).astype(np.int64)
    inside = (idx >= 0) & (idx < len(m))
    out = np.zeros((len(idx), *m.shape[1:]), dtype=bool)
    out[inside] = m[idx[inside]]
    return out


def resample(mask: np.ndarray, n: int) -> np.ndarray:
    """A mask stored for one clip length read for another (nearest frame; stored contacts shorter than the
    action are padded with 'no contact')."""
    m = np.asarray(mask, dtype=bool)
    if len(m) >= n:
        return m[:n].copy()
    return np.concatenate((m, np.zeros((n - len(m), *m.shape[1:]), dtype=bool)))
