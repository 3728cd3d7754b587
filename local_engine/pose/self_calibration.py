"""Volume calibration from a person: each camera's pose, and its focal length when the lens is not known,
from the 2D body landmarks that several views see of the same person at the same instants.

How: the landmarks seen by two views at the same frame are point correspondences. The pair of views with the
most essential-matrix inliers (OpenCV, RANSAC, guessed focal) gives the first two poses; the other views are
added by PnP against the points triangulated so far; a bundle adjustment (scipy least_squares, sparse
Jacobian, soft-L1 loss) then refines every camera (rotation, centre, focal) and every landmark of every used
frame. Left/right label swaps of single views are undone with the refined cameras and the adjustment rerun.
The result is made metric and level: the up direction is the person's (ankles to shoulders, averaged over
the clip; gravity for someone standing or walking), the floor passes through the lowest foot points, the
origin is on the floor under the person, and the scale makes the person's stature ``human_height``.

Takes landmark arrays and image sizes; returns local_engine.solvers.base.Camera objects and a report. It must
not decode video, run models or touch the server. No bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..rotations import matrix_to_rotvec, rotvec_to_matrix
from ..solvers.base import Camera
from .blazepose import LM, MIRROR

#: Landmarks used as correspondences: nose, ears, shoulders, elbows, wrists, hips, knees, ankles, heels, toes
#: (the eyes and mouth add nothing the nose does not; the finger tips are the noisiest points of the model).
BODY = [0, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]
MIN_VISIBILITY = 0.5
MIN_SHARED_FRAMES = 15  # frames in which a pair of cameras both see the body
MIN_PERSON_FRACTION = 0.12  # the person's median height in the picture, as a fraction of the picture height
LENS_35MM_GUESS = 26.0
#: Limbs whose landmark-to-landmark length stays the same through the clip (a person is a calibration wand).
LIMBS = [(11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28), (27, 29), (28, 30),
         (29, 31), (30, 32), (27, 31), (28, 32), (11, 12), (23, 24)]
LIMB_WEIGHT = 200.0  # residual per relative length error (1 % ~ 2 px of reprojection)  # a phone's main camera, when the lens is not known
#: Stature over the landmark chain ankle-knee-hip-shoulder-nose (legs and trunk measured as segments, so
#: bending does not shorten it): ankle height and the head above the nose make up the rest (anthropometric
#: proportions of the standing adult: ankle 0.039 H, shank 0.246 H, thigh 0.245 H; BlazePose's hips, shoulders
#: and nose sit about 0.52 H, 0.82 H and 0.91 H above the floor).
STATURE_PER_CHAIN = 1.0 / 0.875


class SelfCalibrationError(ValueError):
    """The footage cannot calibrate the cameras; the message says what to film again."""


@dataclass
class SelfCalibration:
    cameras: list[Camera]
    report: dict[str, Any] = field(default_factory=dict)
    points: np.ndarray | None = None  # (F, 33, 3) landmarks of the used frames in the final world (metres)
    frames: np.ndarray | None = None  # which frames of the input those are


def _dlt(Ps: list[np.ndarray], uvs: list[np.ndarray]) -> np.ndarray:
    """(M, 3) points from normalised image points in several views (M, 2) each; NaN where unseen."""
    M = len(uvs[0])
    out = np.full((M, 3), np.nan)
    A = np.zeros((M, 2 * len(Ps), 4))
    ok = np.zeros((M, len(Ps)), bool)
    for i, (P, uv) in enumerate(zip(Ps, uvs)):
        good = np.isfinite(uv).all(1)
        ok[:, i] = good
        u = np.nan_to_num(uv)
        A[:, 2 * i] = (u[:, 0:1] * P[2] - P[0]) * good[:, None]
        A[:, 2 * i + 1] = (u[:, 1:2] * P[2] - P[1]) * good[:, None]
    enough = ok.sum(1) >= 2
    if enough.any():
        X = np.linalg.svd(A[enough])[2][:, -1]
        out[enough] = X[:, :3] / X[:, 3:4]
    return out


def calibrate_from_person(pixels: np.ndarray, weights: np.ndarray, sizes: list[tuple[int, int]],
                          human_height: float, intrinsics: list[np.ndarray | None] | None = None,
                          labels: list[str] | None = None, max_frames: int = 60,
                          min_person_fraction: float = MIN_PERSON_FRACTION, focal_35mm: list[float | None] | None = None,
                          progress: Any = None) -> SelfCalibration:
    """Cameras calibrated from one person's landmarks.

    pixels (V, F, 33, 2) and weights (V, F, 33) (visibility; 0 or NaN = not seen) of V synchronised views;
    ``sizes`` each view's (width, height); ``intrinsics`` a 3x3 K per view where the lens is known (None:
    the focal length is estimated); ``min_person_fraction`` the smallest median height of the person in a
    picture, as a fraction of its height; ``focal_35mm`` a nominal 35 mm-equivalent focal length per view
    (from the lens's name) that starts the estimation instead of the phone guess. Raises SelfCalibrationError with what to film again.
    """
    import cv2

    pixels = np.asarray(pixels, np.float64)
    weights = np.nan_to_num(np.asarray(weights, np.float64))
    V, F = weights.shape[:2]
    labels = labels or [f"camera {v + 1}" for v in range(V)]
    intrinsics = intrinsics or [None] * V
    report: dict[str, Any] = {"views": V, "frames_in": F}
    if V < 2:
        raise SelfCalibrationError("A volume needs at least two cameras filming the person at the same time.")
    seen = (weights >= MIN_VISIBILITY) & np.isfinite(pixels).all(-1)
    body_seen = seen[:, :, BODY].sum(-1) >= 10  # (V, F): the body is visible in that view and frame

    # Person too small?
    for v in range(V):
        uv = pixels[v][body_seen[v]][:, BODY]
        if len(uv) == 0:
            raise SelfCalibrationError(f"No person was seen by {labels[v]}: film the volume with the person walking "
                                       "through the area every camera sees.")
        extent = np.nanmedian(np.nanmax(uv[..., 1], 1) - np.nanmin(uv[..., 1], 1))
        frac = float(extent / sizes[v][1])
        if frac < min_person_fraction:
            raise SelfCalibrationError(
                f"The person is too small in {labels[v]} ({100 * frac:.0f} % of the picture height, at least "
                f"{100 * min_person_fraction:.0f} % is needed): film the volume again with the cameras closer or "
                "zoomed in, or the person walking nearer to them.")
    shared = (body_seen.sum(0) >= 2)
    if shared.sum() < MIN_SHARED_FRAMES:
        raise SelfCalibrationError(
            f"Only {int(shared.sum())} frames show the person to two cameras at once (at least {MIN_SHARED_FRAMES} "
            "needed): film the volume again with the person walking where the cameras' views overlap.")

    # Frames used: those seen by the most cameras, spread over the clip.
    cand = np.nonzero(shared)[0]
    if len(cand) > max_frames:
        cand = cand[np.round(np.linspace(0, len(cand) - 1, max_frames)).astype(int)]
    frames = cand
    pix = pixels[:, frames][:, :, BODY]  # (V, Fu, J, 2)
    wts = np.where(seen[:, frames][:, :, BODY], weights[:, frames][:, :, BODY], 0.0)
    J = len(BODY)

    Ks = []
    known = []
    for v in range(V):
        if intrinsics[v] is not None:
            Ks.append(np.asarray(intrinsics[v], np.float64).copy())
            known.append(True)
        else:
            w, h = sizes[v]
            f = max(w, h) * ((focal_35mm or [None] * V)[v] or LENS_35MM_GUESS) / 36.0
            Ks.append(np.array([[f, 0.0, w / 2.0], [0.0, f, h / 2.0], [0.0, 0.0, 1.0]]))
            known.append(False)

    def normalised(v: int) -> np.ndarray:
        K = Ks[v]
        n = (pix[v] - K[:2, 2]) / np.array([K[0, 0], K[1, 1]])
        return np.where(wts[v][..., None] > 0, n, np.nan)

    # Pairwise relative poses.
    norm = [normalised(v).reshape(-1, 2) for v in range(V)]
    pairs: dict[tuple[int, int], tuple[int, np.ndarray, np.ndarray]] = {}
    for a in range(V):
        for b in range(a + 1, V):
            both = np.isfinite(norm[a]).all(1) & np.isfinite(norm[b]).all(1)
            if both.sum() < 30:
                continue
            thr = 4.0 / np.sqrt(Ks[a][0, 0] * Ks[b][0, 0])
            E, mask = cv2.findEssentialMat(norm[a][both], norm[b][both], np.eye(3), method=cv2.RANSAC,
                                           prob=0.999, threshold=thr)
            if E is None or E.shape != (3, 3):
                continue
            n_in, R, t, _mask2 = cv2.recoverPose(E, norm[a][both], norm[b][both], np.eye(3), mask=mask)
            pairs[(a, b)] = (int(n_in), R, t.ravel())
    report["pair_inliers"] = {f"{labels[a]}-{labels[b]}": p[0] for (a, b), p in pairs.items()}
    linked = {v for ab, p in pairs.items() if p[0] >= 30 for v in ab}
    lonely = [labels[v] for v in range(V) if v not in linked]
    if lonely or not pairs:
        raise SelfCalibrationError(
            "The cameras do not overlap: " + (", ".join(lonely) or "no camera") + " never sees the person at the "
            "same time as another camera. Film the volume again with the person walking where the views overlap.")
    (a, b), (_, R_ab, t_ab) = max(pairs.items(), key=lambda kv: kv[1][0])
    Rs: list[np.ndarray | None] = [None] * V
    ts: list[np.ndarray | None] = [None] * V
    Rs[a], ts[a] = np.eye(3), np.zeros(3)
    Rs[b], ts[b] = R_ab, t_ab
    if progress:
        progress(0.2)

    def triangulate(views: list[int]) -> np.ndarray:
        Ps = [np.hstack([Rs[v], ts[v][:, None]]) for v in views]  # type: ignore[index]
        return _dlt(Ps, [norm[v] for v in views])

    registered = [a, b]
    while len(registered) < V:
        X = triangulate(registered)
        best = None
        for v in range(V):
            if v in registered:
                continue
            ok = np.isfinite(X).all(1) & np.isfinite(norm[v]).all(1)
            if best is None or ok.sum() > best[1].sum():
                best = (v, ok)
        assert best is not None
        v, ok = best
        if ok.sum() < 12:
            raise SelfCalibrationError(
                f"The cameras do not overlap enough: {labels[v]} sees too little of what the others see. Film the "
                "volume again with the person walking where the views overlap.")
        found, rvec, tvec, _inl = cv2.solvePnPRansac(X[ok], norm[v][ok], np.eye(3), None,
                                                    reprojectionError=6.0 / Ks[v][0, 0], iterationsCount=200,
                                                    flags=cv2.SOLVEPNP_EPNP)
        if not found:
            raise SelfCalibrationError(f"{labels[v]} could not be placed from the person's landmarks: film the "
                                       "volume again with the person walking where the views overlap.")
        Rs[v], ts[v] = rotvec_to_matrix(rvec.ravel()), tvec.ravel()
        registered.append(v)
    if progress:
        progress(0.35)

    # Bundle adjustment, twice: the second time with the left/right swaps of single views undone.
    rvecs = np.array([matrix_to_rotvec(R) for R in Rs])  # type: ignore[arg-type]
    tvecs = np.array(ts, np.float64)
    focals = np.array([K[0, 0] for K in Ks])
    swaps = 0
    for rnd in range(2):
        X = triangulate(list(range(V))).reshape(len(frames), J, 3)
        rvecs, tvecs, focals, X, rms = _bundle_adjust(pix, wts, Ks, known, rvecs, tvecs, focals, X, ref=a)
        for v in range(V):
            Ks[v] = Ks[v].copy()
            Ks[v][0, 0] = Ks[v][1, 1] = focals[v]
        if rnd == 0:
            cams = _cameras(Ks, rvecs, tvecs, sizes, labels)
            full_pix = pixels[:, frames]
            full_w = np.where(seen[:, frames], weights[:, frames], 0.0)
            from .triangulate import fix_left_right

            fixed_pix, fixed_w, swaps = fix_left_right(cams, full_pix, full_w, MIRROR)
            if swaps == 0:
                break
            pix = fixed_pix[:, :, BODY]
            wts = np.where(fixed_w[:, :, BODY] >= MIN_VISIBILITY, fixed_w[:, :, BODY], 0.0)
            norm = [normalised(v).reshape(-1, 2) for v in range(V)]
        if progress:
            progress(0.7 + 0.15 * rnd)
    report["left_right_swaps_fixed"] = int(swaps)

    # Metric, level world: Z up, floor at Z = 0, origin under the person.
    pts = np.full((len(frames), 33, 3), np.nan)
    pts[:, BODY] = X
    up = _person_up(pts)
    stature = _stature(pts)
    if not np.isfinite(stature) or stature <= 0:
        raise SelfCalibrationError("The person's height could not be measured in the volume footage: film the "
                                   "person whole (head to feet) in every camera.")
    scale = human_height / stature
    R_w = _level_rotation(up, rvecs[a])
    pts_w = (pts @ R_w.T) * scale
    feet = pts_w[:, [LM["left_heel"], LM["right_heel"], LM["left_foot_index"], LM["right_foot_index"],
                     LM["left_ankle"], LM["right_ankle"]]].reshape(-1, 3)
    feet = feet[np.isfinite(feet).all(1)]
    floor_z = float(np.percentile(feet[:, 2], 5)) if len(feet) else float(np.nanmin(pts_w[..., 2]))
    hips = 0.5 * (pts_w[:, LM["left_hip"]] + pts_w[:, LM["right_hip"]])
    origin = np.array([np.nanmedian(hips[:, 0]), np.nanmedian(hips[:, 1]), floor_z])
    pts_w = pts_w - origin
    # camera: x_c = R x_old + t ; x_old = R_w^T (x_w + origin) / scale
    # x_c * scale = R R_w^T x_w + R R_w^T origin + scale t
    cams = []
    for v in range(V):
        R = rotvec_to_matrix(rvecs[v])
        Rn = R @ R_w.T
        tn = Rn @ origin + scale * tvecs[v]
        cams.append(Camera(video=Path(), device_label=labels[v], intrinsics=Ks[v].copy(),
                           distortion=np.zeros(4), rotation=Rn, translation=tn, size=tuple(sizes[v])))  # type: ignore[arg-type]
    report.update({
        "frames_used": int(len(frames)),
        "reprojection_px_rms": round(float(rms), 2),
        "focal_px": {labels[v]: round(float(focals[v]), 1) for v in range(V)},
        "focal": {labels[v]: ("given" if known[v] else "estimated") for v in range(V)},
        "stature_units": round(float(stature), 4),
        "scale": round(float(scale), 5),
        "human_height_m": float(human_height),
    })
    return SelfCalibration(cams, report, pts_w, frames)


def _cameras(Ks: list[np.ndarray], rvecs: np.ndarray, tvecs: np.ndarray, sizes: list[tuple[int, int]],
             labels: list[str]) -> list[Camera]:
    return [Camera(video=Path(), device_label=labels[v], intrinsics=Ks[v], distortion=np.zeros(4),
                   rotation=rotvec_to_matrix(rvecs[v]), translation=tvecs[v], size=tuple(sizes[v]))  # type: ignore[arg-type]
            for v in range(len(Ks))]


def _bundle_adjust(pix: np.ndarray, wts: np.ndarray, Ks: list[np.ndarray], known: list[bool], rvecs: np.ndarray,
                   tvecs: np.ndarray, focals: np.ndarray, X: np.ndarray, ref: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Refine cameras (rotation, translation, focal where not known) and points by sparse least squares.

    The reference camera's pose is held (it fixes the gauge); the scale is fixed afterwards by the person.
    Points seen by fewer than two views are left out.
    """
    from scipy.optimize import least_squares
    from scipy.sparse import lil_matrix

    V, Fu, J = wts.shape
    Xf = X.reshape(-1, 3)
    obs_v, obs_p = np.nonzero(wts.reshape(V, -1) > 0)
    n_views = np.bincount(obs_p, minlength=len(Xf))
    use_pt = (n_views >= 2) & np.isfinite(Xf).all(1)
    keep = use_pt[obs_p]
    obs_v, obs_p = obs_v[keep], obs_p[keep]
    pt_index = -np.ones(len(Xf), int)
    pt_index[use_pt] = np.arange(use_pt.sum())
    obs_q = pt_index[obs_p]
    uv = pix.reshape(V, -1, 2)[obs_v, obs_p]
    sw = np.sqrt(wts.reshape(V, -1)[obs_v, obs_p])
    cx = np.array([K[0, 2] for K in Ks])[obs_v]
    cy = np.array([K[1, 2] for K in Ks])[obs_v]
    free = [v for v in range(V) if v != ref]
    nf = [v for v in range(V) if not known[v]]
    n_cam = 6 * len(free) + len(nf)
    P = int(use_pt.sum())

    def unpack(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r, t, f = rvecs.copy(), tvecs.copy(), focals.copy()
        cam = p[:6 * len(free)].reshape(-1, 6)
        r[free], t[free] = cam[:, :3], cam[:, 3:]
        f[nf] = np.exp(p[6 * len(free):n_cam])
        return r, t, f, p[n_cam:n_cam + 3 * P].reshape(-1, 3)

    # Rigid limbs: each segment keeps one length over the clip (its length is a free parameter).
    jpos = {j: i for i, j in enumerate(BODY)}
    seg_a, seg_b, seg_k = [], [], []
    full = -np.ones(Fu * J, int)
    full[use_pt] = np.arange(P)
    for k, (ja, jb) in enumerate(LIMBS):
        ia = full.reshape(Fu, J)[:, jpos[ja]]
        ib = full.reshape(Fu, J)[:, jpos[jb]]
        ok = (ia >= 0) & (ib >= 0)
        seg_a.extend(ia[ok])
        seg_b.extend(ib[ok])
        seg_k.extend([k] * int(ok.sum()))
    sa, sb, sk = np.array(seg_a, int), np.array(seg_b, int), np.array(seg_k, int)
    L0 = np.ones(len(LIMBS))
    if len(sk):
        lens = np.linalg.norm(Xf[use_pt][sa] - Xf[use_pt][sb], axis=1)
        L0 = np.array([np.median(lens[sk == k]) if np.any(sk == k) else 1.0 for k in range(len(LIMBS))])
    n_pts = 3 * P

    def residuals(p: np.ndarray) -> np.ndarray:
        r, t, f, pts = unpack(p)
        L = np.exp(p[n_cam + n_pts:])
        R = rotvec_to_matrix(r)
        pc = np.einsum("oij,oj->oi", R[obs_v], pts[obs_q]) + t[obs_v]
        z = np.where(np.abs(pc[:, 2]) < 1e-6, 1e-6, pc[:, 2])
        u = f[obs_v] * pc[:, 0] / z + cx
        w = f[obs_v] * pc[:, 1] / z + cy
        rep = (np.stack([u - uv[:, 0], w - uv[:, 1]], 1) * sw[:, None]).ravel()
        seg = np.linalg.norm(pts[sa] - pts[sb], axis=1)
        return np.concatenate([rep, LIMB_WEIGHT * (seg / L[sk] - 1.0)])

    nobs = len(obs_v)
    nseg = len(sk)
    A = lil_matrix((2 * nobs + nseg, n_cam + 3 * P + len(LIMBS)), dtype=np.int8)
    rows = np.arange(nobs)
    col_of = {v: i for i, v in enumerate(free)}
    fcol = {v: 6 * len(free) + i for i, v in enumerate(nf)}
    for v in range(V):
        sel = rows[obs_v == v]
        for k in (0, 1):
            if v in col_of:
                for c in range(6):
                    A[2 * sel + k, 6 * col_of[v] + c] = 1
            if v in fcol:
                A[2 * sel + k, fcol[v]] = 1
    for c in range(3):
        for k in (0, 1):
            A[2 * rows + k, n_cam + 3 * obs_q + c] = 1
    srows = 2 * nobs + np.arange(nseg)
    for c in range(3):
        A[srows, n_cam + 3 * sa + c] = 1
        A[srows, n_cam + 3 * sb + c] = 1
    A[srows, n_cam + 3 * P + sk] = 1
    p0 = np.concatenate([np.hstack([rvecs[free], tvecs[free]]).ravel(), np.log(focals[nf]), Xf[use_pt].ravel(), np.log(L0)])
    res = least_squares(residuals, p0, jac_sparsity=A.tocsr(), method="trf", loss="soft_l1", f_scale=6.0,
                        x_scale="jac", max_nfev=200, xtol=1e-10, ftol=1e-10)
    r, t, f, pts = unpack(res.x)
    Xo = np.full_like(Xf, np.nan)
    Xo[use_pt] = pts
    e = residuals(res.x)[:2 * nobs].reshape(-1, 2) / np.maximum(sw[:, None], 1e-9)
    rms = float(np.sqrt(np.mean(np.sum(e ** 2, 1))))
    return r, t, f, Xo.reshape(Fu, J, 3), rms


def _person_up(pts: np.ndarray) -> np.ndarray:
    """Unit up vector in the points' frame: the mean ankles-to-shoulders direction (a standing or walking
    person is upright on average)."""
    ank = 0.5 * (pts[:, LM["left_ankle"]] + pts[:, LM["right_ankle"]])
    sho = 0.5 * (pts[:, LM["left_shoulder"]] + pts[:, LM["right_shoulder"]])
    d = sho - ank
    d = d[np.isfinite(d).all(1)]
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    up = np.median(d, axis=0)
    return up / np.linalg.norm(up)


def _stature(pts: np.ndarray) -> float:
    """The person's stature in the points' units: median over frames of the ankle-knee-hip chain (mean of
    the two legs) plus mid-hip to mid-shoulder plus mid-shoulder to nose, times STATURE_PER_CHAIN."""
    def seg(a: str, b: str) -> np.ndarray:
        return np.linalg.norm(pts[:, LM[a]] - pts[:, LM[b]], axis=1)

    legs = 0.5 * (seg("left_ankle", "left_knee") + seg("left_knee", "left_hip")
                  + seg("right_ankle", "right_knee") + seg("right_knee", "right_hip"))
    mid_hip = 0.5 * (pts[:, LM["left_hip"]] + pts[:, LM["right_hip"]])
    mid_sh = 0.5 * (pts[:, LM["left_shoulder"]] + pts[:, LM["right_shoulder"]])
    trunk = np.linalg.norm(mid_sh - mid_hip, axis=1)
    neck = np.linalg.norm(pts[:, LM["nose"]] - mid_sh, axis=1)
    chain = np.nanmedian(legs) + np.nanmedian(trunk) + np.nanmedian(neck)
    return float(chain * STATURE_PER_CHAIN)


def stature(points: np.ndarray) -> float:
    """The stature (same units as ``points``, (F, 33, 3) BlazePose landmarks) this module scales by."""
    return _stature(np.asarray(points, np.float64))


def _level_rotation(up: np.ndarray, rvec_ref: np.ndarray) -> np.ndarray:
    """World-from-reconstruction rotation: ``up`` becomes +Z, and the reference camera looks towards +Y."""
    z = up / np.linalg.norm(up)
    look = rotvec_to_matrix(rvec_ref)[2]  # the reference camera's optical axis in reconstruction coordinates
    y = look - (look @ z) * z
    if np.linalg.norm(y) < 1e-6:
        y = np.cross(z, [1.0, 0.0, 0.0])
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    return np.stack([x, y, z])
