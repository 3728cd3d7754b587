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
    Points seen by fewer than ``min_views`` views are NaN.
    """
    V, N = pixels.shape[:2]
    P = np.stack([projection_matrix(c) for c in cameras])  # (V, 3, 4)
    und = np.stack([undistort_points(c, pixels[v]) for v, c in enumerate(cameras)])
    w = np.where(np.isfinite(und).all(-1), np.nan_to_num(weights), 0.0)
    w = np.where(w >= min_weight, w, 0.0)
    out = np.full((N, 3), np.nan)
    for i in range(N):
        use = w[:, i] > 0
        while use.sum() >= min_views:
            X = _dlt(P[use], und[use, i], w[use, i])
            errs = np.full(V, -1.0)
            for v in np.nonzero(use)[0]:
                errs[v] = np.linalg.norm(project(cameras[v], X, distort=True) - pixels[v, i])
            worst = int(np.argmax(errs))
            if errs[worst] > max_error_px and use.sum() > min_views:
                use[worst] = False
                continue
            out[i] = X
            break
    return out


def _dlt(P: np.ndarray, uv: np.ndarray, w: np.ndarray) -> np.ndarray:
    rows = []
    for Pv, (u, v) in zip(P, uv):
        rows.append(u * Pv[2] - Pv[0])
        rows.append(v * Pv[2] - Pv[1])
    A = np.array(rows)
    A /= np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)  # row scale: pixels -> unitless
    A *= np.repeat(w, 2)[:, None]
    X = np.linalg.svd(A)[2][-1]
    return X[:3] / X[3]


def triangulate_sequence(cameras: list[Camera], pixels: np.ndarray, weights: np.ndarray,
                         **kw: float) -> np.ndarray:
    """(F, N, 3) world points from per-view pixels (V, F, N, 2) and weights (V, F, N)."""
    _, F, N = weights.shape
    out = np.full((F, N, 3), np.nan)
    for f in range(F):
        out[f] = triangulate_points(cameras, pixels[:, f], weights[:, f], **kw)
    return out


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
    for f in range(F):
        for v in range(V):
            others = [u for u in range(V) if u != v]
            X = triangulate_points([cameras[u] for u in others], pixels[others, f][:, lateral],
                                   weights[others, f][:, lateral], **kw)
            ok = np.isfinite(X).all(1)
            if ok.sum() < 6:
                continue
            proj = project(cameras[v], X[ok])
            as_is = np.nanmedian(np.linalg.norm(proj - pixels[v, f, lateral[ok]], axis=1))
            mirrored_idx = np.array(mirror)[lateral[ok]]
            swapped = np.nanmedian(np.linalg.norm(proj - pixels[v, f, mirrored_idx], axis=1))
            if swapped < 0.5 * as_is:
                pixels[v, f] = pixels[v, f, mirror]
                weights[v, f] = weights[v, f, mirror]
                swaps += 1
    return pixels, weights, swaps
