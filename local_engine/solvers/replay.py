"""The replay solver: instead of looking at the footage, it replays a real motion capture file (CMU BVH)
retargeted onto Move's skeleton. It exists so the whole pipeline runs with real human motion and no model.

No bpy here, and nothing is made up: every rotation comes from the file.

Retargeting: the CMU file is Y-up, the subject faces +Z, left is +X, units of about 5.6 cm. Move is Z-up,
faces -Y, left +X, metres. Axes change by ``C`` (a +90 degree turn about X). Each Move bone follows one CMU
joint's world rotation ``G`` (identity at the CMU rest pose), corrected by the swing ``A`` that turns the
Move T-pose bone direction onto the CMU rest direction of the same segment: ``rotation = C G C^T A``. So the
posed Move bone points where the CMU segment points, twist included. Fingers are not captured by CMU: they
stay rigid with the hand. The hips translation is scaled by the ratio of leg lengths. Knees, elbows and toes
are then made Move's hinges (local_engine.joint_limits), keeping every joint where the capture puts it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bvh import BVH, BVHError, read_bvh
from ..joint_limits import apply_joint_limits
from ..kinematics import foot_contacts, forward_kinematics
from ..motion import MOVE_BONES, MoveMotion, rest_heads, rest_tails
from ..rotations import matrix_to_quat, rotation_between
from .base import SolveRequest, SolverError, SolveResult

#: Y-up/+Z-forward (CMU) to Z-up/-Y-forward (Move).
AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

#: Move bone -> (CMU joint whose world rotation it follows, CMU segment start, CMU segment end or "end").
#: A BVH joint's rotation turns the segment to its child, so each Move bone follows the joint at the start
#: of its segment. CMU's short upper-chest (Spine1) and upper-neck (Neck1) segments have no Move bone of
#: their own; their rotations still reach the shoulders, arms and head through the world rotations.
CMU_MAP: dict[str, tuple[str, str, str]] = {
    "Hips": ("Hips", "", ""),
    "Spine": ("LowerBack", "LowerBack", "Spine"),
    "Spine1": ("Spine", "Spine", "Spine1"),
    "Neck": ("Neck", "Neck", "Neck1"),
    "Head": ("Head", "Head", "end"),
}
for _s, _c in (("Left", "L"), ("Right", "R")):
    CMU_MAP.update(
        {
            f"{_s}Shoulder": (f"{_s}Shoulder", f"{_s}Shoulder", f"{_s}Arm"),
            f"{_s}Arm": (f"{_s}Arm", f"{_s}Arm", f"{_s}ForeArm"),
            f"{_s}ForeArm": (f"{_s}ForeArm", f"{_s}ForeArm", f"{_s}Hand"),
            f"{_s}Hand": (f"{_s}FingerBase", f"{_s}FingerBase", f"{_c}Fingers"),
            f"{_s}UpLeg": (f"{_s}UpLeg", f"{_s}UpLeg", f"{_s}Leg"),
            f"{_s}Leg": (f"{_s}Leg", f"{_s}Leg", f"{_s}Foot"),
            f"{_s}Foot": (f"{_s}Foot", f"{_s}Foot", f"{_s}ToeBase"),
            f"{_s}ToeBase": (f"{_s}ToeBase", f"{_s}ToeBase", "end"),
        }
    )


def _resample_stride(source_fps: float, target_fps: float | None) -> tuple[int, float]:
    if not target_fps or target_fps >= source_fps:
        return 1, source_fps
    ratio = source_fps / target_fps
    stride = round(ratio)
    if stride >= 1 and abs(ratio - stride) < 0.01:
        return stride, source_fps / stride
    return 1, source_fps


def retarget_cmu(
    bvh: BVH, start: int = 0, stop: int | None = None, stride: int = 1, lift: float = 0.0
) -> MoveMotion:
    """Frames ``start:stop:stride`` of a CMU BVH as a MoveMotion (see the module docstring); ``lift`` metres
    are added to the hips height (see :func:`ground_offset`)."""
    frames = np.arange(bvh.frame_count)[start:stop:stride]
    if len(frames) == 0:
        raise SolverError("The clip window selects no frames of the motion")
    pos, rot = bvh.world(frames)
    rest = bvh.rest_positions()
    mheads, mtails = rest_heads(), rest_tails()

    # Scale: Move's hips height over its toes against the CMU file's.
    hips, toe = bvh.index("Hips"), bvh.index("LeftToeBase")
    scale = (mheads[0, 2] - mheads[MOVE_BONES.index("LeftToeBase"), 2]) / (rest[hips, 1] - rest[toe, 1])

    rotations = np.zeros((len(frames), len(MOVE_BONES), 3, 3))
    for b, bone in enumerate(MOVE_BONES):
        if bone not in CMU_MAP:
            continue
        joint, seg_a, seg_b = CMU_MAP[bone]
        j = bvh.index(joint)
        if seg_a:
            a = bvh.index(seg_a)
            end = rest[a] + bvh.end_sites[a] if seg_b == "end" else rest[bvh.index(seg_b)]
            cmu_dir = AXES @ (end - rest[a])
            align = rotation_between(mtails[b] - mheads[b], cmu_dir)
        else:
            align = np.eye(3)
        rotations[:, b] = AXES @ rot[:, j] @ AXES.T @ align
    for b, bone in enumerate(MOVE_BONES):  # fingers: rigid with their hand
        if bone not in CMU_MAP:
            hand = MOVE_BONES.index("LeftHand" if bone.startswith("Left") else "RightHand")
            rotations[:, b] = rotations[:, hand]

    hips_positions = np.einsum("ij,fj->fi", AXES, pos[:, hips]) * scale
    hips_positions[:, 2] += lift
    motion = MoveMotion(
        fps=bvh.fps / stride,
        rotations=matrix_to_quat(rotations),
        hips_positions=hips_positions,
        metadata={"source": "replay", "scale": float(scale)},
    )
    motion = apply_joint_limits(motion)  # Move's hinges: knees, elbows and toes
    motion.foot_contacts = foot_contacts(motion)
    return motion


def ground_offset(bvh: BVH) -> float:
    """Metres to add to the hips height so that the feet rest on z = 0 over the whole file.

    CMU's joints sit above its floor and Move's proportions differ, so the floor is found on the retargeted
    skeleton: the 2nd percentile of the lowest foot point (ankle, toe, toe tip) is put at Move's rest toe
    height (0.02 m).
    """
    heads, tails = forward_kinematics(retarget_cmu(bvh, stride=max(1, int(bvh.fps // 30))))
    idx = [MOVE_BONES.index(n) for n in ("LeftFoot", "LeftToeBase", "RightFoot", "RightToeBase")]
    lowest = np.minimum(heads[:, idx, 2].min(1), tails[:, idx, 2].min(1))
    return float(rest_heads()[MOVE_BONES.index("LeftToeBase"), 2] - np.percentile(lowest, 2))


class ReplaySolver:
    """Replays ``motion`` (a CMU-skeleton BVH) for every job, honouring the job's clip window."""

    name = "replay"

    def __init__(self, motion: str | Path, fps: float | None = 60.0) -> None:
        self.motion_path = Path(motion)
        if not self.motion_path.is_file():
            raise FileNotFoundError(f"replay motion file not found: {self.motion_path}")
        self.fps = fps
        self._bvh: BVH | None = None
        self._lift = 0.0

    def _load(self) -> BVH:
        if self._bvh is None:
            try:
                self._bvh = read_bvh(self.motion_path)
            except BVHError as exc:
                raise SolverError(f"The replay motion file cannot be read: {exc}") from exc
            missing = [j for m in CMU_MAP.values() for j in m[:2] if j and j not in self._bvh.names]
            if missing:
                raise SolverError(f"The replay motion file is not on the CMU skeleton (missing {missing[:3]})")
            self._lift = ground_offset(self._bvh)
        return self._bvh

    def solve(self, request: SolveRequest) -> SolveResult:
        for cam in request.cameras:
            if not Path(cam.video).is_file():
                raise SolverError(f"The video of camera {cam.device_label!r} is missing")
        request.progress(0.05)
        bvh = self._load()
        duration = bvh.frame_count / bvh.fps
        start_f, stop_f = 0, bvh.frame_count
        if request.clip_window is not None:
            t0, t1 = request.clip_window
            if t0 >= duration:
                raise SolverError(f"The clip window starts at {t0:g} s but the footage lasts {duration:.2f} s")
            start_f = round(t0 / bvh.frame_time)
            stop_f = min(bvh.frame_count, round(t1 * bvh.fps))
        request.progress(0.3)
        stride, _ = _resample_stride(bvh.fps, self.fps)
        motion = retarget_cmu(bvh, start_f, stop_f, stride, lift=self._lift)
        motion.metadata.update({"motion_file": self.motion_path.name, "start_time": start_f / bvh.fps})
        request.progress(1.0)
        return SolveResult(motions=[motion], metadata={"fingers": "not tracked: replayed from a body-only capture"})
