"""Reading and writing F-curves in bulk, across Blender's action APIs (bpy layer).

Blender 4.2 keeps an action's F-curves in ``Action.fcurves``; 4.4 introduced slotted actions (layers ->
strips -> channelbag per slot) and 5.0 removed ``Action.fcurves``. This module hides the difference:

- :func:`action_fcurves` - the F-curves an action holds for one object (its assigned slot, or the first
  slot suitable for objects).
- :func:`read_channels` / :func:`sample_channels` - all keys of those F-curves as numpy arrays / their values
  at given frames (numpy evaluation of constant, linear and Bezier keys; Blender's own for anything else).
- :func:`new_action` - a new action holding bulk-written keys for one object (``keyframe_points.add`` +
  ``foreach_set``, no per-key Python calls), with a slot for that object on 4.4+.
- :func:`assign_action`, :func:`stash_action` - assign an action (and its slot) and keep an action in an NLA
  track so it is not lost.

The importers, the retarget engine (:mod:`.apply`) and the review tools use it; it holds no retarget logic.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

import bpy
import numpy as np

Channel = tuple[str, int]  # (data_path, array_index)

#: Blender's keyframe interpolation enum as the integers foreach_get/foreach_set use.
IPO = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}


def is_slotted() -> bool:
    """True on Blender 4.4+ (slotted actions)."""
    return bpy.app.version >= (4, 4, 0)


def object_action(obj: bpy.types.Object) -> bpy.types.Action | None:
    ad = obj.animation_data
    return ad.action if ad else None


def _slot_for(action: Any, obj: bpy.types.Object | None) -> Any:
    if obj is not None and obj.animation_data and obj.animation_data.action == action:
        slot = getattr(obj.animation_data, "action_slot", None)
        if slot is not None:
            return slot
    for slot in action.slots:
        if slot.target_id_type in ("OBJECT", "UNSPECIFIED"):
            return slot
    return None


def action_fcurves(action: Any, obj: bpy.types.Object | None = None) -> list[bpy.types.FCurve]:
    """The F-curves ``action`` holds for ``obj`` (for the slot assigned to obj, else the first object slot)."""
    if not is_slotted():
        return list(action.fcurves)
    slot = _slot_for(action, obj)
    if slot is None:
        return []
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                return list(bag.fcurves)
    return []


class Keys:
    """All keys of one F-curve: ``co`` is read at once; handles and interpolation on first use (the dense
    mocap path never needs them)."""

    def __init__(self, fc: bpy.types.FCurve, co: np.ndarray) -> None:
        self.fcurve = fc
        self.co = co  # (K, 2) frame, value (float32, as Blender stores them)
        self._ipo: np.ndarray | None = None
        self._handles: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def interpolation(self) -> np.ndarray:
        """(K,) int: 0 constant, 1 linear, 2 Bezier, higher: easing modes."""
        if self._ipo is None:
            ipo = np.empty(len(self.co), dtype=np.int32)
            self.fcurve.keyframe_points.foreach_get("interpolation", ipo)
            self._ipo = ipo
        return self._ipo

    def _read_handles(self) -> tuple[np.ndarray, np.ndarray]:
        if self._handles is None:
            n = len(self.co)
            hl = np.empty(2 * n, dtype=np.float32)
            hr = np.empty(2 * n, dtype=np.float32)
            self.fcurve.keyframe_points.foreach_get("handle_left", hl)
            self.fcurve.keyframe_points.foreach_get("handle_right", hr)
            self._handles = (hl.reshape(n, 2).astype(np.float64), hr.reshape(n, 2).astype(np.float64))
        return self._handles

    @property
    def left(self) -> np.ndarray:
        return self._read_handles()[0]

    @property
    def right(self) -> np.ndarray:
        return self._read_handles()[1]


def read_keys(fc: bpy.types.FCurve) -> Keys:
    kp = fc.keyframe_points
    n = len(kp)
    co = np.empty(2 * n, dtype=np.float32)
    kp.foreach_get("co", co)
    return Keys(fc, co.reshape(n, 2))


def read_channels(
    action: bpy.types.Action, obj: bpy.types.Object | None = None, paths: Container[str] | None = None
) -> dict[Channel, Keys]:
    """Every F-curve of ``action`` for ``obj`` (only those whose data path is in ``paths``, if given), keyed
    by (data_path, array_index)."""
    out = {}
    for fc in action_fcurves(action, obj):
        path = fc.data_path
        if paths is None or path in paths:
            out[(path, fc.array_index)] = read_keys(fc)
    return out


def _bezier_values(keys: Keys, seg: np.ndarray, x: np.ndarray) -> np.ndarray:
    p0 = keys.co[seg]
    p3 = keys.co[seg + 1]
    p1 = keys.right[seg].copy()
    p2 = keys.left[seg + 1].copy()
    # Keep handles within the segment, as Blender does, so x(t) is monotonic.
    span = p3[:, 0] - p0[:, 0]
    len1 = p1[:, 0] - p0[:, 0]
    len2 = p3[:, 0] - p2[:, 0]
    total = len1 + len2
    over = (total > span) & (total > 0)
    fac = np.where(over, span / np.where(total > 0, total, 1.0), 1.0)
    p1 = p0 + (p1 - p0) * fac[:, None]
    p2 = p3 + (p2 - p3) * fac[:, None]
    lo = np.zeros_like(x)
    hi = np.ones_like(x)
    for _ in range(40):
        t = 0.5 * (lo + hi)
        u = 1.0 - t
        xt = u**3 * p0[:, 0] + 3 * u * u * t * p1[:, 0] + 3 * u * t * t * p2[:, 0] + t**3 * p3[:, 0]
        below = xt < x
        lo = np.where(below, t, lo)
        hi = np.where(below, hi, t)
    t = 0.5 * (lo + hi)
    u = 1.0 - t
    return u**3 * p0[:, 1] + 3 * u * u * t * p1[:, 1] + 3 * u * t * t * p2[:, 1] + t**3 * p3[:, 1]


class KeyIndex:
    """Remembers, for one set of sample frames, where they fall in a curve whose keys sit on consecutive
    whole frames, so curves sharing that layout (all of a mocap take) are sampled by indexing alone."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, float], np.ndarray] = {}

    def get(self, kx: np.ndarray, frames: np.ndarray) -> np.ndarray | None:
        key = (len(kx), float(kx[0]))
        idx = self._known.get(key)
        if idx is not None:
            return idx if float(kx[-1]) == float(kx[0]) + len(kx) - 1 else None
        return None

    def put(self, kx: np.ndarray, idx: np.ndarray) -> None:
        self._known[(len(kx), float(kx[0]))] = idx


