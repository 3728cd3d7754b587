"""Reprojection refinement: adjust a fitted skeleton so its joints land on the 2D landmarks in every view.

The skeleton fit (local_engine.pose.skeleton_fit) keeps bone lengths fixed for the take, while the
landmarks' apparent lengths vary from frame to frame, so its joints drift off what the model saw in the
image. :func:`refine` solves, independently per frame and vectorised over frames, a regularised least
squares over the root translation and the armature-space rotations of the trunk, clavicle, arm and leg
bones (bone lengths stay fixed by construction):

    sum over views and joints of  visibility * huber(|project(joint) - landmark|) / pixel_sigma^2
    + sum over bones of |rotation change| ^ 2 * (bone reach / bone_sigma)^2 + |root change|^2 / root_sigma^2
    + optional 3D pins (joint -> target, e.g. planted feet)

with a few Gauss-Newton iterations and analytic Jacobians. A motion of a joint along its camera ray is
invisible to that camera, so the prior keeps it where the 3D fit put it (the minimal change that fixes the
image). The 2D targets are low-passed first (zero-phase Butterworth at ``cutoff_hz``, like the 3D landmarks), so
the refinement adds no jitter; the Huber threshold is given (:data:`HUBER_VIEWS_PX` for several views) or taken from the clip's
own 2D noise (:func:`clip_noise_px`, one view: its detections that jump for a frame or two would otherwise drag
a limb; on pose2sim's demo the single camera's jitter went 2.50 -> 2.25 and 2.55 -> 2.27 mm/frame^2 on the two
BlazePose runtimes, PA-MPJPE 71.1 -> 70.9 and 70.3 -> 69.9 mm).

Views are pinhole cameras (world -> camera ``R @ p + t``; ``t`` may vary per frame, which single-camera
floor settling needs) with undistorted pixel targets. Pure numpy; no video, no models, no bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinematics import pose_points
from ..motion import MOVE_BONES, MOVE_PARENTS, parent_indices
from ..rotations import rotvec_to_matrix
from .blazepose import LM
from .filters import butterworth_zero_phase

BONE_INDEX = {b: i for i, b in enumerate(MOVE_BONES)}
_PARENTS = parent_indices(MOVE_BONES)
#: The share of the clip's own 2D noise past which the refinement's reprojection term turns linear when its
#: threshold is not given (:func:`clip_noise_px`): about pixel_sigma on pose2sim's 1080p views.
NOISE_FRACTION = 0.5
#: Landmark -> the Move bone whose head is that joint.
JOINTS = {f"{s}_{j}": side + bone for side, s in (("Left", "left"), ("Right", "right"))
          for j, bone in (("shoulder", "Arm"), ("elbow", "ForeArm"), ("wrist", "Hand"), ("hip", "UpLeg"),
                          ("knee", "Leg"), ("ankle", "Foot"))}
#: Bones whose rotations the refinement may change (everything on the paths from the root to JOINTS).
PARAM_BONES = ["Hips", "Spine", "Spine1"] + [side + b for side in ("Left", "Right")
                                             for b in ("Shoulder", "Arm", "ForeArm", "UpLeg", "Leg")]


@dataclass
class View:
    """One calibrated (or estimated) pinhole camera and the 2D landmarks it saw."""

    K: np.ndarray  # (3, 3)
    R: np.ndarray  # (3, 3) world -> camera rotation
    t: np.ndarray  # (3,) or (F, 3) world -> camera translation
    pixels: np.ndarray  # (F, 33, 2) undistorted pixels, NaN where not seen
    weights: np.ndarray  # (F, 33) visibility in 0..1

    @classmethod
    def from_camera(cls, camera: object, pixels: np.ndarray, weights: np.ndarray) -> View:
        """A calibrated local_engine Camera; ``pixels`` as seen (distorted), undistorted here."""
        from ..calibration import undistort_points

        return cls(np.asarray(camera.intrinsics, np.float64), np.asarray(camera.rotation, np.float64),  # type: ignore[attr-defined]
                   np.asarray(camera.translation, np.float64).reshape(3),  # type: ignore[attr-defined]
                   undistort_points(camera, pixels), np.asarray(weights, np.float64))

    def moved(self, offset: np.ndarray) -> View:
        """The same view of a world moved by ``offset`` (3,) or (F, 3): p' = p + offset."""
        t = self.t - np.asarray(offset, np.float64) @ self.R.T
        return View(self.K, self.R, t, self.pixels, self.weights)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixels (F, N, 2) of world points (F, N, 3)."""
        t = self.t if self.t.ndim == 1 else self.t[:, None, :]
        pc = points @ self.R.T + t
        xy = pc[..., :2] / pc[..., 2:3]
        return np.stack([self.K[0, 0] * xy[..., 0] + self.K[0, 2], self.K[1, 1] * xy[..., 1] + self.K[1, 2]], -1)


def _skew(v: np.ndarray) -> np.ndarray:
    m = np.zeros((*v.shape[:-1], 3, 3))
    m[..., 0, 1], m[..., 0, 2], m[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    m[..., 1, 0], m[..., 2, 0], m[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return m


def _paths(bones: list[str]) -> dict[str, list[tuple[int, int, int]]]:
    """Per joint bone: (parameter slot, parent bone, child bone) for every link from the root to it."""
    slot = {b: k for k, b in enumerate(PARAM_BONES)}
    out = {}
    for bone in bones:
        links, c = [], bone
        while MOVE_PARENTS.get(c):
            p = MOVE_PARENTS[c]
            if p in slot:
                links.append((slot[p], BONE_INDEX[p], BONE_INDEX[c]))
            c = p
        out[bone] = links
    return out


def _smoothed_targets(view: View, fps: float, cutoff_hz: float, min_visibility: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    from .filters import fill_gaps

    names = list(JOINTS)
    px = view.pixels[:, [LM[n] for n in names]].astype(np.float64)
    w = np.nan_to_num(view.weights[:, [LM[n] for n in names]].astype(np.float64))
    seen = np.isfinite(px).all(-1)
    w = np.where(seen & (w >= min_visibility), w, 0.0)
    if seen.any(axis=1).sum() >= 2:
        filled, _ = fill_gaps(px)
        px = butterworth_zero_phase(filled, fps, cutoff_hz)
    return np.nan_to_num(px), w


def clip_noise_px(views: list[View], targets: list[tuple[np.ndarray, np.ndarray]],
                  fraction: float = NOISE_FRACTION) -> float:
    """``fraction`` of the clip's own 2D noise (px): the median distance of the seen joint landmarks from their
    low-passed targets, i.e. what the low-pass already calls noise (pose2sim's demo: 2.9-4.2 px on 1080p on
    both BlazePose runtimes, 2.9-3.6 on the sports2d demo). A landmark farther than that from the fit pulls
    on it linearly (Huber): one view's detections that jump for a frame or two (a hand passing behind the body)
    no longer drag the limb (they made cam02's right wrist accelerate at 70 mm/frame^2)."""
    dist = [np.linalg.norm(v.pixels[:, [LM[n] for n in JOINTS]] - tgt, axis=-1)[w > 0]
            for v, (tgt, w) in zip(views, targets)]
    seen = np.concatenate(dist) if dist else np.zeros(0)
    seen = seen[np.isfinite(seen)]
    return max(fraction * float(np.median(seen)), 0.5) if len(seen) else 20.0


#: Robust threshold (px) of the refinement with several views (their triangulated joints already agree with
#: every view); one view's refinement takes its threshold from the clip's own noise (``huber_px=None``).
HUBER_VIEWS_PX = 20.0


def refine(mats: np.ndarray, hips_positions: np.ndarray, heads: np.ndarray, tails: np.ndarray,
           views: list[View], fps: float, *, pins: tuple[list[str], np.ndarray, np.ndarray] | None = None,
           iterations: int = 4, pixel_sigma: float = 2.0, bone_sigma_m: float = 0.05,
           root_sigma_m: float = 0.05, pin_sigma_m: float = 0.0002, huber_px: float | None = HUBER_VIEWS_PX,
           min_visibility: float = 0.2, cutoff_hz: float = 6.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Refined (mats (F, B, 3, 3), hips_positions (F, 3)) and statistics.

    ``pins``: (joint bone names, targets (F, n, 3), weights (F, n) in 0..1) pulling those joints' heads
    to 3D targets with ``pin_sigma_m``. Frames where no view saw a joint keep the fit there. ``huber_px``: the
    reprojection error beyond which a landmark pulls linearly rather than quadratically; None takes it from the
    clip's own noise (:func:`clip_noise_px`).
    """
    mats = np.array(mats, np.float64)
    root = np.array(hips_positions, np.float64)
    F = len(root)
    P = 3 + 3 * len(PARAM_BONES)
    joint_bones = list(JOINTS.values())
    jidx = [BONE_INDEX[b] for b in joint_bones]
    pin_bones = list(pins[0]) if pins is not None else []
    paths = _paths(joint_bones + pin_bones)
    ph, _ = pose_points(mats, root, heads, tails, _PARENTS)
    targets = [_smoothed_targets(v, fps, cutoff_hz, min_visibility) for v in views]
    if huber_px is None:
        huber_px = clip_noise_px(views, targets)
    reach = np.array([max(np.linalg.norm(heads[BONE_INDEX[c]] - heads[BONE_INDEX[b]])
                          for c, p in MOVE_PARENTS.items() if p == b) for b in PARAM_BONES])
    prior = np.concatenate([np.full(3, 1.0 / root_sigma_m ** 2), np.repeat((reach / bone_sigma_m) ** 2, 3)])
    theta = np.zeros((F, P))
    for _ in range(iterations):
        ph, _ = pose_points(mats, root, heads, tails, _PARENTS)
        H = np.zeros((F, P, P))
        g = np.zeros((F, P))

        def dX(bones: list[str]) -> np.ndarray:
            """(F, n, 3, P) derivatives of those bones' heads by the parameters."""
            D = np.zeros((F, len(bones), 3, P))
            D[:, :, :, :3] = np.eye(3)
            for n, b in enumerate(bones):
                for k, p, c in paths[b]:
                    v = mats[:, p] @ (heads[c] - heads[p])
                    D[:, n, :, 3 + 3 * k: 6 + 3 * k] = -_skew(v)
            return D

        D = dX(joint_bones)
        X = ph[:, jidx]
        for v, (tgt, w) in zip(views, targets):
            t = v.t if v.t.ndim == 1 else v.t[:, None, :]
            pc = X @ v.R.T + t
            z = pc[..., 2]
            ok = z > 0.05
            zs = np.where(ok, z, 1.0)
            fx, fy = v.K[0, 0], v.K[1, 1]
            proj = np.stack([fx * pc[..., 0] / zs + v.K[0, 2], fy * pc[..., 1] / zs + v.K[1, 2]], -1)
            r = proj - tgt  # (F, J, 2)
            Jp = np.zeros((*z.shape, 2, 3))
            Jp[..., 0, 0] = fx / zs
            Jp[..., 0, 2] = -fx * pc[..., 0] / zs ** 2
            Jp[..., 1, 1] = fy / zs
            Jp[..., 1, 2] = -fy * pc[..., 1] / zs ** 2
            Jm = (Jp @ v.R) @ D
            dist = np.linalg.norm(r, axis=-1)
            robust = np.minimum(1.0, huber_px / np.maximum(dist, 1e-9))
            wt = np.where(ok, w * robust, 0.0) / pixel_sigma ** 2
            Jw = (Jm * wt[:, :, None, None]).reshape(F, -1, P)
            H += np.swapaxes(Jw, 1, 2) @ Jm.reshape(F, -1, P)
            g += (np.swapaxes(Jw, 1, 2) @ r.reshape(F, -1, 1))[..., 0]
        if pins is not None:
            names, pt, pw = pins
            Dp = dX(list(names))
            r = ph[:, [BONE_INDEX[b] for b in names]] - pt
            wt = np.nan_to_num(pw) / pin_sigma_m ** 2
            Dw = (Dp * wt[:, :, None, None]).reshape(F, -1, P)
            H += np.swapaxes(Dw, 1, 2) @ Dp.reshape(F, -1, P)
            g += (np.swapaxes(Dw, 1, 2) @ np.nan_to_num(r).reshape(F, -1, 1))[..., 0]
        H[:, np.arange(P), np.arange(P)] += prior
        delta = -np.linalg.solve(H, (g + prior * theta)[..., None])[..., 0]
        # directions the views barely constrain (depth) would otherwise flicker per frame
        delta = butterworth_zero_phase(delta, fps, cutoff_hz)
        theta += delta
        root = root + delta[:, :3]
        for k, b in enumerate(PARAM_BONES):
            i = BONE_INDEX[b]
            mats[:, i] = rotvec_to_matrix(delta[:, 3 + 3 * k: 6 + 3 * k]) @ mats[:, i]
    turn = np.linalg.norm(theta[:, 3:].reshape(F, -1, 3), axis=-1)
    stats = {"rotation_change_deg_p90": round(float(np.degrees(np.percentile(turn, 90))) if F else 0.0, 2),
             "root_change_m_p90": round(float(np.percentile(np.linalg.norm(theta[:, :3], axis=1), 90))
                                   if F else 0.0, 4)}
    return mats, root, stats
