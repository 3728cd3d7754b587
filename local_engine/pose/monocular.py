"""Single-camera 3D: turns BlazePose's hip-centred metric landmarks plus its 2D image landmarks into absolute
positions in Move's armature space (Z up, floor at Z = 0, the camera looking along +Y so a person facing the
camera faces -Y).

BlazePose's metric landmarks are first turned to the view along the ray through the hips
(:func:`seen_along_rays`: the model sees the person along its crop's line of sight). On pose2sim's
Demo_SinglePerson that gives the four views' depth order to more limb segments (wrong on 434 -> 341 of 2,701
segment-frames, legacy runtime) and, with the clip fit's torso term, single-camera PA-MPJPE 65.2 -> 63.4 mm
(``scripts/bench.py accuracy``). The root translation comes from a pinhole camera (intrinsics given or
estimated from the frame size and a typical field of view): per frame, the translation that best reprojects
the world landmarks onto the 2D ones. The floor's height comes from the feet's lowest points; its up direction
from a plane through those points when the feet cover the floor, else from the body's balance over the planted
feet (the centre of mass stays over them: :func:`balance_up`), else from the trunk. It must not run models or
fit skeletons. No bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .blazepose import LM, MIRROR

#: Focal length used when the camera is unknown: a 26 mm (35 mm-equivalent) lens, what phones and most
#: action cameras shoot with, i.e. about 69 degrees across the long side of the frame.
DEFAULT_FOCAL_35MM = 26.0
FEET = [LM[n] for n in ("left_heel", "right_heel", "left_foot_index", "right_foot_index")]
#: The legs from the knee down, left then right: BlazePose sometimes mirrors the upper body alone.
LEGS = [LM[f"{s}_{n}"] for s in ("left", "right") for n in ("knee", "ankle", "heel", "foot_index")]
#: What keeping a frame's legs against the body's labelling costs, in leg lengths (hip to ankle in the image)
#: of the legs' mean frame-to-frame travel: only clear jumps of the leg labels are undone.
LEG_SWAP_COST = 0.25


def guess_intrinsics(width: int, height: int, focal_35mm: float = DEFAULT_FOCAL_35MM) -> np.ndarray:
    f = max(width, height) * focal_35mm / 36.0
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def seen_along_rays(world: np.ndarray, image: np.ndarray, K: np.ndarray) -> np.ndarray:
    """BlazePose's metric landmarks ``world`` (F, 33, 3) turned, frame by frame, from the view along the optical
    axis to the view along the ray through the hips' pixel (the smallest rotation taking the one to the other).

    The model predicts its metric landmarks from a crop centred on the person, so they are seen along that
    crop's line of sight, not along the camera's axis: a person off the image centre is seen a little from
    above, below or the side, which the lift must not take as the body leaning (a 0.4 m thigh seen 7 degrees
    off the axis moves 5 cm in depth). Frames without the hips' pixels are kept as they are."""
    hips = 0.5 * (image[:, LM["left_hip"]] + image[:, LM["right_hip"]])
    ray = np.stack([(hips[:, 0] - K[0, 2]) / K[0, 0], (hips[:, 1] - K[1, 2]) / K[1, 1], np.ones(len(hips))], 1)
    ray = np.where(np.isfinite(ray).all(1, keepdims=True), ray, [0.0, 0.0, 1.0])
    ray /= np.linalg.norm(ray, axis=1, keepdims=True)
    # Rodrigues' rotation taking z = (0, 0, 1) to the ray: axis z x ray = (-ry, rx, 0), cosine rz
    v = np.stack([-ray[:, 1], ray[:, 0], np.zeros(len(ray))], 1)
    vx = np.zeros((len(ray), 3, 3))
    vx[:, 0, 2], vx[:, 1, 2] = v[:, 1], -v[:, 0]
    vx[:, 2, 0], vx[:, 2, 1] = -v[:, 1], v[:, 0]
    R = np.eye(3) + vx + vx @ vx / (1.0 + ray[:, 2])[:, None, None]
    return np.einsum("fij,fkj->fki", R, world)


