"""Foot locking maths: planted feet stay where they were planted (numpy only, no bpy here).

For one leg over a whole take (world space, Z up):

1. :func:`plant` - each contact run gets one planted ankle position (the run's median, which moves the foot
   least), and the correction ``plant - ankle`` is blended in before and out after the run with a quintic
   ease (zero velocity and acceleration at both ends, so no pop); runs closer than two blends are joined by
   easing from one run's correction to the next.
2. :func:`two_bone_ik` - analytic two-bone IK: the knee is placed by the law of cosines in the plane of the
   knee's hinge (the plane the thigh and shin make on that frame; on a nearly straight leg, the hinge axis
   learnt from the clip's bent frames in the thigh's own frame, :func:`hinge_axis`), the thigh turns to the
   new knee carrying its twist, the shin swings to the new ankle in that plane. The foot's own world
   orientation is kept by the caller (its channel is re-derived under the new shin). Frames without a
   correction are left exactly as they were.

Only the thigh, shin and foot change; the hips and everything above are never touched, so an ankle out of
the leg's reach stays short of its target (counted in :class:`LegResult`).

Measures: :func:`slide` (how far planted feet move per frame) and :func:`max_step` (largest per-frame change
of an orientation, for pops).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..retarget import quat as Q
from .contacts import segments


def ease(t: np.ndarray) -> np.ndarray:
    """Quintic ease 0 -> 1 (smootherstep): zero first and second derivatives at both ends."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0)


def split_drifting(ankle: np.ndarray, mask: np.ndarray, max_drift: float, gap: int) -> np.ndarray:
    """``mask`` with contact runs cut where the foot drifts more than ``max_drift`` from where the run (or
    its last piece) started: the foot is re-planted there, after a ``gap``-frame ease, rather than held far
    from where the capture puts it (a shuffle, a pivot)."""
    m = np.asarray(mask, dtype=bool).copy()
    p = np.asarray(ankle, dtype=np.float64)
    for s, e in segments(m):
        anchor = s
        f = s
        while f < e:
            if np.linalg.norm(p[f] - p[anchor]) > max_drift and f - anchor > gap:
                cut = min(f + gap, e)
                m[f:cut] = False
                anchor = cut
                f = cut
            else:
                f += 1
    return m


def plant(ankle: np.ndarray, mask: np.ndarray, blend: int) -> tuple[np.ndarray, np.ndarray]:
    """Correction (F, 3) to add to the ankle so it stays planted during ``mask``'s runs, and the weight
    (F,) of locking (1 in contact, easing to 0 over ``blend`` frames on each side)."""
    p = np.asarray(ankle, dtype=np.float64)
    n = len(p)
    corr = np.zeros((n, 3))
    weight = np.zeros(n)
    runs = segments(mask)
    if not runs:
        return corr, weight
    blend = max(int(blend), 1)
    for s, e in runs:
        corr[s:e] = np.median(p[s:e], axis=0) - p[s:e]
        weight[s:e] = 1.0
    # Before the first run and after the last: ease in from / out to no correction.
    for k, (s, e) in enumerate(runs):
        prev_end = runs[k - 1][1] if k else None
        nxt_start = runs[k + 1][0] if k + 1 < len(runs) else None
        if prev_end is None:
            lo = max(0, s - blend)
            t = ease((np.arange(lo, s) - (s - blend - 1)) / (blend + 1))
            corr[lo:s] = t[:, None] * corr[s]
            weight[lo:s] = t
        if nxt_start is None or nxt_start - e > 2 * blend:
            hi = min(n, e + blend)
            t = ease(1.0 - (np.arange(e, hi) - (e - 1)) / (blend + 1))
            corr[e:hi] = t[:, None] * corr[e - 1]
            weight[e:hi] = t
            if nxt_start is not None:
                lo = max(hi, nxt_start - blend)
                t = ease((np.arange(lo, nxt_start) - (nxt_start - blend - 1)) / (blend + 1))
                corr[lo:nxt_start] = t[:, None] * corr[nxt_start]
                weight[lo:nxt_start] = t
        else:
            # A short gap: ease from this run's correction to the next one's.
            gap = np.arange(e, nxt_start)
            t = ease((gap - (e - 1)) / (nxt_start - e + 1))
            corr[e:nxt_start] = (1.0 - t)[:, None] * corr[e - 1] + t[:, None] * corr[nxt_start]
            weight[e:nxt_start] = np.maximum(1.0 - t, t)
    return corr, weight


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n < 1e-12, 1.0, n)


def hinge_axis(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, thigh_rot: np.ndarray,
               fallback: np.ndarray) -> np.ndarray:
    """The knee's hinge axis in the thigh's own frame (3,), averaged over the frames where the knee bends
    more than 20 degrees; ``fallback`` (thigh frame) when it never does."""
    u = knee - hip
    v = ankle - knee
    c = np.cross(u, v)
    s = np.linalg.norm(c, axis=-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-12)
    bent = s > np.sin(np.radians(20.0))
    if bent.sum() < 3:
        return _unit(np.asarray(fallback, dtype=np.float64))
    local = Q.rotate(Q.conj(thigh_rot[bent]), _unit(c[bent]))
    return _unit(local.mean(axis=0))


