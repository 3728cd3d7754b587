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
    frame rate) each new frame gets the nearest stored frame's contacts (halves round up); frames outside the
    stored ones are unknown (None: detect), not "never planted"."""
    mask = np.zeros((10, 2), dtype=bool)
    mask[2:6, 0] = True
    mask[5:9, 1] = True
    bits = C.encode_stored(mask)
    assert bits == [0, 0, 1, 1, 1, 3, 2, 2, 2, 0]
    np.testing.assert_array_equal(C.decode_stored(bits), mask)
    # Stored from frame 1; the retarget reads frames 3..7 (same rate), then every half frame from 5, then past the end.
    np.testing.assert_array_equal(C.at_frames(mask, 1.0, np.arange(3.0, 8.0)), mask[2:7])
    half = C.at_frames(mask, 1.0, 5.0 + 0.5 * np.arange(6))
    np.testing.assert_array_equal(half, mask[[4, 5, 5, 6, 6, 7]])  # floor(x + 0.5): every edge moves alike
    # At double the rate each stored frame is read exactly twice (no wobble of the edges).
    double = C.at_frames(mask, 1.0, 1.0 + 0.5 * np.arange(18))
    assert double is not None
    np.testing.assert_array_equal(double[0::2], mask[:9])
    np.testing.assert_array_equal(double[1::2], mask[1:])
    assert C.at_frames(mask, 1.0, np.array([0.0, 10.0])) is None  # starts before the stored frames
    assert C.at_frames(mask, 1.0, np.array([9.0, 10.0, 11.0])) is None  # runs past them
    np.testing.assert_array_equal(C.at_frames(mask, 1.0, np.array([0.6, 10.4])), mask[[0, 9]])


def test_read_stored_accepts_only_bounded_int_arrays() -> None:
    """The one validator of a stored property (a downloaded .blend may hold anything): int/bool arrays of 0..3
    are read up to the action's span; floats (inf, 1e300), strings, negatives, values above 3, nested or
    oversized arrays give None and a warning naming the problem and that contacts will be detected."""
    mask, warn = C.read_stored([0, 1, 2, 3, 3], 4)
    assert warn == "" and mask is not None
    np.testing.assert_array_equal(mask, [[0, 0], [1, 0], [0, 1], [1, 1]])  # read up to the span only
    mask, warn = C.read_stored(np.array([True, False]), 10)
    assert warn == "" and mask is not None and mask.shape == (2, 2)
    assert C.read_stored(None, 10) == (None, "")
    for bad, word in (([1.0, float("inf")], "not ints"), ([1e300], "not ints"), ("3333", "str"),
                      ([0, -1, 2], "0..3"), ([4], "0..3"), ([[1, 2]], "not ints"), ([2**70], "ints"),
                      (range(C.MAX_STORED + 1), "more than"), (3, "int")):
        mask, warn = C.read_stored(bad, 10)
        assert mask is None and word in warn and "detected" in warn and C.STORED_PROP in warn, (bad, warn)


def test_contacts_on_the_keyed_frame_grid() -> None:
    """Samples keyed at their own frames (a dropped sample leaves a gap): one row per frame of the span, a
    gap frame taking the nearest sample's contacts; the span is bounded."""
    frames = np.array([10, 11, 13, 14, 17])
    mask = np.array([[1, 0], [0, 0], [1, 1], [0, 1], [1, 0]], dtype=bool)
    grid = C.on_frame_grid(frames, mask)
    np.testing.assert_array_equal(grid, mask[[0, 1, 1, 2, 3, 3, 4, 4]])  # 12 ties: the earlier; 15 -> 14, 16 -> 17
    try:
        C.on_frame_grid(np.array([0, C.MAX_STORED]), mask[:2])
    except ValueError as exc:
        assert "spans" in str(exc)
    else:
        raise AssertionError("an unbounded span was accepted")