def root_translation(world: np.ndarray, image: np.ndarray, visibility: np.ndarray, K: np.ndarray,
                     min_visibility: float = 0.5) -> np.ndarray:
    """(F, 3) camera-space translation t with image ~ project(world + t), least squares per frame.

    For a landmark X with pixel (u, v): (u - cx) (Z + tz) = fx (X + tx), (v - cy) (Z + tz) = fy (Y + ty):
    two linear equations in t, weighted by visibility.
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    out = np.full((len(world), 3), np.nan)
    for f in range(len(world)):
        w = visibility[f]
        ok = np.isfinite(world[f]).all(1) & np.isfinite(image[f]).all(1) & (w >= min_visibility)
        if ok.sum() < 6:
            ok = np.isfinite(world[f]).all(1) & np.isfinite(image[f]).all(1)
            if ok.sum() < 6:
                continue
        X, Y, Z = world[f, ok].T.astype(np.float64)
        du = image[f, ok, 0] - cx
        dv = image[f, ok, 1] - cy
        wt = np.sqrt(np.maximum(w[ok], 0.05))
        n = ok.sum()
        A = np.zeros((2 * n, 3))
        b = np.zeros(2 * n)
        A[:n, 0] = fx
        A[:n, 2] = -du
        b[:n] = du * Z - fx * X
        A[n:, 1] = fy
        A[n:, 2] = -dv
        b[n:] = dv * Z - fy * Y
        A *= np.concatenate([wt, wt])[:, None]
        b *= np.concatenate([wt, wt])
        out[f] = np.linalg.lstsq(A, b, rcond=None)[0]
    return out


def undo_label_swaps(track: Any, max_turn_deg: float = 90.0) -> tuple[Any, int]:
    """The PoseTrack with BlazePose's left/right label swaps undone, and on how many frames labels changed.

    From one camera BlazePose sometimes mirrors the whole body (it takes a person seen from the side or from
    behind as facing the other way): the left/right line of its metric hips and shoulders then turns by about
    180 degrees in one frame, which no body does (90 degrees in a frame is 5,400 degrees/s at 60 fps). The
    labels are followed frame to frame, swapping back where the line turned more than ``max_turn_deg`` against
    the last kept frame; of the two labellings the one the model chose for most of the take is kept.

    The model sometimes mirrors only the upper body for a frame (from the side, with the feet far apart: the
    hips and shoulders flip, the knees and feet do not). The legs then follow the image on their own
    (:func:`_leg_swaps`), so a planted foot does not jump to the other foot's place for a frame (which made
    the foot's image speed, hence its contact, fail for a fifth of a second)."""
    w = track.world
    line = (w[:, LM["left_hip"]] - w[:, LM["right_hip"]]) + (w[:, LM["left_shoulder"]] - w[:, LM["right_shoulder"]])
    line = line[:, [0, 2]]  # horizontal plane of the camera (x right, z away)
    state = np.zeros(len(w), bool)  # True: labels opposite to those of the first seen frame
    kept: np.ndarray | None = None  # the last seen frame's line, with its labels as kept
    cos_max = np.cos(np.radians(max_turn_deg))
    for f in range(len(w)):
        n = np.linalg.norm(line[f])
        if not np.isfinite(n) or n < 1e-6:
            continue
        v = line[f] / n
        state[f] = kept is not None and bool(v @ kept < cos_max)
        kept = -v if state[f] else v
    seen = np.isfinite(line).all(1)
    if state[seen].sum() * 2 > seen.sum():  # the model's own choice for most frames wins
        state = ~state & seen
    swap = state & seen
    labels = np.where(swap[:, None], np.array(MIRROR)[None], np.arange(len(MIRROR))[None])  # (F, 33)
    legs = _leg_swaps(track.image[np.arange(len(w))[:, None], labels])
    labels[np.ix_(legs, LEGS)] = labels[np.ix_(legs, np.array(MIRROR)[LEGS])]
    changed = swap | legs
    if not changed.any():
        return track, 0
    rows = np.arange(len(w))[:, None]
    out = replace(track, world=track.world[rows, labels], image=track.image[rows, labels],
                  visibility=track.visibility[rows, labels])
    if track.hands_world is not None:
        out.hands_world = track.hands_world.copy()
        out.hands_world[swap] = track.hands_world[swap][:, ::-1]
        if track.hands_image is not None:
            out.hands_image = track.hands_image.copy()
            out.hands_image[swap] = track.hands_image[swap][:, ::-1]
    return out, int(changed.sum())


