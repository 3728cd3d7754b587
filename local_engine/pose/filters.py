"""Temporal filtering of landmark trajectories: gap filling, a zero-phase Butterworth low-pass (scipy's
``filtfilt``, what Pose2Sim applies to multi-view results) and the One Euro filter (speed-adaptive low-pass:
strong smoothing when a joint is still, little lag when it moves fast), run forward and backward so the whole
take is filtered without phase lag. numpy/scipy on (frames, ...) arrays; it must not know about skeletons or
video. No bpy here.
"""

from __future__ import annotations

import numpy as np


def fill_gaps(values: np.ndarray, max_gap: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate NaN frames (per channel) along axis 0; ends are held at the nearest valid frame.

    Returns (filled, valid) where ``valid[f]`` says frame f was observed. Gaps longer than ``max_gap``
    frames are still filled (a skeleton must exist on every frame) but reported as not valid.
    """
    v = np.asarray(values, dtype=np.float64)
    flat = v.reshape(len(v), -1)
    ok = np.isfinite(flat).all(axis=1)
    out = flat.copy()
    if not ok.any():
        return v.copy(), ok
    idx = np.arange(len(v))
    good = idx[ok]
    for c in range(flat.shape[1]):
        out[:, c] = np.interp(idx, good, flat[ok, c])
    return out.reshape(v.shape), ok


def butterworth_zero_phase(values: np.ndarray, fps: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth low-pass of ``order`` run forward and backward along axis 0 (no lag; the effective order
    doubles). Clips too short for the filter's padding, or a cutoff at or above Nyquist, are returned as is."""
    from scipy.signal import butter, filtfilt

    x = np.asarray(values, dtype=np.float64)
    nyquist = 0.5 * fps
    if cutoff_hz >= nyquist or len(x) <= 3 * (order + 1):
        return x.copy()
    b, a = butter(order, cutoff_hz / nyquist)
    return filtfilt(b, a, x, axis=0, padtype="odd", padlen=min(len(x) - 1, 3 * max(len(a), len(b))))


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(values: np.ndarray, fps: float, min_cutoff: float = 1.5, beta: float = 0.3,
             d_cutoff: float = 1.0, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """Causal One Euro filter (Casiez et al. 2012) along axis 0 of an array of trajectories.

    ``min_cutoff`` (Hz) sets the smoothing at rest, ``beta`` how fast the cutoff rises with speed (speed in
    units of ``scale`` per second, so one beta serves metres and pixels alike). Speed is taken per point
    (the norm over the last axis), so all coordinates of a point share one cutoff.
    """
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        return x.copy()
    dt = 1.0 / fps
    out = np.empty_like(x)
    prev = x[0]
    dprev = np.zeros((*x.shape[1:-1], 1))
    out[0] = prev
    a_d = _alpha(d_cutoff, dt)
    for i in range(1, len(x)):
        speed = np.linalg.norm(x[i] - prev, axis=-1, keepdims=True) / dt / scale
        dprev = a_d * speed + (1 - a_d) * dprev
        a = _alpha(min_cutoff + beta * dprev, dt)
        prev = a * x[i] + (1 - a) * prev
        out[i] = prev
    return out


def one_euro_zero_phase(values: np.ndarray, fps: float, **kw: float) -> np.ndarray:
    """One Euro run forward and backward, averaged: the lags of the two passes cancel (offline use)."""
    fwd = one_euro(values, fps, **kw)
    bwd = one_euro(np.asarray(values)[::-1], fps, **kw)[::-1]
    return 0.5 * (fwd + bwd)


def jitter(values: np.ndarray) -> float:
    """Mean norm of the second difference (frame-to-frame acceleration) of (frames, ..., d) trajectories."""
    x = np.asarray(values, dtype=np.float64)
    acc = np.diff(x, n=2, axis=0)
    n = np.linalg.norm(acc, axis=-1)
    return float(np.nanmean(n))
