"""The smoothing maths (numpy only): many bones at once give what each bone alone gives, and the jitter figure
falls on a noisy take while a fast swing keeps its peak."""

from __future__ import annotations

import numpy as np
import pytest

from move_mocap.core.cleanup import smoothing as SM
from move_mocap.core.retarget import quat as Q


def _noisy_take(frames: int = 240, bones: int = 3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 60.0
    axes = rng.normal(size=(bones, 3))
    angle = 0.6 * np.sin(2 * np.pi * 0.8 * t)[:, None] + np.radians(1.5) * rng.normal(size=(frames, bones))
    return Q.from_axis_angle(np.broadcast_to(axes, (frames, bones, 3)), angle)


def test_stacked_bones_match_one_at_a_time() -> None:
    q = _noisy_take()
    keep = np.zeros(len(q))
    keep[100:140] = 1.0
    together = SM.smooth_rotations(q, 0.7, 60.0, keep)
    for b in range(q.shape[1]):
        alone = SM.smooth_rotations(q[:, b], 0.7, 60.0, keep)
        np.testing.assert_allclose(np.abs(np.sum(together[:, b] * alone, axis=-1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(together[100:140] * Q.make_continuous(q)[100:140], axis=-1)), 1.0,
                               atol=1e-12)  # kept frames are the raw motion
    p = np.cumsum(np.random.default_rng(2).normal(scale=0.01, size=(240, 2, 3)), axis=0)
    both = SM.smooth_positions(p, 0.7, 60.0)
    for b in range(2):
        np.testing.assert_allclose(both[:, b], SM.smooth_positions(p[:, b], 0.7, 60.0), atol=1e-12)


def test_jitter_falls() -> None:
    q = _noisy_take()
    before = SM.jitter([q[:, b] for b in range(q.shape[1])])
    after = SM.jitter([r for r in np.moveaxis(SM.smooth_rotations(q, 1.0, 60.0), 1, 0)])
    assert after < 0.5 * before, (before, after)


def _reference_smooth(q: np.ndarray, strength: float, fps: float, keep: np.ndarray) -> np.ndarray:
    """The filter as the module docstring states it, written independently and frame by frame for one bone:
    np.convolve over an explicitly reflected signal, speed from the angle between neighbours, the blend
    by the exponential map (q * (q^-1 s)^w) instead of the sine formula of a slerp."""
    n = len(q)
    sigma = strength * SM.MAX_SIGMA_SECONDS * fps
    r = int(min(np.ceil(3.0 * sigma), n - 1))
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    taps /= taps.sum()

    def gauss(x: np.ndarray) -> np.ndarray:  # x (n,): odd reflection about both end values
        pad = np.concatenate(([2 * x[0] - x[i] for i in range(r, 0, -1)], x,
                              [2 * x[-1] - x[n - 1 - i] for i in range(1, r + 1)]))
        return np.convolve(pad, taps[::-1], mode="valid")

    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    for f in range(1, n):
        if np.dot(q[f], q[f - 1]) < 0:
            q[f:] *= -1.0
    s = np.stack([gauss(q[:, i]) for i in range(4)], axis=1)
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    speed = np.empty(n)
    for f in range(1, n - 1):
        speed[f] = 2.0 * np.arccos(min(1.0, abs(float(np.dot(s[f - 1], s[f + 1]))))) / 2.0 * fps
    speed[0], speed[-1] = speed[1], speed[-2]
    w = np.clip(gauss(1.0 / (1.0 + (speed / SM.ROT_SPEED_REF) ** 2)), 0.0, 1.0) * (1.0 - keep)
    out = np.empty_like(q)
    for f in range(n):
        rel = Q.mul(Q.conj(q[f]), s[f])
        rel = rel if rel[0] >= 0 else -rel
        half = np.arctan2(np.linalg.norm(rel[1:]), rel[0])  # rel = (cos h, sin h axis)
        axis = rel[1:] / np.sin(half) if half > 1e-12 else np.zeros(3)
        out[f] = Q.mul(q[f], np.concatenate(([np.cos(w[f] * half)], np.sin(w[f] * half) * axis)))
    return out


def test_matches_an_independent_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short enough for the frame-by-frame reference, with blocks made small so every step runs in many of
    them (SM.frame_blocks); both ends, a kept stretch and a sign flip included."""
    monkeypatch.setattr(SM, "BLOCK_VALUES", 12 * 37)
    q = _noisy_take(frames=1500, bones=3, seed=4)
    q[700:] *= -1.0
    keep = np.zeros(len(q))
    keep[300:420] = 1.0
    keep[420:440] = np.linspace(1.0, 0.0, 20)
    assert len(SM.frame_blocks(len(q), q[0].size)) == 41
    for strength in (0.2, 0.8):
        got = SM.smooth_rotations(q, strength, 60.0, keep)
        for b in range(q.shape[1]):
            want = _reference_smooth(q[:, b].copy(), strength, 60.0, keep)
            np.testing.assert_allclose(got[:, b], want, atol=1e-9)
    p = np.cumsum(np.random.default_rng(3).normal(scale=0.01, size=(1500, 2, 3)), axis=0)
    g = SM.gaussian(p, 2.0)
    r = 6
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / 2.0) ** 2)
    taps /= taps.sum()
    pad = np.concatenate((2 * p[:1] - p[r:0:-1], p, 2 * p[-1:] - p[-2:-r - 2:-1]))
    for b in range(2):
        for i in range(3):
            np.testing.assert_allclose(g[:, b, i], np.convolve(pad[:, b, i], taps[::-1], mode="valid"), atol=1e-12)


def test_jitter_is_the_continuous_takes_second_difference() -> None:
    """The jitter figure, computed block by block with each frame's sign relative to the one before, is the
    mean second difference of the whole take made sign-continuous first, whatever each frame's sign."""
    q = _noisy_take(frames=5000, bones=2, seed=4)
    rng = np.random.default_rng(5)
    rots = [q[:, b] * rng.choice([-1.0, 1.0], size=(len(q), 1)) for b in range(q.shape[1])]
    total = 0.0
    for r in rots:
        c = Q.make_continuous(r)
        total += float(np.linalg.norm(c[2:] - 2.0 * c[1:-1] + c[:-2], axis=-1).sum())
    want = float(np.degrees(2.0 * total / ((len(q) - 2) * len(rots))))
    assert SM.jitter(rots) == pytest.approx(want, rel=1e-12)
    assert SM.jitter(rots) == pytest.approx(SM.jitter([Q.make_continuous(r) for r in rots]), rel=1e-12)