def _leg_swaps(image: np.ndarray, cost: float = LEG_SWAP_COST) -> np.ndarray:
    """(F,) bool: the frames whose leg labels (:data:`LEGS`) to swap, given 2D landmarks (F, 33, 2) already
    labelled for the whole body, so that the legs move least across the image from frame to frame.

    Two states per frame (legs as labelled, or swapped) and the cheapest path through the take (Viterbi):
    a step costs the legs' mean travel between the two frames' labellings, in leg lengths, and every swapped
    frame costs ``cost`` more, so only legs that jump to the other leg's place and back are swapped (legs
    crossing, whose labellings cost the same, stay as the body's labels say)."""
    out = np.zeros(len(image), bool)
    legs, other = np.array(LEGS), np.array(MIRROR)[LEGS]
    seen = np.nonzero(np.isfinite(image[:, legs]).all(axis=(1, 2)))[0]
    if len(seen) < 3:
        return out
    pix = image[seen].astype(np.float64)
    hips, ankles = pix[:, [LM["left_hip"], LM["right_hip"]]], pix[:, [LM["left_ankle"], LM["right_ankle"]]]
    leg = float(np.nanmedian(np.linalg.norm(ankles - hips, axis=-1)))
    if not np.isfinite(leg) or leg <= 0:
        return out
    same = np.linalg.norm(pix[1:, legs] - pix[:-1, legs], axis=-1).mean(1) / leg
    cross = np.linalg.norm(pix[1:, other] - pix[:-1, legs], axis=-1).mean(1) / leg
    total = np.array([0.0, cost])  # cheapest path ending in each state
    back = np.zeros((len(seen), 2), int)  # the previous frame's state on that path
    for k in range(1, len(seen)):
        stay, switch = total + same[k - 1], total[::-1] + cross[k - 1]
        back[k] = np.where(stay <= switch, [0, 1], [1, 0])
        total = np.minimum(stay, switch) + np.array([0.0, cost])
    state = int(np.argmin(total))
    for k in range(len(seen) - 1, -1, -1):
        out[seen[k]] = bool(state)
        state = int(back[k, state])
    return out


