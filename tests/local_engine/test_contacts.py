"""The engine's one foot-contact detector (local_engine.contacts) on real motion capture: CMU 01_03 walking,
replayed onto Move's skeleton. Walking always has a foot on the floor, each foot is planted for well over a
third of a stride and swings for the rest, and a planted foot is low and still."""

from __future__ import annotations

import numpy as np
import pytest

from local_engine.contacts import hysteresis
from local_engine.kinematics import forward_kinematics
from local_engine.solvers import make_solver
from local_engine.solvers.base import SolveRequest

WALKS = ((0.5, 2.5), (13.5, 15.5), (28.0, 30.5))  # seconds of CMU 01_03 where the subject walks


@pytest.mark.parametrize("window", WALKS)
def test_walking_contacts(cmu_bvh, tmp_path, window):
    (motion,) = make_solver("replay", motion=cmu_bvh).solve(
        SolveRequest(cameras=[], work_dir=tmp_path, clip_window=window)).motions
    c = motion.foot_contacts
    edge = int(0.2 * motion.fps)  # the clip's ends, where a speed has only one side to be judged from
    assert c[edge:-edge].any(1).mean() > 0.95  # a walking body stands on something
    assert (c.all(1).mean() > 0.05) and (c.all(1).mean() < 0.6)  # double support, not standing still
    share = c.mean(0)
    assert ((share > 0.35) & (share < 0.85)).all(), share
    heads, _ = forward_kinematics(motion)
    i = {b: k for k, b in enumerate(motion.bones)}
    for k, side in enumerate(("Left", "Right")):
        runs = np.diff(np.concatenate([[0], c[:, k].astype(int), [0]]))
        assert (runs == 1).sum() >= 1 and (~c[:, k]).any(), side  # planted, then swinging
        ball = heads[:, i[side + "ToeBase"]]
        both = c[1:, k] & c[:-1, k]
        swing = ~c[1:, k] & ~c[:-1, k]
        step = np.linalg.norm(np.diff(ball[:, :2], axis=0), axis=1) * motion.fps
        assert np.median(step[both]) < 0.2 < np.median(step[swing]), side  # m/s: still when planted


def test_hysteresis_keeps_a_contact_through_noise_and_drops_blips():
    fps = 60.0
    h = np.full(120, 0.2)
    h[20:80] = 0.03
    h[50] = 0.08  # above the start threshold, below the release one: the contact goes on
    v = np.zeros(120)
    v[100:103] = 0.0
    h[100:103] = 0.0  # three frames (0.05 s) low and still: too short to be a contact
    out = hysteresis(h, v, fps)
    assert out[20:80].all() and not out[:20].any() and not out[80:].any()
