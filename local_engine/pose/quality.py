"""Capture-quality figures, shared by the solver's metadata, ``scripts/bench.py accuracy`` and the tests, so a
figure means the same wherever it is read: joint sets of a motion or of BlazePose landmarks, root-centred and
Procrustes-aligned joint errors, the error split along the camera ray and across it, planted-foot slide,
jitter and bone-length spread.

Pure numpy on (frames, joints, 3) arrays in metres; it must not fit, filter or run models. No bpy here.
"""

from __future__ import annotations

import numpy as np

from ..kinematics import forward_kinematics
from ..motion import MoveMotion
from .blazepose import LM

#: The joints compared (BlazePose landmark names; the Move skeleton's joints at the same places, the toe being
#: the ToeBase bone's tail and BlazePose's foot_index).
JOINTS = [f"{s}_{j}" for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "toe") for s in ("left", "right")]
GROUPS = {g: [JOINTS.index(f"{s}_{g}") for s in ("left", "right")]
          for g in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "toe")}
#: Segments whose lengths a real body keeps (index pairs into JOINTS).
BONES = [(JOINTS.index(f"{s}_{a}"), JOINTS.index(f"{s}_{b}")) for s in ("left", "right")
         for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))]
_HIPS = [JOINTS.index("left_hip"), JOINTS.index("right_hip")]


#: Where each of JOINTS sits on Move's skeleton: (bone, "head" or "tail").
_ON_SKELETON = {f"{s}_{j}": (side + bone, end) for side, s in (("Left", "left"), ("Right", "right"))
                for j, bone, end in (("shoulder", "Arm", "head"), ("elbow", "ForeArm", "head"),
                                     ("wrist", "Hand", "head"), ("hip", "UpLeg", "head"), ("knee", "Leg", "head"),
                                     ("ankle", "Foot", "head"), ("toe", "ToeBase", "tail"))}


def motion_joints(motion: MoveMotion) -> np.ndarray:
    """(F, J, 3) the JOINTS of a MoveMotion (armature space, metres)."""
    heads, tails = forward_kinematics(motion)
    index = {b: i for i, b in enumerate(motion.bones)}
    return np.stack([(heads if end == "head" else tails)[:, index[bone]]
                     for bone, end in (_ON_SKELETON[n] for n in JOINTS)], 1)


def landmark_joints(landmarks: np.ndarray) -> np.ndarray:
    """(F, J, 3) the JOINTS of BlazePose landmarks (F, 33, 3)."""
    return np.asarray(landmarks, np.float64)[:, [LM[n.replace("_toe", "_foot_index")] for n in JOINTS]]


def root_centred(x: np.ndarray) -> np.ndarray:
    return x - x[:, _HIPS].mean(1, keepdims=True)


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation R (3, 3) minimising |a @ R.T - b| for point sets (N, 3) already centred."""
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    return (u @ np.diag([1.0, 1.0, d]) @ vt).T


def clip_aligned(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``pred`` root-centred and turned by the one rotation that best matches ``ref`` (root-centred) over the
    whole clip: what MPJPE compares when the two are in different world frames (no per-frame fitting, no
    scale)."""
    p, r = root_centred(pred), root_centred(ref)
    ok = np.isfinite(p).all(-1) & np.isfinite(r).all(-1)
    R = _kabsch(p[ok], r[ok])
    return p @ R.T


def procrustes_aligned(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``pred`` moved, turned and scaled onto ``ref`` frame by frame (the alignment of PA-MPJPE)."""
    out = np.full(pred.shape, np.nan)
    for f in range(len(pred)):
        ok = np.isfinite(pred[f]).all(-1) & np.isfinite(ref[f]).all(-1)
        if ok.sum() < 4:
            continue
        a, b = pred[f, ok], ref[f, ok]
        ma, mb = a.mean(0), b.mean(0)
        a0, b0 = a - ma, b - mb
        u, s, vt = np.linalg.svd(a0.T @ b0)
        d = np.sign(np.linalg.det(u @ vt))
        D = np.diag([1.0, 1.0, d])
        R = (u @ D @ vt).T
        scale = float((s * np.diag(D)).sum() / max((a0 ** 2).sum(), 1e-12))
        out[f] = scale * (pred[f] - ma) @ R.T + mb
    return out


def errors(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(F, J) distances, metres (NaN where either is unknown)."""
    return np.linalg.norm(pred - ref, axis=-1)


def mpjpe_mm(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean root-centred joint error after one rotation for the clip, mm."""
    return 1000.0 * float(np.nanmean(errors(clip_aligned(pred, ref), root_centred(ref))))


def pa_mpjpe_mm(pred: np.ndarray, ref: np.ndarray, groups: bool = False) -> float | dict[str, float]:
    """Mean joint error after per-frame Procrustes alignment, mm (per joint group with ``groups``)."""
    e = 1000.0 * errors(procrustes_aligned(pred, ref), ref)
    if not groups:
        return float(np.nanmean(e))
    return {g: round(float(np.nanmean(e[:, idx])), 1) for g, idx in GROUPS.items()}


def ray_split_mm(pred: np.ndarray, ref: np.ndarray, camera_centre: np.ndarray) -> tuple[float, float]:
    """(along the camera ray, across it): mean absolute components, mm, of the root-centred error after the
    clip's rotation; ``ref`` in a world frame where the camera's optical centre is ``camera_centre``."""
    e = clip_aligned(pred, ref) - root_centred(ref)
    ray = ref - np.asarray(camera_centre, np.float64)
    ray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
    along = np.einsum("fji,fji->fj", e, ray)
    across = np.linalg.norm(e - along[..., None] * ray, axis=-1)
    return 1000.0 * float(np.nanmean(np.abs(along))), 1000.0 * float(np.nanmean(across))


def foot_slide_m_per_frame(points: np.ndarray, contacts: np.ndarray) -> float:
    """Mean horizontal distance (m) a planted foot point moves from one frame to the next while planted.

    ``points``: (F, 2, 3) left and right foot points (Z up); ``contacts``: (F, 2) bool. Only pairs of
    consecutive contact frames count; 0 when there are none."""
    steps = []
    for c in range(2):
        both = contacts[1:, c] & contacts[:-1, c]
        if both.any():
            steps.append(np.linalg.norm(np.diff(points[:, c, :2], axis=0), axis=1)[both])
    return float(np.nanmean(np.concatenate(steps))) if steps else 0.0


def toes(joints: np.ndarray) -> np.ndarray:
    """(F, 2, 3) the left and right toe of a JOINTS array."""
    return joints[:, [JOINTS.index("left_toe"), JOINTS.index("right_toe")]]


def jitter_mm(joints: np.ndarray) -> float:
    """Mean norm of the frame-to-frame acceleration (second difference), mm/frame^2."""
    acc = np.diff(np.asarray(joints, np.float64), n=2, axis=0)
    return 1000.0 * float(np.nanmean(np.linalg.norm(acc, axis=-1)))


def bone_length_std_mm(joints: np.ndarray) -> float:
    """Mean over the limb segments of the standard deviation of their length over the clip, mm."""
    lengths = np.stack([np.linalg.norm(joints[:, a] - joints[:, b], axis=-1) for a, b in BONES], 1)
    return 1000.0 * float(np.nanmean(np.nanstd(lengths, axis=0)))


def contact_agreement(found: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(recall, precision) of contact frames ``found`` (F, 2) against ``reference`` (F, 2)."""
    hit = float((found & reference).sum())
    return hit / max(float(reference.sum()), 1.0), hit / max(float(found.sum()), 1.0)
