"""Fit Move's skeleton (local_engine.motion) to 3D landmark trajectories.

Input: BlazePose's 33 landmarks per frame, already in Move's armature space (Z up, metres, floor at Z = 0
when known) and filtered. Output: a :class:`MoveMotion` whose bone lengths are fixed for the take (measured
from the landmarks, left/right averaged), whose bone rotations point each bone along its landmarks with a
stable twist (hip and shoulder lines, the bend plane of elbows and knees, hand and foot landmarks), plus
foot contacts decided over the whole clip (local_engine.contacts) during which each planted foot is held
where it stood (flat, with its contact's heading, on the floor fitted to the planted soles when asked) by leg
IK. The floor moves a foot only as far as the evidence supports (:func:`floor_targets`: contacts pulled to the
fitted floor as far as they agree on it, a sole within SOLE_BAND_M of its target left where the landmarks put
it); with one calibrated view not at all: its soles' heights are its depth errors seen from above, which a
vertical pull cannot correct (pose2sim's demo: every vertical pull tried, along the camera ray too, made one
camera's world error 1-11 mm worse). Without a calibration, the same rule took one camera's PA-MPJPE against
four views from 72.8 to 71.1 mm and its jitter from 2.8 to 2.5 mm/frame^2, against every sole put on the floor. Given the views the landmarks came from, the fitted pose is refined onto the 2D landmarks
(local_engine.pose.reproject) before the feet are pinned, and once more around the pinned feet (one view's
refinement robust beyond the clip's own 2D noise). Last, the
solver's joint limits make knees, elbows and toes hinges within their ranges (local_engine.joint_limits),
and the feet are pinned again within them.

No video, no camera models and no mediapipe here (those feed this module), and no bpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..contacts import detect_on_skeleton
from ..joint_limits import apply_joint_limits
from ..kinematics import pose_points
from ..motion import MOVE_BONES, MoveMotion, parent_indices, rest_heads, rest_tails
from ..rotations import rotation_between
from .blazepose import LM
from .quality import foot_slide_m_per_frame
from .rotations import (
    continuous,
    frame,
    normalize,
    perpendicular_part,
    quat_from_matrix,
    quat_to_matrix,
    slerp,
)

BONE_INDEX = {b: i for i, b in enumerate(MOVE_BONES)}
#: How long a pinned foot takes to blend back to where the landmarks put it before and after a contact (s):
#: a single camera's foot can be centimetres from where it was pinned, and a short blend makes it jump.
RELEASE_S = 0.15
#: Planted soles of several calibrated views agree on one floor to about this (m; pose2sim's demo: contact levels
#: within 0.3-1.2 cm of the fitted floor with four views, 1-7 cm with one): the scale of floor_targets' pull.
FLOOR_NOISE_M = 0.01
#: A planted sole within this of its floor target is left where the landmarks put it
#: (m): the views see a foot roll within a contact; flattening that cost 1 mm of world error with four views
#: (0.07 mm with this band, 0.03 with 2.5 cm, where the soles' lowest points end up to 3.1 cm off the floor).
SOLE_BAND_M = 0.02
#: Downward pitch (radians) of the ear->nose line when the head is level (the nose tip sits below the ears).
NOSE_PITCH = np.radians(18.0)

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
#: mediapipe hand landmark chains per finger (joint i -> i+1 drives Move's finger bone i+1).
_HAND_CHAINS = {"Thumb": (1, 2, 3, 4), "Index": (5, 6, 7, 8), "Middle": (9, 10, 11, 12), "Ring": (13, 14, 15, 16),
                "Pinky": (17, 18, 19, 20)}


def _p(j: np.ndarray, name: str) -> np.ndarray:
    return j[:, LM[name]]


def measure_lengths(joints: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """Median segment lengths over the take (left and right averaged), metres."""
    def seg(a: str, b: str) -> np.ndarray:
        return np.linalg.norm(_p(joints, a) - _p(joints, b), axis=-1)

    def med(x: np.ndarray) -> float:
        if weights is not None and (weights > 0.5).sum() >= 5:
            x = x[weights > 0.5]
        return float(np.nanmedian(x))

    both = {}
    for key, (a, b) in {"thigh": ("hip", "knee"), "shin": ("knee", "ankle"), "upper_arm": ("shoulder", "elbow"),
                        "forearm": ("elbow", "wrist")}.items():
        both[key] = 0.5 * (med(seg(f"left_{a}", f"left_{b}")) + med(seg(f"right_{a}", f"right_{b}")))
    hip_mid = 0.5 * (_p(joints, "left_hip") + _p(joints, "right_hip"))
    sh_mid = 0.5 * (_p(joints, "left_shoulder") + _p(joints, "right_shoulder"))
    both["hip_width"] = med(seg("left_hip", "right_hip"))
    both["shoulder_width"] = med(seg("left_shoulder", "right_shoulder"))
    both["torso"] = med(np.linalg.norm(sh_mid - hip_mid, axis=-1))
    return both


def build_rest(lengths: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Rest heads and tails (B, 3) of Move's T-pose skeleton with this person's proportions."""
    heads0, tails0 = rest_heads(), rest_tails()
    heads, tails = heads0.copy(), tails0.copy()
    k_torso = lengths["torso"] / 0.49
    s_leg = (lengths["thigh"] + lengths["shin"]) / 0.84
    s_arm = (lengths["upper_arm"] + lengths["forearm"]) / 0.54
    ankle_z = 0.08 * s_leg
    hip_z = ankle_z + lengths["shin"] + lengths["thigh"]

    def torso_z(z: float) -> float:
        return hip_z + (z - 0.92) * k_torso

    for b in ("Hips", "Spine", "Spine1", "Neck", "Head"):
        i = BONE_INDEX[b]
        heads[i] = (0.0, 0.0, torso_z(heads0[i, 2]))
        tails[i] = (0.0, 0.0, torso_z(tails0[i, 2]))
    sh_z = torso_z(1.41)
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        hw = 0.5 * lengths["hip_width"] * sx
        sw = 0.5 * lengths["shoulder_width"] * sx
        x_elbow = sw + lengths["upper_arm"] * sx
        x_wrist = x_elbow + lengths["forearm"] * sx
        put = {
            "Shoulder": ((0.03 * k_torso * sx, 0, sh_z), (sw, 0, sh_z)),
            "Arm": ((sw, 0, sh_z), (x_elbow, 0, sh_z)),
            "ForeArm": ((x_elbow, 0, sh_z), (x_wrist, 0, sh_z)),
            "UpLeg": ((hw, 0, hip_z), (hw, 0, hip_z - lengths["thigh"])),
            "Leg": ((hw, 0, ankle_z + lengths["shin"]), (hw, 0, ankle_z)),
            "Foot": ((hw, 0, ankle_z), (hw, -0.13 * s_leg, 0.02 * s_leg)),
            "ToeBase": ((hw, -0.13 * s_leg, 0.02 * s_leg), (hw, -0.20 * s_leg, 0.02 * s_leg)),
        }
        for b, (h, t) in put.items():
            i = BONE_INDEX[side + b]
            heads[i], tails[i] = h, t
        # Hand and fingers: Move's layout scaled by the arm, moved to this wrist.
        wrist0 = heads0[BONE_INDEX[side + "Hand"]]
        wrist = np.array([x_wrist, 0.0, sh_z])
        for b in MOVE_BONES:
            if b.startswith(side + "Hand"):
                i = BONE_INDEX[b]
                heads[i] = wrist + (heads0[i] - wrist0) * s_arm
                tails[i] = wrist + (tails0[i] - wrist0) * s_arm
    return heads, tails


