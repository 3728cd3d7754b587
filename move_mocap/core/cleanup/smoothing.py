"""Zero-phase, velocity-adaptive smoothing of rotations and positions (numpy only, no bpy here).

The filter, and why:

- **Zero phase**: a Gaussian kernel, symmetric in time, applied over the whole clip (edges padded by odd
  reflection, which keeps the end slopes). A causal filter (one-euro, a one-pass Butterworth) lags, so
  contacts and hits would land late; running a recursive filter forwards and backwards removes the lag but
  a Butterworth overshoots on fast changes, a Gaussian never does.
- **Rotation space**: each bone's rotations are made sign-continuous and averaged as quaternions (the
  normalised, weighted chordal mean), which is the rotation-space mean to second order for the few degrees a
  window of a few hundredths of a second spans; Euler channels are never filtered directly (gimbal flips).
- **Velocity-adaptive**: the smoothed result is blended back onto the raw one per frame by
  ``1 / (1 + (speed / speed_ref)^2)``, the speed measured on the smoothed motion: jitter (small, fast
  reversals, low net speed) is removed, a fast swing or a kick (high net speed) keeps its shape and peak.
  The blend weight is itself smoothed so it adds no jitter. ``keep`` (per frame, 0..1) holds the raw motion
  where it must not move (the bpy layer re-plants locked feet after smoothing instead).
- **One strength control** (0..1): the kernel's width, up to 50 ms (sigma), i.e. a cut-off from about
  30 Hz (0.1) down to about 3 Hz (1.0).
- **Linear in the take's length**: every step runs over blocks of frames (:func:`frame_blocks`) whose
  temporaries stay in the cache, so a 10-minute take costs ten times a 1-minute one, per frame the same.

:func:`jitter` is the figure reported before and after: the mean angular acceleration, degrees per frame^2.
"""

from __future__ import annotations

import numpy as np

from ..retarget import quat as Q

MAX_SIGMA_SECONDS = 0.05
BLOCK_VALUES = 1 << 15  # values per block (256 KiB of float64): see frame_blocks
ROT_SPEED_REF = 6.0  # rad/s: at this speed half of the smoothing is kept
LOC_SPEED_REF = 1.5  # m/s (scaled by the caller's unit)


def sigma_frames(strength: float, fps: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"smoothing strength must be between 0 and 1 (got {strength})")
    return float(strength) * MAX_SIGMA_SECONDS * float(fps)