def sample_keys(keys: Keys, frames: np.ndarray, index: KeyIndex | None = None) -> np.ndarray:
    """Values of one F-curve at ``frames`` (numpy; falls back to ``FCurve.evaluate`` for modifiers, easing
    interpolations and extrapolated linear curves). ``index`` speeds up many curves with the same keys."""
    frames = np.asarray(frames, dtype=np.float64)
    fc = keys.fcurve
    n = len(keys.co)
    if n == 0:
        return np.array([fc.evaluate(float(f)) for f in frames])
    kx, ky = keys.co[:, 0], keys.co[:, 1]
    if index is not None and not len(fc.modifiers):
        cached = index.get(kx, frames)
        if cached is not None:
            return ky[cached]
    if not len(fc.modifiers) and n > 1:
        # Keys on consecutive whole frames (mocap): index directly.
        rel = frames - kx[0]
        whole = np.round(rel)
        if (kx[-1] - kx[0] == n - 1 and np.all(np.abs(rel - whole) < 1e-4) and whole.min() >= 0
                and whole.max() <= n - 1 and kx[n // 2] == kx[0] + n // 2):
            idx = whole.astype(np.int64)
            if np.all(np.abs(kx[idx] - frames) < 1e-4):
                if index is not None and np.array_equal(kx, kx[0] + np.arange(n)):
                    index.put(kx, idx)
                return ky[idx]
    pos = np.searchsorted(kx, frames)
    # Fast path: every frame is a key (dense mocap).
    hit = np.clip(pos, 0, n - 1)
    if not len(fc.modifiers) and np.all(np.abs(kx[hit] - frames) < 1e-4):
        return ky[hit]
    outside = (frames < kx[0]) | (frames > kx[-1])
    if (
        len(fc.modifiers)
        or np.any(keys.interpolation > IPO["BEZIER"])
        or (fc.extrapolation != "CONSTANT" and np.any(outside))
    ):
        return np.array([fc.evaluate(float(f)) for f in frames])
    if n == 1:
        return np.full(frames.shape, ky[0])
    seg = np.clip(np.searchsorted(kx, frames, side="right") - 1, 0, n - 2)
    x0, x1 = kx[seg], kx[seg + 1]
    t = np.clip((frames - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.0, 1.0)
    ipo = keys.interpolation[seg]
    out = np.where(ipo == IPO["CONSTANT"], ky[seg], ky[seg] + t * (ky[seg + 1] - ky[seg]))
    out = np.where(t >= 1.0, ky[seg + 1], out)
    bez = (ipo == IPO["BEZIER"]) & (t > 0) & (t < 1)
    if np.any(bez):
        # Handles longer than their segment are shortened by Blender in a way not reproduced here: ask it.
        span = keys.co[seg + 1, 0] - keys.co[seg, 0]
        reach = (keys.right[seg, 0] - keys.co[seg, 0]) + (keys.co[seg + 1, 0] - keys.left[seg + 1, 0])
        odd = bez & (reach > span + 1e-6)
        bez &= ~odd
        out[bez] = _bezier_values(keys, seg[bez], frames[bez])
        for k in np.nonzero(odd)[0]:
            out[k] = fc.evaluate(float(frames[k]))
    out = np.where(frames <= kx[0], ky[0], out)
    return np.where(frames >= kx[-1], ky[-1], out)


def sample_channels(
    action: bpy.types.Action, obj: bpy.types.Object | None, frames: np.ndarray
) -> dict[Channel, np.ndarray]:
    """Values of every F-curve of ``action`` (for ``obj``) at ``frames``."""
    return {ch: sample_keys(k, frames) for ch, k in read_channels(action, obj).items()}


def frame_range(action: bpy.types.Action, obj: bpy.types.Object | None = None) -> tuple[float, float]:
    """First and last key of the action's F-curves for ``obj``."""
    lo, hi = np.inf, -np.inf
    for fc in action_fcurves(action, obj):
        if len(fc.keyframe_points):
            r = fc.range()
            lo, hi = min(lo, r[0]), max(hi, r[1])
    if not np.isfinite(lo):
        r = action.frame_range
        return float(r[0]), float(r[1])
    return float(lo), float(hi)


def new_action(
    name: str,
    obj: bpy.types.Object,
    channels: Mapping[Channel, tuple[np.ndarray, np.ndarray]],
    groups: Mapping[str, str] | None = None,
    interpolation: str = "BEZIER",
) -> bpy.types.Action:
    """A new action holding ``channels`` ((data_path, index) -> (frames, values)) for ``obj``.

    ``groups`` maps a data path to a channel group name (e.g. the bone name). Keys are written in bulk. The
    action is not assigned (see :func:`assign_action`); on 4.4+ it gets one slot for ``obj``."""
    action = bpy.data.actions.new(name)
    if is_slotted():
        anim: Any = action
        slot = anim.slots.new(id_type="OBJECT", name=obj.name)
        layer = anim.layers.new("Layer")
        strip = layer.strips.new(type="KEYFRAME")
        bag = strip.channelbag(slot, ensure=True)

        def make(path: str, index: int, group: str) -> bpy.types.FCurve:
            return bag.fcurves.new(path, index=index, group_name=group) if group else bag.fcurves.new(path, index=index)
    else:

        def make(path: str, index: int, group: str) -> bpy.types.FCurve:
            fcurves = action.fcurves  # type: ignore[attr-defined]  # Blender < 4.4 only (removed in 5.0)
            return fcurves.new(path, index=index, action_group=group) if group else fcurves.new(path, index=index)

    ipo = IPO[interpolation]
    group_of = groups or {}
    # Channels sharing one frames array (the usual case) get their keys and handles computed together, in
    # reused buffers whose frame columns are written once per frames array.
    batches: dict[int, list[tuple[str, int]]] = {}
    for ch, (frames, _) in channels.items():
        batches.setdefault(id(frames), []).append(ch)
    chunks = [chans[i:i + 32] for chans in batches.values() for i in range(0, len(chans), 32)]  # bounded memory
    buffers: list[np.ndarray] | None = None
    filled: tuple[np.ndarray, int] | None = None  # frames whose columns the buffers hold, in how many rows
    ipo_fill: np.ndarray | None = None
    for chans in chunks:
        frames = np.asarray(channels[chans[0]][0], dtype=np.float64)
        values = np.stack([np.asarray(channels[ch][1], dtype=np.float32) for ch in chans])
        n = len(frames)
        if n > 1 and np.any(np.diff(frames) <= 0):
            order = np.argsort(frames, kind="stable")
            frames, values = frames[order], values[:, order]
        if buffers is None or buffers[0].shape[1] != 2 * n:
            buffers = [np.empty((32, 2 * n), dtype=np.float32) for _ in range(3)]
            filled = None
        same = filled is not None and len(chans) <= filled[1] and (
            filled[0] is frames or np.array_equal(filled[0], frames))
        co, left, right = _keys_and_handles(frames, values, ipo, buffers, frames_written=same)
        if not same:
            filled = (frames, len(chans))
        del values
        if ipo != IPO["BEZIER"] and (ipo_fill is None or len(ipo_fill) != n):
            ipo_fill = np.full(n, ipo, dtype=np.int32)
        for k, (path, index) in enumerate(chans):
            fc = make(path, index, group_of.get(path, ""))
            kp = fc.keyframe_points
            kp.add(n)
            kp.foreach_set("co", co[k])
            if ipo_fill is not None:
                kp.foreach_set("interpolation", ipo_fill)
            kp.foreach_set("handle_left", left[k])
            kp.foreach_set("handle_right", right[k])
    return action


def _keys_and_handles(frames: np.ndarray, values: np.ndarray, interpolation: int,
                      buffers: list[np.ndarray] | None = None, frames_written: bool = False,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat float32 (C, 2n) arrays of key coordinates and left/right handles for C curves sharing frames.
    ``buffers`` (three arrays of at least that shape, reused between calls) avoids fresh allocations;
    ``frames_written``: they already hold these frames' columns (the previous call had the same frames)."""
    c, n = values.shape
    if buffers is not None and buffers[0].shape[0] >= c and buffers[0].shape[1] == 2 * n:
        co, left, right = (b[:c] for b in buffers)
    else:
        co, left, right = (np.empty((c, 2 * n), dtype=np.float32) for _ in range(3))
        frames_written = False
    if not frames_written:
        co[:, 0::2] = frames
    co[:, 1::2] = values
    if interpolation != IPO["BEZIER"] or n < 2:
        return co, co, co
    # Handles a third of the neighbouring interval away, along the central slope (flat at both ends).
    step = np.diff(frames)
    reach_next = np.append(step, step[-1]) / 3.0
    reach_prev = np.insert(step, 0, step[0]) / 3.0
    if not frames_written:
        right[:, 0::2] = frames + reach_next
        left[:, 0::2] = frames - reach_prev
    rv, lv = right[:, 1::2], left[:, 1::2]
    for end in (0, -1):
        rv[:, end] = values[:, end]
        lv[:, end] = values[:, end]
    if n > 2:
        span = step[1:] + step[:-1]
        diff = np.subtract(values[:, 2:], values[:, :-2])
        inner = values[:, 1:-1]
        np.multiply(diff, (reach_next[1:-1] / span).astype(np.float32), out=rv[:, 1:-1])
        rv[:, 1:-1] += inner
        np.multiply(diff, (-reach_prev[1:-1] / span).astype(np.float32), out=lv[:, 1:-1])
        lv[:, 1:-1] += inner
    return co, left, right


def key_arrays(frames: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat float32 (C, 2n) key coordinates and left/right handles of Bezier keys for C curves (values
    (C, n)) sharing ``frames`` (increasing), ready for ``foreach_set`` (the handles :func:`new_action` and
    :func:`write_keys` give)."""
    return _keys_and_handles(np.asarray(frames, dtype=np.float64), np.asarray(values), IPO["BEZIER"])


def write_keys(fc: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray, interpolation: int = 2) -> None:
    """Fill an empty F-curve with ``len(frames)`` keys in one go.

    Bezier keys (the default, like Blender's own importers) get smooth handles computed here (a third of the
    neighbouring interval along the central slope); linear and constant keys get handles on the key.
    ``FCurve.update()`` is not needed and not called: keys are sorted here and their handles set, which
    saves most of the time for long takes."""
    frames = np.asarray(frames, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n = len(frames)
    if n > 1 and np.any(np.diff(frames) <= 0):
        order = np.argsort(frames, kind="stable")
        frames, values = frames[order], values[order]
    co, left, right = _keys_and_handles(frames, values[None], interpolation)
    kp = fc.keyframe_points
    kp.add(n)
    kp.foreach_set("co", co[0])
    if interpolation != IPO["BEZIER"]:
        kp.foreach_set("interpolation", np.full(n, interpolation, dtype=np.int32))
    kp.foreach_set("handle_left", left[0])
    kp.foreach_set("handle_right", right[0])


def action_slot(action: bpy.types.Action, obj: bpy.types.Object) -> object | None:
    """The slot of ``action`` meant for ``obj`` (4.4+), else None."""
    if not is_slotted():
        return None
    return _slot_for(action, obj)


def assign_action(obj: bpy.types.Object, action: bpy.types.Action) -> None:
    """Make ``action`` the object's active action (and its slot, on 4.4+)."""
    ad = obj.animation_data or obj.animation_data_create()
    ad.action = action
    if is_slotted():
        slot = _slot_for(action, None)
        if slot is not None and getattr(ad, "action_slot", None) != slot:
            ad.action_slot = slot  # type: ignore[attr-defined]


def stash_action(obj: bpy.types.Object, action: bpy.types.Action, track_name: str = "[Action Stash]") -> None:
    """Keep ``action`` in a muted NLA track of ``obj`` (as Blender's own stash does) so it is not lost."""
    ad = obj.animation_data or obj.animation_data_create()
    for track in ad.nla_tracks:
        for strip in track.strips:
            if strip.action == action:
                return
    track = ad.nla_tracks.new()
    track.name = track_name
    start = int(action.frame_range[0])
    strip = track.strips.new(action.name, start, action)
    if is_slotted() and hasattr(strip, "action_slot"):
        slot = _slot_for(action, obj)
        if slot is not None and strip.action_slot != slot:
            strip.action_slot = slot
    track.mute = True
    track.lock = False
