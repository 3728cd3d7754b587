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

:func:`jitter` is the figure reported before and after: the mean angular acceleration, degrees per frame^2.
"""

from __future__ import annotations

import numpy as np

from ..retarget import quat as Q

MAX_SIGMA_SECONDS = 0.05
ROT_SPEED_REF = 6.0  # rad/s: at this speed half of the smoothing is kept
LOC_SPEED_REF = 1.5  # m/s (scaled by the caller's unit)


def sigma_frames(strength: float, fps: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"smoothing strength must be between 0 and 1 (got {strength})")
    return float(strength) * MAX_SIGMA_SECONDS * float(fps)


def gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-filtered copy of ``x`` (F, ...) along frames, zero phase, ends padded by odd reflection."""
    x = np.asarray(x, dtype=np.float64)
    if sigma < 0.3 or len(x) < 3:
        return x.copy()
    r = int(min(np.ceil(3.0 * sigma), len(x) - 1))
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    taps /= taps.sum()
    head = 2.0 * x[:1] - x[r:0:-1]
    tail = 2.0 * x[-1:] - x[-2:-r - 2:-1]
    padded = np.concatenate((head, x, tail))
    out = np.zeros_like(x)
    n = len(x)
    for k, w in enumerate(taps):  # 2r+1 vector operations over the whole clip
        out += w * padded[k:k + n]
    return out


def _adaptive_weight(speed: np.ndarray, ref: float, sigma: float, keep: np.ndarray | None) -> np.ndarray:
    w = 1.0 / (1.0 + (speed / ref) ** 2)
    w = np.clip(gaussian(w, sigma), 0.0, 1.0)
    if keep is not None:
        k = np.clip(np.asarray(keep, dtype=np.float64), 0.0, 1.0)
        w = w * (1.0 - k.reshape(k.shape + (1,) * (w.ndim - k.ndim)))
    return w


def smooth_rotations(q: np.ndarray, strength: float, fps: float, keep: np.ndarray | None = None) -> np.ndarray:
    """Smoothed orientations (F, 4) of one bone, or (F, B, 4) of several at once (see the module
    docstring); ``keep`` (F,) applies to all."""
    sigma = sigma_frames(strength, fps)
    q = Q.make_continuous(Q.normalize(np.asarray(q, dtype=np.float64)))
    if sigma < 0.3 or len(q) < 3:
        return q
    s = Q.normalize(gaussian(q, sigma))
    d = np.abs(np.sum(s[2:] * s[:-2], axis=-1))
    speed = np.empty(q.shape[:-1])
    speed[1:-1] = np.arccos(np.clip(d, 0.0, 1.0)) * fps  # 2 acos(d) / 2 frames
    speed[0], speed[-1] = speed[1], speed[-2]
    w = _adaptive_weight(speed, ROT_SPEED_REF, sigma, keep)
    return Q.slerp(q, s, w)


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
    """Mean angular acceleration (degrees per frame^2) over bones' orientations (each (F, 4), one length)."""
    if not rots or len(rots[0]) < 3:
        return 0.0
    q = Q.make_continuous(Q.normalize(np.stack([np.asarray(r, dtype=np.float64) for r in rots], axis=1)))
    acc = q[2:] - 2.0 * q[1:-1] + q[:-2]
    return float(np.degrees(2.0 * np.sqrt(np.einsum("...i,...i->...", acc, acc))).mean())