@dataclass
class LegResult:
    thigh: np.ndarray  # (F, 4) new world orientations
    shin: np.ndarray
    changed: np.ndarray  # (F,) bool: frames that were corrected
    short: int  # frames whose target was out of the leg's reach (the ankle stops short)


def _frame(u: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Rotation matrices (F, 3, 3) with columns u, n (made orthogonal to u), u x n."""
    u = _unit(u)
    n = _unit(n - np.sum(n * u, axis=-1, keepdims=True) * u)
    return np.stack((u, n, np.cross(u, n)), axis=-1)


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray,
                thigh_rot: np.ndarray, shin_rot: np.ndarray, hinge_local: np.ndarray,
                changed: np.ndarray | None = None) -> LegResult:
    """New thigh and shin orientations (world) bringing the ankle to ``target`` (all (F, ...) arrays, one
    space). ``changed`` (F,) bool limits the work to those frames (default: where target != ankle)."""
    if changed is None:
        changed = np.linalg.norm(target - ankle, axis=-1) > 1e-9
    thigh_out = np.array(thigh_rot, dtype=np.float64, copy=True)
    shin_out = np.array(shin_rot, dtype=np.float64, copy=True)
    idx = np.nonzero(changed)[0]
    if not len(idx):
        return LegResult(thigh_out, shin_out, changed, 0)
    h, k, a, t = hip[idx], knee[idx], ankle[idx], target[idx]
    tq, sq = thigh_rot[idx], shin_rot[idx]
    l1 = np.linalg.norm(k - h, axis=-1)
    l2 = np.linalg.norm(a - k, axis=-1)
    # The hinge: the leg's own plane where it bends, the learnt axis where it is nearly straight.
    cross = np.cross(k - h, a - k) / np.maximum(l1 * l2, 1e-12)[:, None]
    learnt = Q.rotate(tq, np.broadcast_to(hinge_local, (len(idx), 3)))
    hinge_old = _unit(cross + 0.05 * learnt)
    d = t - h
    dist = np.linalg.norm(d, axis=-1)
    lo = np.abs(l1 - l2) + 1e-6
    hi = (l1 + l2) * (1.0 - 1e-6)
    short = int(np.count_nonzero(dist > hi))
    dist_c = np.clip(dist, lo, hi)
    dhat = _unit(d)
    hinge_new = _unit(hinge_old - np.sum(hinge_old * dhat, axis=-1, keepdims=True) * dhat)
    bend = _unit(np.cross(dhat, hinge_new))
    along = (l1 * l1 + dist_c * dist_c - l2 * l2) / (2.0 * dist_c)
    up = np.sqrt(np.maximum(l1 * l1 - along * along, 0.0))
    knee_new = h + along[:, None] * dhat + up[:, None] * bend
    ankle_new = h + dist_c[:, None] * dhat
    # Thigh: the frame (thigh direction, hinge) turned onto the new one, which carries its twist.
    r1 = _frame(knee_new - h, hinge_new) @ np.swapaxes(_frame(k - h, hinge_old), -1, -2)
    q1 = Q.from_matrix(r1)
    shin_dir = Q.rotate(q1, a - k)
    q2 = Q.swing(_unit(shin_dir), _unit(ankle_new - knee_new))
    thigh_out[idx] = Q.normalize(Q.mul(q1, tq))
    shin_out[idx] = Q.normalize(Q.mul(q2, Q.mul(q1, sq)))
    return LegResult(thigh_out, shin_out, changed, short)


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in radians of the rotation between orientations ``a`` and ``b`` (either sign)."""
    d = np.abs(np.sum(Q.normalize(a) * Q.normalize(b), axis=-1))
    return 2.0 * np.arccos(np.clip(d, 0.0, 1.0))


def slide(points: np.ndarray, mask: np.ndarray) -> float:
    """Mean distance (same unit as ``points``) a point moves per frame between consecutive contact frames."""
    m = np.asarray(mask, dtype=bool)
    both = m[1:] & m[:-1]
    if not both.any():
        return 0.0
    step = np.linalg.norm(np.diff(np.asarray(points, dtype=np.float64), axis=0), axis=-1)
    return float(step[both].mean())


def added_step(before: np.ndarray, after: np.ndarray, frames: np.ndarray) -> float:
    """Largest increase, in degrees, of the per-frame change of an orientation (F, 4) over the original's,
    on steps touching ``frames`` (the blends): a pop the clean-up added, not one the capture had."""
    b = np.degrees(quat_angle(before[1:], before[:-1]))
    a = np.degrees(quat_angle(after[1:], after[:-1]))
    sel = np.asarray(frames, dtype=np.int64)
    sel = np.unique(np.concatenate((sel - 1, sel)))
    sel = sel[(sel >= 0) & (sel < len(a))]
    return float(np.max(a[sel] - b[sel], initial=0.0))


def max_step(rot: np.ndarray, frames: np.ndarray | None = None) -> float:
    """Largest change of orientation between consecutive frames, in degrees (only steps ending at
    ``frames`` if given)."""
    q = np.asarray(rot, dtype=np.float64)
    ang = np.degrees(quat_angle(q[1:], q[:-1]))
    if frames is not None:
        sel = np.asarray(frames, dtype=np.int64)
        sel = sel[(sel >= 1) & (sel < len(q))] - 1
        ang = ang[sel]
    return float(ang.max()) if len(ang) else 0.0
