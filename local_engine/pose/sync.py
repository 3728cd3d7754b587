"""Synchronising cameras from what they film: per-camera frame offsets estimated from the person's motion
(the lag at which two views' landmarks agree best with one epipolar geometry: correlating image speeds was
tried and is biased by the viewing angle, 5 frames off on pose2sim's synchronised demo), or from a clap (the instant the hands meet, found from the wrists' motion within a time window).

Works on landmark arrays (local_engine.pose.blazepose.PoseTrack fields); it must not decode video or run
models. No bpy here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .blazepose import LM


class SyncError(ValueError):
    """The cameras cannot be synchronised from the footage; the message says what to do."""


def clap_frame(image: np.ndarray, visibility: np.ndarray, times: np.ndarray, window: tuple[float, float]) -> float:
    """The (fractional) frame within ``window`` (seconds) where the hands meet after moving towards each other
    fastest: the closing speed of the wrists, in torso lengths per frame, peaks just before contact; the
    clap is the first minimum of the wrists' distance after that peak. Raises SyncError when the hands never
    come together in the window."""
    uv = np.asarray(image, np.float64)
    t = np.asarray(times, np.float64)
    inside = np.nonzero((t >= window[0]) & (t <= window[1]))[0]
    if len(inside) < 5:
        raise SyncError(f"The clap window {window[0]:g}-{window[1]:g} s holds fewer than 5 frames of the footage.")
    sh = 0.5 * (uv[:, LM["left_shoulder"]] + uv[:, LM["right_shoulder"]])
    hp = 0.5 * (uv[:, LM["left_hip"]] + uv[:, LM["right_hip"]])
    torso = np.nanmedian(np.linalg.norm(sh - hp, axis=1)[inside])
    vis = np.asarray(visibility)
    d = np.linalg.norm(uv[:, LM["left_wrist"]] - uv[:, LM["right_wrist"]], axis=1) / torso
    d = np.where((vis[:, LM["left_wrist"]] > 0.3) & (vis[:, LM["right_wrist"]] > 0.3), d, np.nan)
    dd = d[inside]
    if np.isfinite(dd).sum() < 5:
        raise SyncError("The hands are not visible in the clap window: clap where every camera sees both hands.")
    closing = -np.diff(dd)  # positive while the hands approach
    closing = np.where(np.isfinite(closing), closing, -np.inf)
    order = np.argsort(-closing)
    for i in order[:5]:
        if closing[i] <= 0:
            break
        j = i + 1
        while j + 1 < len(dd) and np.isfinite(dd[j + 1]) and dd[j + 1] < dd[j]:
            j += 1
        if dd[j] < 0.35 and np.nanmax(dd[max(0, i - 10):i + 1]) > dd[j] + 0.3:
            # sub-frame: a parabola through the minimum and its neighbours
            if 0 < j < len(dd) - 1 and np.isfinite(dd[j - 1:j + 2]).all():
                a, b, c = dd[j - 1], dd[j], dd[j + 1]
                den = a - 2 * b + c
                frac = 0.5 * (a - c) / den if den > 1e-9 else 0.0
                return float(inside[j] + np.clip(frac, -0.5, 0.5))
            return float(inside[j])
    raise SyncError(f"No clap was found between {window[0]:g} and {window[1]:g} s: the hands never came together "
                    "after a fast approach. Clap once, hands well apart first, where every camera sees them, "
                    "and give a window around it.")


def _sampson(E: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sampson distances of normalised correspondences a <-> b (M, 2) to the epipolar geometry E."""
    x1 = np.c_[a, np.ones(len(a))]
    x2 = np.c_[b, np.ones(len(b))]
    Ex1 = x1 @ E.T
    Etx2 = x2 @ E
    num = np.sum(x2 * Ex1, axis=1) ** 2
    den = Ex1[:, 0] ** 2 + Ex1[:, 1] ** 2 + Etx2[:, 0] ** 2 + Etx2[:, 1] ** 2
    return np.sqrt(num / np.maximum(den, 1e-18))


