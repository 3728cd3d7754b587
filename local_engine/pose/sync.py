"""Synchronising cameras from what they film: per-camera frame offsets estimated from the person's motion
(cross-correlation of the landmarks' image speed, a signal every view shares whatever its angle), or from a
clap (the instant the hands meet, found from the wrists' motion within a time window).

Works on landmark arrays (local_engine.pose.blazepose.PoseTrack fields); it must not decode video or run
models. No bpy here.
"""

from __future__ import annotations

import numpy as np

from .blazepose import LM

#: Landmarks whose speed makes the motion signal (wrists, elbows, knees, ankles: the moving ends of limbs).
MOVING = [LM[n] for n in ("left_wrist", "right_wrist", "left_elbow", "right_elbow", "left_knee", "right_knee",
                          "left_ankle", "right_ankle")]


class SyncError(ValueError):
    """The cameras cannot be synchronised from the footage; the message says what to do."""


def speed_signal(image: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """(F,) vertical image velocity of the limbs relative to the hips, in torso lengths per frame (a
    camera's picture is upright, so every view sees the same rise and fall of hands and feet), normalised to zero mean and unit variance
    (so views near and far, front and side compare); NaN-free (unseen frames are 0)."""
    uv = np.asarray(image, np.float64)
    sh = 0.5 * (uv[:, LM["left_shoulder"]] + uv[:, LM["right_shoulder"]])
    hp = 0.5 * (uv[:, LM["left_hip"]] + uv[:, LM["right_hip"]])
    torso = np.nanmedian(np.linalg.norm(sh - hp, axis=1))
    if not np.isfinite(torso) or torso <= 0:
        return np.zeros(len(uv))
    pts = uv[:, MOVING] - hp[:, None]  # relative to the hips: the camera's own motion and the walk drop out
    pts = np.where((np.asarray(visibility)[:, MOVING] >= 0.3)[..., None], pts, np.nan)
    v = np.diff(pts[..., 1], axis=0) / torso  # vertical: the image's up is near the world's for every camera
    s = np.nanmean(np.where(np.isfinite(v), v, np.nan), axis=1) if np.isfinite(v).any() else np.zeros(len(v))
    s = np.concatenate([[np.nan], s])
    ok = np.isfinite(s)
    if ok.sum() < 3:
        return np.zeros(len(uv))
    s = np.where(ok, s, np.nanmean(s))
    return (s - s.mean()) / (s.std() + 1e-9)


def motion_offsets(signals: list[np.ndarray], max_lag: int) -> tuple[list[int], list[float]]:
    """Frame offset of each view relative to the first (positive: the view's frame k shows what the first
    shows at frame k - offset, i.e. the view started earlier) and the correlation peak of each (1.0 for the
    first). Lags are searched within +-max_lag frames; the overlap must keep at least half the shorter clip."""
    ref = signals[0]
    offsets, scores = [0], [1.0]
    for s in signals[1:]:
        best, best_r = 0, -np.inf
        for lag in range(-max_lag, max_lag + 1):
            a = ref[max(0, -lag):]
            b = s[max(0, lag):]
            n = min(len(a), len(b))
            if n < max(10, min(len(ref), len(s)) // 2):
                continue
            r = float(np.corrcoef(a[:n], b[:n])[0, 1])
            if np.isfinite(r) and r > best_r:
                best, best_r = lag, r
        offsets.append(best)
        scores.append(round(best_r, 3) if np.isfinite(best_r) else 0.0)
    return offsets, scores


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
    """Frame offset of each view relative to the first (same sign as motion_offsets): the lag at which the
    landmarks of the two views agree best with one epipolar geometry, i.e. show the same instants.

    pixels[v] (F_v, 33, 2), weights[v] (F_v, 33); Ks[v] the view's intrinsics (guessed ones do). With
    ``essentials[v]`` (the essential matrix from view 0 to view v, e.g. from a calibration), that geometry is
    used; otherwise it is estimated at each lag (RANSAC). The score is the median Sampson error in pixels of
    view v; returned per view with the offsets (0.0 for the first).
    """
    import cv2

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

        def score(lag: int) -> float:
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
            E = essentials[v] if essentials is not None else None
            if E is None:
                E, _ = cv2.findEssentialMat(a, b, np.eye(3), method=cv2.RANSAC, prob=0.99, threshold=3.0 / f)
                if E is None or E.shape != (3, 3):
                    return np.inf
            return float(np.median(_sampson(E[:3], a, b))) * f

        # coarse (every 3rd lag), then every lag around the best
        for lags in (range(-max_lag, max_lag + 1, 3), None):
            if lags is None:
                lags = range(best - 2, best + 3)
            for lag in lags:
                if lag in tried or abs(lag) > max_lag:
                    continue
                tried.add(lag)
                err = score(lag)
                if err < best_e:
                    best, best_e = lag, err
        if not np.isfinite(best_e):
            raise SyncError(f"View {v + 1} never shows the person at the same time as view 1: the cameras cannot be "
                            "synchronised from the motion. Give a clap window, or film with overlapping views.")
        offsets.append(best)
        scores.append(round(best_e, 2))
    return offsets, scores
