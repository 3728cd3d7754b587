"""How far one calibration is from another (e.g. a volume calibrated from the person vs a calibration file):
the two worlds differ by a similarity (rotation, translation, scale), found from the camera centres; then
each camera's orientation error (degrees), centre error (% of its distance to the person) and, for 3D
joints, the PA-MPJPE (per-frame Procrustes with scale, in the reference's units).

Numbers in, numbers out: no video, no models, no bpy here.
"""

from __future__ import annotations

import numpy as np

from ..calibration import camera_centre
from ..solvers.base import Camera


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) minimising |s R src + t - dst|^2 over points (N, 3) (Umeyama)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd(b.T @ a)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = U @ D @ Vt
    s = float(np.trace(np.diag(S) @ D) / np.sum(a * a))
    return s, R, mu_d - s * R @ mu_s


def compare_cameras(estimated: list[Camera], reference: list[Camera], person: np.ndarray) -> dict[str, list[float]]:
    """Per camera: orientation error (deg) and centre error (% of the reference camera's distance to
    ``person``, a point in the reference world), after the similarity that best maps the estimated centres
    onto the reference ones."""
    ce = np.stack([camera_centre(c) for c in estimated])
    cr = np.stack([camera_centre(c) for c in reference])
    s, R, t = similarity(ce, cr)
    rot, cen = [], []
    for e, r, c_e, c_r in zip(estimated, reference, ce, cr):
        # world_ref = s R world_est + t, so the estimated camera's rotation in the reference world is Re R^T.
        Re = np.asarray(e.rotation) @ R.T
        d = Re @ np.asarray(r.rotation).T
        rot.append(float(np.degrees(np.arccos(np.clip((np.trace(d) - 1) / 2, -1.0, 1.0)))))
        cen.append(float(100 * np.linalg.norm(s * R @ c_e + t - c_r) / np.linalg.norm(c_r - person)))
    return {"rot_err_deg": rot, "centre_err_pct": cen, "scale": [s]}


def pa_mpjpe(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean per-joint error after a per-frame similarity alignment of ``pred`` (F, N, 3) onto ``ref``."""
    errs = []
    for p, r in zip(pred, ref):
        ok = np.isfinite(p).all(1) & np.isfinite(r).all(1)
        if ok.sum() < 4:
            continue
        s, R, t = similarity(p[ok], r[ok])
        errs.append(np.linalg.norm((s * p[ok] @ R.T + t) - r[ok], axis=1))
    return float(np.mean(np.concatenate(errs))) if errs else float("nan")