def _blend_secondary(primary: np.ndarray, wanted: np.ndarray, fallback: np.ndarray, lo: float = 0.15,
                     hi: float = 0.45) -> np.ndarray:
    """Secondary axis: ``wanted``'s part perpendicular to primary where it is well defined (its relative
    length above ``hi``), ``fallback``'s where it vanishes (a straight limb), blended in between."""
    w_perp = perpendicular_part(wanted, primary)
    f_perp = normalize(perpendicular_part(fallback, primary))
    strength = np.linalg.norm(w_perp, axis=-1, keepdims=True) / np.maximum(np.linalg.norm(wanted, axis=-1,
                                                                                            keepdims=True), 1e-9)
    a = np.clip((strength - lo) / (hi - lo), 0.0, 1.0)
    return normalize(a * normalize(w_perp) + (1 - a) * f_perp)


def _delta(obs_primary: np.ndarray, obs_secondary: np.ndarray, rest_primary: np.ndarray,
           rest_secondary: np.ndarray) -> np.ndarray:
    """Armature-space rotations (F, 3, 3) taking the rest frame (primary, secondary) onto the observed one."""
    f_obs = frame(obs_primary, obs_secondary)
    f_rest = frame(np.broadcast_to(rest_primary, obs_primary.shape), np.broadcast_to(rest_secondary,
                                                                                       obs_primary.shape))
    return f_obs @ np.swapaxes(f_rest, -1, -2)