def frame_blocks(n: int, per_frame: int) -> list[slice]:
    """Consecutive slices covering ``n`` frames, each about :data:`BLOCK_VALUES` values of ``per_frame``.

    Every step of a filter runs block by block, so its temporaries stay in the core's cache whatever the take's
    length: one pass over a whole 10-minute take would make arrays of tens of MiB, each one a fresh mapping
    whose pages are faulted in again and that falls out of the cache between steps, which made the smoothing
    cost grow faster than the take (about 1.6x per frame from 6,000 to 36,000 frames)."""
    step = max(16, BLOCK_VALUES // max(1, per_frame))
    return [slice(a, min(n, a + step)) for a in range(0, n, step)]


def gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-filtered copy of ``x`` (F, ...) along frames, zero phase, ends padded by odd reflection."""
    x = np.asarray(x, dtype=np.float64)
    if sigma < 0.3 or len(x) < 3:
        return x.copy()
    n = len(x)
    r = int(min(np.ceil(3.0 * sigma), n - 1))
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    taps /= taps.sum()
    head = 2.0 * x[:1] - x[r:0:-1]
    tail = 2.0 * x[-1:] - x[-2:-r - 2:-1]
    out = np.empty_like(x)
    for blk in frame_blocks(n, x[0].size):
        a, b = blk.start, blk.stop
        # The block's input with r frames either side (the padding only at the clip's ends).
        lo, hi = a - r, b + r
        src = x[max(lo, 0):min(hi, n)]
        if lo < 0 or hi > n:
            src = np.concatenate((head[len(head) + lo:] if lo < 0 else src[:0], src,
                                  tail[:hi - n] if hi > n else src[:0]))
        acc = out[blk]
        np.multiply(src[:b - a], taps[0], out=acc)
        tmp = np.empty_like(acc)
        for k in range(1, 2 * r + 1):  # 2r+1 vector operations over the block
            acc += np.multiply(src[k:k + b - a], taps[k], out=tmp)
    return out


def _adaptive_weight(speed: np.ndarray, ref: float, sigma: float, keep: np.ndarray | None) -> np.ndarray:
    w = speed / ref  # 1 / (1 + (speed / ref)^2), in place
    np.multiply(w, w, out=w)
    w += 1.0
    np.divide(1.0, w, out=w)
    w = np.clip(gaussian(w, sigma), 0.0, 1.0)
    if keep is not None:
        k = np.clip(np.asarray(keep, dtype=np.float64), 0.0, 1.0)
        w *= 1.0 - k.reshape(k.shape + (1,) * (w.ndim - k.ndim))
    return w


def _continuous(q: np.ndarray) -> np.ndarray:
    """Unit, sign-continuous copy of ``q`` (F, ..., 4) (the sign of a dot product does not depend on the
    length, so the flips are found first and the copy normalised in place, block by block)."""
    q = Q.make_continuous(np.asarray(q, dtype=np.float64))
    for blk in frame_blocks(len(q), q[0].size):
        q[blk] = Q.normalize(q[blk])
    return q


def smooth_rotations(q: np.ndarray, strength: float, fps: float, keep: np.ndarray | None = None) -> np.ndarray:
    """Smoothed orientations (F, 4) of one bone, or (F, B, 4) of several at once (see the module
    docstring); ``keep`` (F,) applies to all."""
    sigma = sigma_frames(strength, fps)
    q = _continuous(q)
    if sigma < 0.3 or len(q) < 3:
        return q
    s = gaussian(q, sigma)
    n = len(q)
    speed = np.empty(q.shape[:-1])
    for blk in frame_blocks(n, q[0].size):
        s[blk] = Q.normalize(s[blk])
    for blk in frame_blocks(n - 2, q[0].size):  # 2 acos(|s[f+1] . s[f-1]|) / 2 frames
        d = np.abs(np.einsum("...i,...i->...", s[blk.start + 2:blk.stop + 2], s[blk]))
        speed[blk.start + 1:blk.stop + 1] = np.arccos(np.clip(d, 0.0, 1.0, out=d), out=d) * fps
    speed[0], speed[-1] = speed[1], speed[-2]
    w = _adaptive_weight(speed, ROT_SPEED_REF, sigma, keep)
    out = np.empty_like(q)
    for blk in frame_blocks(n, q[0].size):
        out[blk] = Q.slerp(q[blk], s[blk], w[blk])
    return out


def smooth_positions(p: np.ndarray, strength: float, fps: float, unit: float = 1.0,
                     keep: np.ndarray | None = None) -> np.ndarray:
    """Smoothed positions (F, 3), or (F, B, 3) of several bones at once; ``unit``: metres per unit of ``p``
    (for the speed reference)."""
    sigma = sigma_frames(strength, fps)
    p = np.asarray(p, dtype=np.float64)
    if sigma < 0.3 or len(p) < 3:
        return p.copy()
    s = gaussian(p, sigma)
    speed = np.linalg.norm(np.gradient(s, axis=0), axis=-1) * fps * unit
    w = _adaptive_weight(speed, LOC_SPEED_REF, sigma, keep)
    return p + w[..., None] * (s - p)


def jitter(rots: list[np.ndarray]) -> float:
    """Mean angular acceleration (degrees per frame^2) over bones' orientations (each (F, 4) unit quaternions,
    one length), one bone at a time. The second difference of the sign-continuous quaternions, with each
    frame's sign taken relative to the frame before it (the same as making the whole take continuous first:
    the sign of the three frames as a whole does not change the length), block by block without a copy."""
    if not rots or len(rots[0]) < 3:
        return 0.0
    total = 0.0
    for r in rots:
        q = np.asarray(r, dtype=np.float64)
        for blk in frame_blocks(len(q) - 2, q[0].size):
            a, b = blk.start, blk.stop
            q0, q1, q2 = q[a:b], q[a + 1:b + 1], q[a + 2:b + 2]
            s1 = np.where(np.einsum("...i,...i->...", q1, q0) < 0, -1.0, 1.0)[..., None]
            s2 = np.where(np.einsum("...i,...i->...", q2, q1) < 0, -1.0, 1.0)[..., None] * s1
            acc = q2 * s2
            acc -= 2.0 * s1 * q1
            acc += q0
            total += float(np.sqrt(np.einsum("...i,...i->...", acc, acc)).sum())
    return float(np.degrees(2.0 * total / ((len(rots[0]) - 2) * len(rots))))
