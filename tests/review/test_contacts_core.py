"""The clean-ups' contact detector's hysteresis (numpy only): the one-pass vectorised form gives what the
state machine gives frame by frame, for thresholds that never hold together (the detector's) and for ones
that can (the loop); stored contacts read at a retarget's frames."""

from __future__ import annotations

import numpy as np

from move_mocap.core.cleanup import contacts as C


def _frame_by_frame(on: np.ndarray, off: np.ndarray) -> np.ndarray:
    out = np.zeros(len(on), dtype=bool)
    state = False
    for i in range(len(on)):
        state = not off[i] if state else bool(on[i])
        out[i] = state
    return out


def test_hysteresis_matches_the_state_machine() -> None:
    rng = np.random.default_rng(3)
    for trial in range(300):
        x = np.cumsum(rng.normal(size=int(rng.integers(1, 400))))  # a wandering signal
        x = (x - x.min()) / (np.ptp(x) or 1.0)
        on, off = x < 0.3, (x > 0.6) if trial % 2 else (x > 0.25)  # disjoint, then overlapping thresholds
        got = C._hysteresis(on, off)
        np.testing.assert_array_equal(got, _frame_by_frame(on, off), err_msg=str(trial))
    # A contact is held between the thresholds and ends only past the looser one.
    x = np.array([0.9, 0.2, 0.4, 0.5, 0.7, 0.4, 0.1])
    np.testing.assert_array_equal(C._hysteresis(x < 0.3, x > 0.6), [0, 1, 1, 1, 0, 0, 1])


def test_stored_contacts_at_a_retargets_frames() -> None:
    """The per-frame ints an action stores round-trip; read at a retarget's source frames (a sub-range, another
    frame rate) each new frame gets the nearest stored frame's contacts, none outside the stored ones."""
    mask = np.zeros((10, 2), dtype=bool)
    mask[2:6, 0] = True
    mask[5:9, 1] = True
    bits = C.encode_stored(mask)
    assert bits == [0, 0, 1, 1, 1, 3, 2, 2, 2, 0]
    np.testing.assert_array_equal(C.decode_stored(bits), mask)
    # Stored from frame 1; the retarget reads frames 3..7 (same rate), then every half frame from 5, then past the end.
    np.testing.assert_array_equal(C.at_frames(mask, 1.0, np.arange(3.0, 8.0)), mask[2:7])
    half = C.at_frames(mask, 1.0, 5.0 + 0.5 * np.arange(6))
    np.testing.assert_array_equal(half, mask[[4, 4, 5, 6, 6, 6]])  # rint: halves to even
    np.testing.assert_array_equal(C.at_frames(mask, 1.0, np.array([0.0, 10.0, 11.0, 12.0])),
                                  [[False, False], mask[9], [False, False], [False, False]])