def bone_rotations(joints: np.ndarray, hands: np.ndarray | None = None) -> np.ndarray:
    """(F, B, 3, 3) armature-space deltas from rest for every Move bone."""
    n = len(joints)
    eye = np.broadcast_to(np.eye(3), (n, 3, 3))
    rot = np.repeat(np.eye(3)[None, None], n, axis=0).repeat(len(MOVE_BONES), axis=1)
    X, Y, Z = np.eye(3)
    j = joints
    lh, rh, ls, rs = (_p(j, k) for k in ("left_hip", "right_hip", "left_shoulder", "right_shoulder"))
    hip_mid, sh_mid = 0.5 * (lh + rh), 0.5 * (ls + rs)
    up = sh_mid - hip_mid
    hips = _delta(lh - rh, up, X, Z)
    chest = _delta(ls - rs, up, X, Z)
    spine = quat_to_matrix(slerp(quat_from_matrix(hips), quat_from_matrix(chest), 0.5))
    rot[:, BONE_INDEX["Hips"]] = hips
    rot[:, BONE_INDEX["Spine"]] = spine
    rot[:, BONE_INDEX["Spine1"]] = chest
    ear_l, ear_r, nose = _p(j, "left_ear"), _p(j, "right_ear"), _p(j, "nose")
    ear_mid = 0.5 * (ear_l + ear_r)
    rot[:, BONE_INDEX["Neck"]] = _delta(ear_mid - sh_mid, ear_l - ear_r, Z, X)
    head_fwd_rest = np.array([0.0, -np.cos(NOSE_PITCH), -np.sin(NOSE_PITCH)])
    rot[:, BONE_INDEX["Head"]] = _delta(ear_l - ear_r, nose - ear_mid, X, head_fwd_rest)
    fwd_chest = chest @ -Y
    fwd_hips = hips @ -Y
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        s = side.lower()
        out = sx * X
        sh, el, wr = _p(j, f"{s}_shoulder"), _p(j, f"{s}_elbow"), _p(j, f"{s}_wrist")
        idx, pky = _p(j, f"{s}_index"), _p(j, f"{s}_pinky")
        rot[:, BONE_INDEX[side + "Shoulder"]] = chest
        upper, fore = el - sh, wr - el
        # Elbow flexion brings the forearm towards the front of the upper arm (-Y in the T-pose, palms down).
        arm = _delta(upper, _blend_secondary(upper, fore, fwd_chest), out, -Y)
        rot[:, BONE_INDEX[side + "Arm"]] = arm
        palm_across = idx - pky  # thumb side -> -Y at rest
        forearm = _delta(fore, _blend_secondary(fore, palm_across, arm @ -Y, 0.1, 0.3), out, -Y)
        rot[:, BONE_INDEX[side + "ForeArm"]] = forearm
        hand_dir = 0.5 * (idx + pky) - wr
        hand = _delta(hand_dir, _blend_secondary(hand_dir, palm_across, forearm @ -Y, 0.1, 0.3), out, -Y)
        rot[:, BONE_INDEX[side + "Hand"]] = hand
        if hands is not None:
            _fingers(rot, side, hands[:, 0 if side == "Left" else 1], hand, sx)
        else:
            for f in _FINGERS:
                for k in (1, 2, 3):
                    rot[:, BONE_INDEX[f"{side}Hand{f}{k}"]] = hand
        hp, kn, an = _p(j, f"{s}_hip"), _p(j, f"{s}_knee"), _p(j, f"{s}_ankle")
        heel, toe = _p(j, f"{s}_heel"), _p(j, f"{s}_foot_index")
        thigh, shin, foot = kn - hp, an - kn, toe - heel
        # Knee flexion sends the shin backwards (+Y); the foot points forward when the leg is straight.
        thigh_fwd = _blend_secondary(thigh, -shin, _blend_secondary(thigh, foot, fwd_hips))
        rot[:, BONE_INDEX[side + "UpLeg"]] = _delta(thigh, thigh_fwd, -Z, -Y)
        leg = _delta(shin, _blend_secondary(shin, foot, thigh_fwd, 0.1, 0.3), -Z, -Y)
        rot[:, BONE_INDEX[side + "Leg"]] = leg
        foot_rot = _delta(foot, _blend_secondary(foot, an - heel, leg @ Z, 0.1, 0.3), -Y, Z)
        rot[:, BONE_INDEX[side + "Foot"]] = foot_rot
        rot[:, BONE_INDEX[side + "ToeBase"]] = foot_rot
    del eye
    return rot