def snap_to_rays(points_cam: np.ndarray, image: np.ndarray, K: np.ndarray, amount: float = 1.0) -> np.ndarray:
    """Move each camera-space point onto the ray through its 2D landmark, keeping its depth (the 2D
    landmarks are sharper than the model's metric x/y). ``amount`` blends between 0 (unchanged) and 1."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    z = points_cam[..., 2]
    snapped = np.stack([(image[..., 0] - cx) / fx * z, (image[..., 1] - cy) / fy * z, z], axis=-1)
    ok = np.isfinite(snapped).all(-1, keepdims=True)
    return np.where(ok, points_cam + amount * (snapped - points_cam), points_cam)


@dataclass
class Ground:
    """Camera -> armature transform: p_world = R @ p_cam + t (R's rows: right, forward, up)."""

    R: np.ndarray
    t: np.ndarray
    fitted: bool  # True when the plane was fitted to the feet
    camera_height: float
    tilt_deg: float
    source: str = "level"  # "feet plane", "body" (median trunk direction), "level" or "calibration"

    def apply(self, p_cam: np.ndarray) -> np.ndarray:
        return p_cam @ self.R.T + self.t


def estimate_ground(points_cam: np.ndarray, fit_plane: bool = True, contacts: np.ndarray | None = None) -> Ground:
    """Floor from the feet: the lowest foot landmark of every frame (camera space, y down). With
    ``fit_plane`` and enough spread of those points, a plane fitted robustly to them gives the up axis;
    otherwise, given the planted feet ``contacts`` (F, 2), the body's balance over them
    (:func:`balance_up`), else the trunk (:func:`_body_up`; a level camera when that looks implausible). The
    floor height is a low percentile of the feet."""
    feet = points_cam[:, FEET]
    ok = np.isfinite(feet).all(axis=(1, 2))
    up = np.array([0.0, -1.0, 0.0])
    fitted = False
    if not ok.any():
        R = _axes(up)
        return Ground(R, np.zeros(3), False, 0.0, 0.0, "level")
    low = feet[ok][np.arange(ok.sum()), np.argmax(feet[ok, :, 1], axis=1)]  # largest y = lowest point
    line = None
    if fit_plane and len(low) >= 20:
        _, spread, axes = np.linalg.svd(low - low.mean(0), full_matrices=False)
        spread = spread / np.sqrt(len(low))
        if spread[1] > 0.15:  # the feet cover enough of the floor in two directions
            n = _robust_plane(low)
            if n is not None:
                n = n if n[1] < 0 else -n
                if np.degrees(np.arccos(np.clip(-n[1], -1, 1))) < 45:
                    up, fitted = n, True
        elif spread[0] > 0.2:  # walking along a line: the floor contains that line
            line = axes[0]
    body = not fitted
    balanced = balance_up(points_cam, contacts) if body and contacts is not None else None
    if balanced is not None:
        up, body = balanced, False
    elif body:
        up = _body_up(points_cam)
        if line is not None:  # the trunk's up, made perpendicular to the line the feet walked
            constrained = up - (up @ line) * line
            if np.linalg.norm(constrained) > 0.5:
                up = constrained / np.linalg.norm(constrained)
    R = _axes(up)
    heights = low @ R[2]
    floor = np.percentile(heights, 5) if not fitted else np.median(heights[heights < np.percentile(heights, 60)])
    t = np.array([0.0, 0.0, -floor])
    tilt = float(np.degrees(np.arccos(np.clip(-up[1], -1, 1))))
    source = "feet plane" if fitted else "balance" if balanced is not None else "body" if body else "level"
    return Ground(R, t, fitted, float(-floor), tilt, source)


#: The landmarks whose mean stands for the body's centre of mass in :func:`balance_up` (trunk and limbs).
MASS = [LM[f"{s}_{j}"] for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]


def balance_up(points_cam: np.ndarray, contacts: np.ndarray, min_frames: int = 10,
               max_from_level_deg: float = 60.0) -> np.ndarray | None:
    """Gravity seen from the camera (unit (3,), camera space, pointing up) from the body's balance: a person
    who stands, balances or walks keeps the centre of mass over the planted feet (over a stance it passes from
    behind the foot to ahead of it), so the direction from the planted feet (the middle of heel and toe of
    each, averaged over the feet planted on that frame) to the mean of the limb and trunk landmarks, taken over
    every frame with a planted foot, is up; the median of those directions, against frames of stepping or
    leaning. It needs no spread of the feet over the floor (one leg planted the whole take is enough) and
    only the relative 3D of one frame's landmarks. None with fewer than ``min_frames`` planted frames or an up
    more than ``max_from_level_deg`` from a level camera's. On pose2sim's demo (a person balancing on one
    leg), 1-6 degrees off the calibration's up from each camera, against 15-25 from the trunk."""
    feet = np.stack([0.5 * (points_cam[:, LM[f"{s}_heel"]] + points_cam[:, LM[f"{s}_foot_index"]])
                     for s in ("left", "right")], 1)  # (F, 2, 3)
    on = np.asarray(contacts, bool) & np.isfinite(feet).all(-1)
    mass = points_cam[:, MASS].mean(1)
    ok = on.any(1) & np.isfinite(mass).all(1)
    if ok.sum() < min_frames:
        return None
    support = (np.where(on[..., None], feet, 0.0)).sum(1)[ok] / on[ok].sum(1, keepdims=True)
    v = mass[ok] - support
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    up = np.median(v, axis=0)
    up /= np.linalg.norm(up)
    return up if up @ np.array([0.0, -1.0, 0.0]) > np.cos(np.radians(max_from_level_deg)) else None


def _body_up(points_cam: np.ndarray) -> np.ndarray:
    """Gravity seen from the camera when the floor cannot be fitted: the median direction from the hips to
    the shoulders (people stand, walk and squat with the trunk near vertical on average); the level
    camera's up when that looks implausible."""
    hip = 0.5 * (points_cam[:, LM["left_hip"]] + points_cam[:, LM["right_hip"]])
    sh = 0.5 * (points_cam[:, LM["left_shoulder"]] + points_cam[:, LM["right_shoulder"]])
    v = sh - hip
    ok = np.isfinite(v).all(1)
    level = np.array([0.0, -1.0, 0.0])
    if ok.sum() < 5:
        return level
    v = v[ok] / np.linalg.norm(v[ok], axis=1, keepdims=True)
    up = np.median(v, axis=0)
    up /= np.linalg.norm(up)
    return up if up @ level > np.cos(np.radians(40)) else level


def _axes(up: np.ndarray) -> np.ndarray:
    up = up / np.linalg.norm(up)
    fwd = np.array([0.0, 0.0, 1.0]) - up[2] * up
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, up)
    return np.stack([right, fwd, up])


def _robust_plane(pts: np.ndarray, iters: int = 200, tol: float = 0.04) -> np.ndarray | None:
    rng = np.random.default_rng(0)
    best, best_n = None, 0
    for _ in range(iters):
        s = pts[rng.choice(len(pts), 3, replace=False)]
        n = np.cross(s[1] - s[0], s[2] - s[0])
        if np.linalg.norm(n) < 1e-9:
            continue
        n /= np.linalg.norm(n)
        inl = np.abs((pts - s[0]) @ n) < tol
        if inl.sum() > best_n:
            best, best_n = inl, inl.sum()
    if best is None or best_n < 10:
        return None
    q = pts[best]
    return np.linalg.svd(q - q.mean(0))[2][2]


