"""Multi-camera 3D: triangulate each landmark from its 2D positions in several calibrated views (linear DLT
weighted by the model's visibility, views that disagree dropped), and measure reprojection errors.

Takes pixels and Camera calibrations (local_engine.calibration); it must not run models, decode video or fit
skeletons. No bpy here.
"""

from __future__ import annotations

import numpy as np

from ..calibration import project, projection_matrix, undistort_points
from ..camera import Camera


def triangulate_points(cameras: list[Camera], pixels: np.ndarray, weights: np.ndarray,
                       min_weight: float = 0.3, max_error_px: float = 25.0, min_views: int = 2) -> np.ndarray:
    """World points (N, 3) from pixels (V, N, 2) and weights (V, N) (NaN/low weight = not seen).

    Weighted DLT on undistorted pixels; then the view with the largest reprojection error is dropped and
    the point re-solved while that error exceeds ``max_error_px`` and more than ``min_views`` views remain.
    Points seen by fewer than ``min_views`` views are NaN. All points are solved at once (a batched SVD), so a
    whole sequence is one call (triangulate_sequence).
    """
    V, N = pixels.shape[:2]
    P = np.stack([projection_matrix(c) for c in cameras])  # (V, 3, 4)
    und = np.stack([undistort_points(c, pixels[v]) for v, c in enumerate(cameras)])
    w = np.where(np.isfinite(und).all(-1), np.nan_to_num(weights), 0.0)
    w = np.where(w >= min_weight, w, 0.0)
    und = np.nan_to_num(und)
    use = w > 0  # (V, N)
    out = np.full((N, 3), np.nan)
    todo = np.nonzero(use.sum(0) >= min_views)[0]
    # every point at once; then only the points whose worst view is dropped, again (at most V - min_views times)
    while len(todo):
        X = _dlt_batch(P, und[:, todo], np.where(use[:, todo], w[:, todo], 0.0))
        errs = np.full((V, len(todo)), -1.0)
        for v in range(V):
            seen = use[v, todo]
            if seen.any():
                errs[v, seen] = np.linalg.norm(project(cameras[v], X[seen], distort=True)
                                               - pixels[v, todo[seen]], axis=-1)
        worst = np.argmax(errs, axis=0)
        again = (errs[worst, np.arange(len(todo))] > max_error_px) & (use[:, todo].sum(0) > min_views)
        done = ~again
        out[todo[done]] = X[done]
        use[worst[again], todo[again]] = False
        todo = todo[again]
    return out


def _dlt_batch(P: np.ndarray, uv: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted DLT of M points at once: P (V, 3, 4), uv (V, M, 2) undistorted pixels, w (V, M) (0: unused)."""
    rows = np.concatenate([uv[..., 0:1] * P[:, None, 2] - P[:, None, 0],
                           uv[..., 1:2] * P[:, None, 2] - P[:, None, 1]], axis=0)  # (2V, M, 4)
    rows /= np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)  # row scale: pixels -> unitless
    rows *= np.concatenate([w, w], axis=0)[..., None]
    A = np.transpose(rows, (1, 0, 2))  # (M, 2V, 4)
    X = np.linalg.svd(A)[2][:, -1]
    return X[:, :3] / X[:, 3:4]


def triangulate_sequence(cameras: list[Camera], pixels: np.ndarray, weights: np.ndarray,
                         **kw: float) -> np.ndarray:
    """(F, N, 3) world points from per-view pixels (V, F, N, 2) and weights (V, F, N)."""
    V, F, N = weights.shape
    flat = triangulate_points(cameras, pixels.reshape(V, F * N, 2), weights.reshape(V, F * N), **kw)
    return flat.reshape(F, N, 3)


def reprojection_errors(cameras: list[Camera], points: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """(V, ...) pixel distances between projected world points (..., 3) and observed pixels (V, ..., 2)."""
    return np.stack([np.linalg.norm(project(c, points) - pixels[v], axis=-1) for v, c in enumerate(cameras)])


def fix_left_right(cameras: list[Camera], pixels: np.ndarray, weights: np.ndarray, mirror: list[int],
                   **kw: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Undo left/right label swaps of single views (a 2D model often swaps them on a person seen from
    behind): for each frame and view, the view's landmarks are compared, as labelled and mirrored, with the
    points triangulated from the other views; the labelling that reprojects better is kept.

    pixels (V, F, N, 2), weights (V, F, N); returns fixed copies and the number of swaps made.
    """
    pixels = pixels.copy()
    weights = weights.copy()
    V, F = weights.shape[:2]
    swaps = 0
    if V < 3:
        return pixels, weights, 0
    lateral = np.array([i for i in range(len(mirror)) if mirror[i] != i])
    L = len(lateral)
    mirrored_idx = np.array(mirror)[lateral]
    # view by view (a swap undone in one view counts for the next ones), every frame at once
    for v in range(V):
        others = [u for u in range(V) if u != v]
        X = triangulate_points([cameras[u] for u in others],
                               pixels[others][:, :, lateral].reshape(V - 1, F * L, 2),
                               weights[others][:, :, lateral].reshape(V - 1, F * L), **kw).reshape(F, L, 3)
        ok = np.isfinite(X).all(-1)  # (F, L)
        proj = project(cameras[v], np.where(ok[..., None], X, 0.0))
        as_is = np.where(ok, np.linalg.norm(proj - pixels[v][:, lateral], axis=-1), np.nan)
        swapped = np.where(ok, np.linalg.norm(proj - pixels[v][:, mirrored_idx], axis=-1), np.nan)
        enough = ok.sum(1) >= 6
        with np.errstate(invalid="ignore"):
            a = np.full(F, np.nan)
            b = np.full(F, np.nan)
            if enough.any():
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: nanmedian is NaN
                    a[enough] = np.nanmedian(as_is[enough], axis=1)
                    b[enough] = np.nanmedian(swapped[enough], axis=1)
            flip = enough & (b < 0.5 * a)
        for f in np.nonzero(flip)[0]:
            pixels[v, f] = pixels[v, f, mirror]
            weights[v, f] = weights[v, f, mirror]
        swaps += int(flip.sum())
    return pixels, weights, swaps