def _fingers(rot: np.ndarray, side: str, hand_lm: np.ndarray, hand_rot: np.ndarray, sx: float) -> None:
    """Finger bones from mediapipe hand landmarks (F, 21, 3) in armature axes; rest where the hand is lost."""
    ok = np.isfinite(hand_lm).all(axis=(1, 2))
    X = np.array([1.0, 0.0, 0.0])
    rest_h, rest_t = rest_heads(), rest_tails()
    # Palm normal of the observed hand (points out of the back of the hand for both sides: -Z at rest... the
    # sign is fixed by the side so that the T-pose, palms down, gives the rest frame).
    wrist, index, pinky = hand_lm[:, 0], hand_lm[:, 5], hand_lm[:, 17]
    normal = np.cross(index - wrist, pinky - wrist) * sx
    for f in _FINGERS:
        chain = _HAND_CHAINS[f]
        for k in (1, 2, 3):
            b = f"{side}Hand{f}{k}"
            i = BONE_INDEX[b]
            rest_dir = rest_t[i] - rest_h[i]
            obs = hand_lm[:, chain[k]] - hand_lm[:, chain[k - 1]]
            d = _delta(np.where(ok[:, None], obs, hand_rot @ rest_dir), np.where(ok[:, None], normal,
                       hand_rot @ np.array([0.0, 0.0, 1.0])), rest_dir, np.array([0.0, 0.0, 1.0]))
            rot[:, i] = np.where(ok[:, None, None], d, hand_rot)
    del X


