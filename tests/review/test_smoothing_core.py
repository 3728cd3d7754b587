"""The smoothing maths (numpy only): many bones at once give what each bone alone gives, and the jitter figure
falls on a noisy take while a fast swing keeps its peak."""

from __future__ import annotations

import numpy as np

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