def epipolar_offsets(pixels: list[np.ndarray], weights: list[np.ndarray], Ks: list[np.ndarray], max_lag: int,
                     essentials: list[np.ndarray | None] | None = None,
                     joints: list[int] | None = None) -> tuple[list[int], list[float]]:
    """Frame offset of each view relative to the first (view v's frame k + offset shows what the first view
    shows at frame k): the lag at which the
    landmarks of the two views agree best with one epipolar geometry, i.e. show the same instants.

    pixels[v] (F_v, 33, 2), weights[v] (F_v, 33); Ks[v] the view's intrinsics (guessed ones do). With
    ``essentials[v]`` (the essential matrix from view 0 to view v, e.g. from a calibration), that geometry is
    used; otherwise it is estimated at each lag (RANSAC). The score is the median Sampson error in pixels of
    view v; returned per view with the offsets (0.0 for the first).
    """

    joints = joints or list(range(11, 33))
    V = len(pixels)

    def norm(v: int) -> np.ndarray:
        K = Ks[v]
        n = (np.asarray(pixels[v], np.float64)[:, joints] - K[:2, 2]) / np.array([K[0, 0], K[1, 1]])
        return np.where((np.asarray(weights[v])[:, joints] >= 0.5)[..., None], n, np.nan)

    n0 = norm(0)
    offsets, scores = [0], [0.0]
    for v in range(1, V):
        nv = norm(v)
        f = float(Ks[v][0, 0])
        best, best_e = 0, np.inf
        tried: set[int] = set()

        # coarse (every 3rd lag), then every lag around the best
        for lags in (range(-max_lag, max_lag + 1, 3), None):
            if lags is None:
                lags = range(best - 2, best + 3)
            for lag in lags:
                if lag in tried or abs(lag) > max_lag:
                    continue
                tried.add(lag)
                err = _lag_error(n0, nv, lag, essentials[v] if essentials is not None else None, f)
                if err < best_e:
                    best, best_e = lag, err
        if not np.isfinite(best_e):
            raise SyncError(f"View {v + 1} never shows the person at the same time as view 1: the cameras cannot be "
                            "synchronised from the motion. Give a clap window, or film with overlapping views.")
        offsets.append(best)
        scores.append(round(best_e, 2))
    return offsets, scores


def _lag_error(n0: np.ndarray, nv: np.ndarray, lag: int, E: np.ndarray | None, f: float) -> float:
    """Median Sampson error (pixels of view v) of the two views' normalised landmarks paired at ``lag``."""
    import cv2

    a = n0[max(0, -lag):]
    b = nv[max(0, lag):]
    n = min(len(a), len(b))
    if n < max(10, min(len(n0), len(nv)) // 2):
        return np.inf
    a, b = a[:n].reshape(-1, 2), b[:n].reshape(-1, 2)
    ok = np.nonzero(np.isfinite(a).all(1) & np.isfinite(b).all(1))[0]
    if len(ok) < 30:
        return np.inf
    ok = ok[:: max(1, len(ok) // 1200)]  # enough correspondences for a stable median
    a, b = a[ok], b[ok]
    if E is None:
        E, _ = cv2.findEssentialMat(a, b, np.eye(3), method=cv2.RANSAC, prob=0.99, threshold=3.0 / f)
        if E is None or E.shape != (3, 3):
            return np.inf
    return float(np.median(_sampson(E[:3], a, b))) * f


def shift_tracks(tracks: list[Any], offsets: list[int]) -> list[Any]:
    """PoseTracks cut to the frames every view covers, on the first view's timeline (view v's frame
    k + offsets[v] shows the first view's frame k)."""
    from dataclasses import replace

    start = max(0, *(-o for o in offsets))
    end = min(len(t) - o for t, o in zip(tracks, offsets))
    if end - start < 5:
        raise SyncError("The cameras' footage barely overlaps in time once synchronised: film them together.")
    out = []
    for t, o in zip(tracks, offsets):
        sl = slice(start + o, end + o)
        out.append(replace(t, frames=t.frames[sl], times=t.times[sl], world=t.world[sl], image=t.image[sl],
                           visibility=t.visibility[sl],
                           hands_world=None if t.hands_world is None else t.hands_world[sl],
                           hands_image=None if t.hands_image is None else t.hands_image[sl]))
    return out