def forward_kinematics(rotations: np.ndarray, hips_positions: np.ndarray, heads: np.ndarray,
                       tails: np.ndarray, bones: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Posed heads and tails (F, B, 3) on Move's hierarchy (:func:`local_engine.kinematics.pose_points`)."""
    return pose_points(rotations, hips_positions, heads, tails, parent_indices(bones or MOVE_BONES))


def detect_contacts(heads: np.ndarray, tails: np.ndarray, fps: float, rest: tuple[np.ndarray, np.ndarray],
                    views: list[Any] | None = None) -> np.ndarray:
    """(F, 2) bool: left/right foot planted (local_engine.contacts over the whole clip). With one view, the
    feet's speed comes from the image (a single camera's depth would invent motion)."""
    speed = _image_speed(views[0], heads, fps) if views is not None and len(views) == 1 else None
    return detect_on_skeleton(heads, tails, rest[0], rest[1], MOVE_BONES, fps, image_speed=speed)


def _image_speed(view: Any, heads: np.ndarray, fps: float) -> np.ndarray:
    """(F, 2) each foot's speed across the image (m/s at the foot's depth): the slowest of its ankle, heel
    and toe landmarks, low-passed like the 3D landmarks."""
    from .filters import butterworth_zero_phase, fill_gaps

    out = np.zeros((len(heads), 2))
    for c, side in enumerate(("left", "right")):
        px = view.pixels[:, [LM[f"{side}_{n}"] for n in ("ankle", "heel", "foot_index")]].astype(np.float64)
        if not np.isfinite(px).all(-1).any():
            continue
        px = butterworth_zero_phase(fill_gaps(px)[0], fps, 6.0)
        v = np.zeros(px.shape[:2])
        v[1:] = np.linalg.norm(np.diff(px, axis=0), axis=-1) * fps
        v[0] = v[1] if len(v) > 1 else 0.0
        depth = (heads[:, BONE_INDEX[side.title() + "Foot"]] @ view.R.T + view.t)[:, 2]
        out[:, c] = v.min(1) * np.maximum(depth, 0.1) / view.K[0, 0]
    return out


def flatten_planted_feet(mats: np.ndarray, contacts: np.ndarray, ramp: int = 5) -> np.ndarray:
    """A planted foot lies flat and keeps its heading: while in contact its rotation is the heading (about Z)
    it had over that contact (the circular mean), so the whole foot stays put once its ball is pinned; it
    blends back to the observed orientation over ``ramp`` frames around each contact."""
    mats = mats.copy()
    for c, side in enumerate(("Left", "Right")):
        weight = _ramp(contacts[:, c], contacts[:, c].astype(float)[:, None], ramp)[:, 0]
        use = weight > 0
        if not use.any():
            continue
        runs = _runs(contacts[:, c])
        starts = np.array([a for a, _ in runs])
        ends = np.array([b - 1 for _, b in runs])
        frames = np.nonzero(use)[0]
        # each frame near or in a contact takes the heading of the nearest contact
        nearest = np.argmin(np.minimum(np.abs(frames[:, None] - starts[None]), np.abs(frames[:, None] - ends[None]))
                            + np.where((frames[:, None] >= starts[None]) & (frames[:, None] <= ends[None]), -10**6, 0),
                            axis=1)
        for b in ("Foot", "ToeBase"):
            i = BONE_INDEX[side + b]
            fwd = mats[:, i] @ np.array([0.0, -1.0, 0.0])
            yaw_all = np.arctan2(fwd[:, 0], -fwd[:, 1])
            held = np.array([np.arctan2(np.sin(yaw_all[a:e]).mean(), np.cos(yaw_all[a:e]).mean()) for a, e in runs])
            yaw = held[nearest]
            cz, sz = np.cos(yaw), np.sin(yaw)
            flat = np.zeros((len(frames), 3, 3))
            flat[:, 0, 0], flat[:, 0, 1], flat[:, 1, 0], flat[:, 1, 1], flat[:, 2, 2] = cz, -sz, sz, cz, 1.0
            q = slerp(quat_from_matrix(mats[use, i]), quat_from_matrix(flat), weight[use][:, None])
            mats[use, i] = quat_to_matrix(q)
    return mats


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    runs, f = [], 0
    while f < len(mask):
        if mask[f]:
            g = f
            while g < len(mask) and mask[g]:
                g += 1
            runs.append((f, g))
            f = g
        else:
            f += 1
    return runs


def _ramp(contact: np.ndarray, values: np.ndarray, ramp: int) -> np.ndarray:
    """Per-frame offsets: ``values`` inside contacts, fading smoothly to zero over ``ramp`` frames outside."""
    n = len(contact)
    out = np.zeros_like(values)
    out[contact] = values[contact]
    idx = np.nonzero(contact)[0]
    if not len(idx):
        return out
    for f in np.nonzero(~contact)[0]:
        j = idx[np.argmin(np.abs(idx - f))]
        d = abs(int(j) - int(f))
        if d < ramp:
            x = 1.0 - d / ramp
            out[f] = values[j] * x * x * (3.0 - 2.0 * x)  # smoothstep: no kink where the blend starts
    del n
    return out


def pin_feet(mats: np.ndarray, heads: np.ndarray, tails: np.ndarray, ph: np.ndarray, contacts: np.ndarray,
             floor_z: float | np.ndarray | None, ramp: int = 5, band: float = 0.0) -> np.ndarray:
    """Re-aim thighs and shins (two-bone IK, knee kept in its bend plane) so that a planted foot's ball stays
    where it landed and, given ``floor_z`` (a height, or per frame and foot (F, 2) as :func:`floor_targets`
    gives), its lowest point touches that floor (to within ``band``). The feet keep their orientation
    (rotations are armature-space), hips and upper body are untouched. Returns corrected matrices."""
    mats = mats.copy()
    offsets = pin_offsets(mats, heads, tails, ph, contacts, floor_z, ramp, band)
    for c, side in enumerate(("Left", "Right")):
        iu, il, ifoot = (BONE_INDEX[side + b] for b in ("UpLeg", "Leg", "Foot"))
        offset = offsets[:, c]
        move = np.linalg.norm(offset, axis=1) > 1e-6
        if not move.any():
            continue
        hip = ph[move, iu]
        target = ph[move, ifoot] + offset[move]
        knee0 = ph[move, il]
        l1 = np.linalg.norm(heads[il] - heads[iu])
        l2 = np.linalg.norm(heads[ifoot] - heads[il])
        ht = target - hip
        d = np.clip(np.linalg.norm(ht, axis=1), abs(l1 - l2) + 1e-4, l1 + l2 - 1e-4)
        u = normalize(ht)
        pole = perpendicular_part(knee0 - hip, u)
        fallback = perpendicular_part(mats[move, iu] @ np.array([0.0, -1.0, 0.0]), u)
        weak = np.linalg.norm(pole, axis=1) < 1e-4
        pole[weak] = fallback[weak]
        pole = normalize(pole)
        a = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
        h = np.sqrt(np.maximum(l1 * l1 - a * a, 0.0))
        knee = hip + u * a[:, None] + pole * h[:, None]
        ankle = hip + u * d[:, None]
        for bone, old_dir, new_dir in ((iu, knee0 - hip, knee - hip), (il, ph[move, ifoot] - knee0, ankle - knee)):
            mats[move, bone] = rotation_between(old_dir, new_dir) @ mats[move, bone]
    return mats


def pin_offsets(mats: np.ndarray, heads: np.ndarray, tails: np.ndarray, ph: np.ndarray, contacts: np.ndarray,
                floor_z: float | np.ndarray | None, ramp: int = 5, band: float = 0.0) -> np.ndarray:
    """(F, 2, 3) how far each foot (left, right) must move so that, while planted, its ball stays at the
    median of where it was during that contact and, given a floor height ``floor_z`` (one height, or (F, 2)
    per frame and foot, NaN where no height is asked), its sole is on it, or within ``band`` of it (a sole
    already that close is not moved); fading out over ``ramp`` frames around contacts."""
    n = len(ph)
    out = np.zeros((n, 2, 3))
    for c, side in enumerate(("Left", "Right")):
        ball = ph[:, BONE_INDEX[side + "ToeBase"]]
        low = sole_height(mats, heads, tails, ph, side)
        offset = np.zeros((n, 3))
        for a, b in _runs(contacts[:, c]):
            anchor = np.median(ball[a:b, :2], axis=0)
            offset[a:b, :2] = anchor - ball[a:b, :2]
            if floor_z is not None:
                target = np.asarray(floor_z, np.float64)[a:b, c] if np.ndim(floor_z) else float(floor_z)
                e = np.nan_to_num(target - low[a:b])
                offset[a:b, 2] = e - np.clip(e, -band, band)
        out[:, c] = _ramp(contacts[:, c], offset, ramp)
    return out


def floor_targets(mats: np.ndarray, heads: np.ndarray, tails: np.ndarray, ph: np.ndarray, contacts: np.ndarray,
                  floor_z: float, noise_m: float = FLOOR_NOISE_M) -> tuple[np.ndarray, dict[str, float]]:
    """((F, 2) sole heights the planted feet are pulled to, NaN off contacts; statistics) for a floor fitted to
    them: each contact's level (its sole's median height) is pulled
    towards the fitted floor ``floor_z`` only as far as the contacts agree on one floor, by
    noise^2 / (noise^2 + spread^2), where spread is the contacts' RMS distance from that floor (weighted by their
    frames). Contacts that agree within ``noise_m`` are pulled most of the way (half at ``noise_m``); contacts metres apart (steps, a stage)
    or centimetres apart because one camera cannot tell their depth stay where the views put them: the
    floor never shifts the body, or bends a leg, by more than the evidence of the contacts supports."""
    out = np.full((len(ph), 2), np.nan)
    runs = [(c, a, b, float(np.median(sole_height(mats, heads, tails, ph, side)[a:b])))
            for c, side in enumerate(("Left", "Right")) for a, b in _runs(contacts[:, c])]
    if not runs:
        return out, {}
    levels = np.array([r[3] for r in runs])
    frames = np.array([r[2] - r[1] for r in runs], np.float64)
    spread = float(np.sqrt(np.average((levels - floor_z) ** 2, weights=frames)))
    pull = noise_m ** 2 / (noise_m ** 2 + spread ** 2)
    for c, a, b, level in runs:
        out[a:b, c] = level + pull * (floor_z - level)
    return out, {"contact_levels_spread_m": round(spread, 4), "pull": round(pull, 3)}


def sole_height(mats: np.ndarray, heads: np.ndarray, tails: np.ndarray, ph: np.ndarray, side: str) -> np.ndarray:
    """(F,) the lowest point of a foot: its ball, its toe tip, or 6 cm below its ankle."""
    ifoot, itoe = BONE_INDEX[side + "Foot"], BONE_INDEX[side + "ToeBase"]
    return np.minimum(np.minimum(ph[:, itoe, 2], tails_z(mats, heads, tails, ph, itoe)), ph[:, ifoot, 2] - 0.06)


def fit_floor(mats: np.ndarray, heads: np.ndarray, tails: np.ndarray, ph: np.ndarray, contacts: np.ndarray
              ) -> float | None:
    """The floor's height: the median sole height over the contact frames of both feet (None without any)."""
    soles = [sole_height(mats, heads, tails, ph, side)[contacts[:, c]] for c, side in enumerate(("Left", "Right"))]
    soles = np.concatenate(soles)
    return float(np.median(soles)) if len(soles) else None


def tails_z(mats: np.ndarray, heads: np.ndarray, tails: np.ndarray, ph: np.ndarray, i: int) -> np.ndarray:
    return (ph[:, i] + mats[:, i] @ (tails[i] - heads[i]))[:, 2]


def fit(joints: np.ndarray, fps: float, *, weights: np.ndarray | None = None, hands: np.ndarray | None = None,
        floor: bool = True, pin: bool = True, views: list[Any] | None = None,
        metadata: dict[str, Any] | None = None, cutoff_hz: float = 6.0, world_known: bool = False,
        refine_first: bool = True, contacts: np.ndarray | None = None) -> MoveMotion:
    """MoveMotion for landmark trajectories (F, 33, 3) in Move's armature space (finite everywhere).

    With ``floor`` the floor is fitted to the planted feet's soles (a level plane at their median height) and
    planted feet are pulled to it as far as the contacts agree on it (:func:`floor_targets`, to within
    SOLE_BAND_M); the body is not moved to it. With ``world_known`` (a calibration's world) the result stays
    in that world and the fitted floor's height is reported; with one such view the feet are not pulled (their
    heights are the view's depth). Otherwise (a world estimated from the feet) the whole result is lifted or
    lowered by that height, so the fitted floor is Z = 0.

    ``views`` (local_engine.pose.reproject.View): the cameras and 2D landmarks the joints came from; when
    given, the fitted skeleton is refined so its joints reproject onto them (before the feet are pinned,
    planted feet held at their pinned place during a second refinement; without ``refine_first`` only the
    second, for joints already fitted to the views over the whole clip, local_engine.pose.clip_fit). Knees, elbows and toes end as
    hinges within their ranges (local_engine.joint_limits). ``contacts`` (F, 2): the planted feet when already
    decided (the single camera's whole-clip fit held those still); otherwise detected here."""
    lengths = measure_lengths(joints, weights)
    heads, tails = build_rest(lengths)
    mats = bone_rotations(joints, hands)
    quats = continuous(quat_from_matrix(mats))
    hip_mid = 0.5 * (_p(joints, "left_hip") + _p(joints, "right_hip"))
    rest_hip_mid = 0.5 * (heads[BONE_INDEX["LeftUpLeg"]] + heads[BONE_INDEX["RightUpLeg"]])
    hips_pos = hip_mid + mats[:, BONE_INDEX["Hips"]] @ (heads[BONE_INDEX["Hips"]] - rest_hip_mid)
    ph, pt = forward_kinematics(mats, hips_pos, heads, tails)
    if contacts is None:
        contacts = detect_contacts(ph, pt, fps, (heads, tails), views)
    meta = dict(metadata or {})
    from .reproject import HUBER_VIEWS_PX, refine

    if views and refine_first:
        mats, hips_pos, meta["reprojection_refinement"] = refine(mats, hips_pos, heads, tails, views, fps,
                                                                     cutoff_hz=cutoff_hz)
        ph, pt = forward_kinematics(mats, hips_pos, heads, tails)
    planted = pin and contacts.any()
    ramp = max(3, int(round(RELEASE_S * fps)))
    if planted:
        before = foot_slide(pt, contacts)
        mats = flatten_planted_feet(mats, contacts, ramp)
        ph, pt = forward_kinematics(mats, hips_pos, heads, tails)
        floor_z: float | np.ndarray | None = fit_floor(mats, heads, tails, ph, contacts) if floor else None
        band = 0.0
        if floor_z is not None:
            meta["floor_fitted_z_m"] = round(float(floor_z), 4)
            if not world_known:  # the world came from the feet: its floor is the fitted one
                hips_pos = hips_pos - np.array([0.0, 0.0, floor_z])
                ph, pt = forward_kinematics(mats, hips_pos, heads, tails)
                if views:  # the cameras see the body where it was: they move with it
                    views = [v.moved(np.array([0.0, 0.0, -floor_z])) for v in views]
                floor_z = 0.0
            if world_known and views is not None and len(views) == 1:
                # one calibrated camera: a planted sole's height is that camera's depth seen from above, which
                # no vertical pull corrects (the feet stay where the view put them; the floor is reported)
                meta["floor_pull"] = {"pull": 0.0, "reason": "one view: sole heights are its depth"}
                floor_z = None
            else:
                targets, meta["floor_pull"] = floor_targets(mats, heads, tails, ph, contacts, float(floor_z))
                floor_z, band = targets, SOLE_BAND_M
        hold = np.linalg.norm(pin_offsets(mats, heads, tails, ph, contacts, floor_z, ramp, band), axis=-1) > 0
        mats = pin_feet(mats, heads, tails, ph, contacts, floor_z, ramp, band)
        ph, pt = forward_kinematics(mats, hips_pos, heads, tails)
        if views:  # refined again around the pinned feet: knees and upper body onto the image, ankles held
            feet = [BONE_INDEX["LeftFoot"], BONE_INDEX["RightFoot"]]
            mats, hips_pos, second = refine(mats, hips_pos, heads, tails, views, fps, root_sigma_m=1e-4,
                                            cutoff_hz=cutoff_hz, huber_px=None if len(views) == 1 else HUBER_VIEWS_PX,
                                            pins=(["LeftFoot", "RightFoot"], ph[:, feet], (hold | contacts) * 1.0))
            meta.setdefault("reprojection_refinement", second)
            ph, pt = forward_kinematics(mats, hips_pos, heads, tails)
            mats = pin_feet(mats, heads, tails, ph, contacts, floor_z, ramp, band)
            ph, pt = forward_kinematics(mats, hips_pos, heads, tails)
        meta["foot_slide_mm_per_frame"] = {"before": round(before, 3), "after": round(foot_slide(pt, contacts), 3)}
    if planted or views:
        quats = continuous(quat_from_matrix(mats))
    meta["segment_lengths_m"] = {k: round(v, 4) for k, v in lengths.items()}
    motion = MoveMotion(fps=fps, rotations=quats, hips_positions=hips_pos, rest_heads=heads, rest_tails=tails,
                        foot_contacts=contacts, metadata=meta)
    # Move's hinges (knees, elbows, toes) within their ranges; ankles and wrists stay where they were fitted
    limited = apply_joint_limits(motion)
    if planted:  # a clamped knee moves its ankle: the feet pinned again within the limits
        mats = quat_to_matrix(limited.rotations)
        ph, _ = forward_kinematics(mats, hips_pos, heads, tails)
        limited.rotations = quat_from_matrix(pin_feet(mats, heads, tails, ph, contacts, floor_z, ramp, band))
        limited = apply_joint_limits(limited)
        _, pt = forward_kinematics(quat_to_matrix(limited.rotations), hips_pos, heads, tails)
        limited.metadata["foot_slide_mm_per_frame"]["after"] = round(foot_slide(pt, contacts), 3)  # as delivered
    limited.rotations = continuous(limited.rotations)
    return limited


def foot_slide(tails: np.ndarray, contacts: np.ndarray) -> float:
    """Planted-foot slide, mm/frame: the toe tips' (posed tails (F, B, 3)) horizontal motion from frame to
    frame while planted (local_engine.pose.quality, as the accuracy benchmark measures it)."""
    toes = tails[:, [BONE_INDEX["LeftToeBase"], BONE_INDEX["RightToeBase"]]]
    return 1000.0 * foot_slide_m_per_frame(toes, contacts)


def joint_positions(motion: MoveMotion) -> dict[str, np.ndarray]:
    """Posed positions (F, 3) of the joints that correspond to BlazePose landmarks, by landmark name."""
    mats = quat_to_matrix(motion.rotations)
    ph, pt = forward_kinematics(mats, motion.hips_positions, motion.rest_heads, motion.rest_tails, motion.bones)
    idx = {b: i for i, b in enumerate(motion.bones)}
    out = {}
    for side in ("Left", "Right"):
        s = side.lower()
        out[f"{s}_shoulder"] = ph[:, idx[side + "Arm"]]
        out[f"{s}_elbow"] = ph[:, idx[side + "ForeArm"]]
        out[f"{s}_wrist"] = ph[:, idx[side + "Hand"]]
        out[f"{s}_hip"] = ph[:, idx[side + "UpLeg"]]
        out[f"{s}_knee"] = ph[:, idx[side + "Leg"]]
        out[f"{s}_ankle"] = ph[:, idx[side + "Foot"]]
        out[f"{s}_ball"] = ph[:, idx[side + "ToeBase"]]
        out[f"{s}_toe"] = pt[:, idx[side + "ToeBase"]]
    return out