def lift(world: np.ndarray, image: np.ndarray, visibility: np.ndarray, K: np.ndarray,
         snap: float = 1.0) -> np.ndarray:
    """Camera-space absolute landmarks (F, 33, 3) for one view (NaN where nobody was found)."""
    t = root_translation(world, image, visibility, K)
    cam = world + t[:, None, :]
    return snap_to_rays(cam, image, K, snap) if snap else cam


def settle_on_floor(world: np.ndarray, fps: float, window_s: float = 1.2) -> tuple[np.ndarray, float]:
    """Remove slow vertical drift of a monocular take: over any ``window_s`` someone walking, standing or
    jumping touches the floor, so the lowest foot landmark within a sliding window is taken as floor level
    and the body is moved by that (low-passed) amount. Returns the corrected points and the largest shift."""
    feet = world[:, FEET, 2]
    ok = np.isfinite(feet).any(axis=1)
    feet_z = np.full(len(world), np.nan)
    feet_z[ok] = np.nanmin(feet[ok], axis=1)
    if ok.sum() < 3:
        return world, 0.0
    idx = np.arange(len(world))
    z = np.interp(idx, idx[ok], feet_z[ok])
    half = max(1, round(window_s * fps / 2))
    floor = np.array([z[max(0, i - half): i + half + 1].min() for i in range(len(z))])
    from .filters import one_euro_zero_phase
    floor = one_euro_zero_phase(floor[:, None, None], fps, min_cutoff=0.5, beta=0.0)[:, 0, 0]
    out = world.copy()
    out[..., 2] -= floor[:, None]
    return out, float(np.abs(floor).max())


#: The foot landmarks whose height and speed decide a contact (ankle, heel, toe), per side.
FOOT_POINTS = [[LM[f"{s}_{n}"] for n in ("ankle", "heel", "foot_index")] for s in ("left", "right")]


def planted_feet(points_cam: np.ndarray, image: np.ndarray, K: np.ndarray, fps: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """((F, 2) bool, (3,)): where each foot (left, right) is planted, and the camera-space up direction they
    were judged with, for one view before any skeleton is fitted (so the whole-clip fit can hold planted feet).

    The floor's up comes from :func:`estimate_ground` on the lifted landmarks; a foot's height is each of its
    points' height above where that point sits when low (a low percentile over the clip); its speed comes from
    the image (the slowest of its points' low-passed pixel speeds at the foot's depth: one camera's depth would
    invent motion). The decision is the engine's one detector (local_engine.contacts.detect), with the heights
    trusted as little as one camera's depth allows."""
    from ..contacts import HEIGHT_ONE_CAMERA, detect
    from .filters import butterworth_zero_phase, fill_gaps

    n = len(points_cam)
    up = np.array([0.0, -1.0, 0.0])
    feet_idx = np.array(FOOT_POINTS)  # (2, 3)
    seen = np.isfinite(points_cam[:, feet_idx.ravel()]).all(axis=(1, 2))
    if seen.sum() < max(10, int(0.3 * fps)):
        return np.zeros((n, 2), bool), up
    ground = estimate_ground(points_cam)
    up = ground.R[2] @ np.eye(3)  # camera-space up (the ground's third row)
    filled, _ = fill_gaps(points_cam[:, feet_idx.ravel()])
    world = ground.apply(filled).reshape(n, 2, 3, 3)
    rest = np.percentile(world[seen][..., 2], 5, axis=0)  # (2, 3) each point's height when down
    px, _ = fill_gaps(np.asarray(image, np.float64)[:, feet_idx.ravel()])
    px = butterworth_zero_phase(px, fps, 6.0).reshape(n, 2, 3, 2)
    v = np.zeros((n, 2, 3))
    if n > 1:
        v[1:] = np.linalg.norm(np.diff(px, axis=0), axis=-1) * fps
        v[0] = v[1]
    depth = np.maximum(filled.reshape(n, 2, 3, 3)[..., 2].mean(-1), 0.1)
    speed = v.min(-1) * depth / K[0, 0]
    out = detect(world, rest, fps, speed=speed, height_on=HEIGHT_ONE_CAMERA)
    out[~seen] = False
    return out, up
