"""Accuracy benchmark of the mediapipe solver on real footage: pose2sim's Demo_SinglePerson (4 synchronised,
calibrated 60 fps views of one person, frames 0-99), each camera solved on its own, uncalibrated and
calibrated, against the engine's own 4-view result; raw MediaPipe world landmarks of the same camera, measured
in the same run, are the baseline. The sports2d demo (one camera, two people) is a sanity check.

Per method and camera: MPJPE (root-centred, one rotation for the clip), PA-MPJPE (per-frame Procrustes), per
joint group, the error along the camera ray vs across it, planted-foot slide (mm/frame, contacts from the 4-view
result), jitter (mm/frame^2), bone-length spread (mm), contact recall/precision against the 4-view contacts, for uncalibrated runs the
angle between the up direction the solver estimated and the calibration's (``up_error_mono_deg``, per camera), and
for calibrated runs the world-frame error against the triangulated landmarks (an independent multi-view
reference: DLT of the four views' 2D landmarks) with floorPlane on and off. The figures are those of
local_engine.pose.quality, which the solver's metadata and the tests use too.

BlazePose's detections are cached per video and BlazePose runtime under .cache/bench/accuracy (the solver's own
landmark cache, keyed by local_engine.pose.landmarker.fingerprint), so re-runs only solve and the 4.2 and 5.2
venvs never share detections. Prints one JSON line; ``ratio`` is the single-camera PA-MPJPE over the raw baseline's.
Run with a venv's python that has a BlazePose runtime (4.2: the legacy one, 5.2: the Tasks one; the line says
which): ``python scripts/bench.py accuracy``. No bpy here.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
P2S = ROOT / ".cache" / "testdata" / "pose2sim" / "Demo_SinglePerson"
DEMO = ROOT / ".cache" / "testdata" / "sports2d" / "demo.mp4"
CACHE = ROOT / ".cache" / "bench" / "accuracy"
FRAMES = 100  # Demo_SinglePerson's frames 0-99 (the whole videos)


def _r(x: float, n: int = 1) -> float:
    return round(float(x), n)


class Run:
    """Solves with one cached-landmark solver, each in a fresh work folder."""

    def __init__(self, tmp: Path) -> None:
        from local_engine.solvers.mediapipe_solver import MediapipeSolver

        self.solver = MediapipeSolver(cache_dir=CACHE, overlay=False)
        self.tmp = tmp
        self.n = 0
        self.seconds: dict[str, float] = {}

    def solve(self, name: str, cameras: list[Any], floor: bool = True) -> Any:
        from local_engine.solvers.base import SolveRequest

        self.n += 1
        t0 = time.perf_counter()
        result = self.solver.solve(SolveRequest(cameras=cameras, work_dir=self.tmp / str(self.n),
                                                options={"outputs": ["MOTION_DATA"], "floorPlane": floor}))
        self.seconds[name] = _r(time.perf_counter() - t0, 2)
        return result


def _hip_height(j: np.ndarray) -> np.ndarray:
    from local_engine.pose.quality import JOINTS

    return 0.5 * (j[:, JOINTS.index("left_hip"), 2] + j[:, JOINTS.index("right_hip"), 2])


def measure(pred: np.ndarray, ref: np.ndarray, centre: np.ndarray, contacts: np.ndarray,
            world: np.ndarray | None, found: np.ndarray | None = None) -> dict[str, Any]:
    """Figures of one method's joints ``pred`` (F, J, 3) against the reference joints ``ref``."""
    from local_engine.pose import quality as Q

    along, across = Q.ray_split_mm(pred, ref, centre)
    out: dict[str, Any] = {
        "mpjpe_mm": _r(Q.mpjpe_mm(pred, ref)),
        "pa_mpjpe_mm": _r(Q.pa_mpjpe_mm(pred, ref)),
        "pa_mpjpe_groups_mm": Q.pa_mpjpe_mm(pred, ref, groups=True),
        "ray_mm": _r(along), "image_plane_mm": _r(across),
        "foot_slide_mm_per_frame": _r(1000 * Q.foot_slide_m_per_frame(Q.toes(pred), contacts), 2),
        "jitter_mm_per_frame2": _r(Q.jitter_mm(pred), 2),
        "bone_length_std_mm": _r(Q.bone_length_std_mm(pred), 2),
    }
    if found is not None:
        rec, prec = Q.contact_agreement(found, contacts)
        out["contacts"] = {"frames": [int(x) for x in found.sum(0)], "recall": _r(rec, 2), "precision": _r(prec, 2)}
    if world is not None:
        out["world_mm"] = _r(1000 * np.nanmean(Q.errors(pred, world)))
    return out


def raw_world(track: Any, camera: Any) -> np.ndarray:
    """Raw BlazePose landmarks placed in the calibration's world by the calibrated camera (the engine's
    pinhole lift, nothing fitted or filtered): the baseline's world-frame figures."""
    from local_engine.calibration import undistort_points
    from local_engine.pose.monocular import lift

    K = np.asarray(camera.intrinsics, np.float64)
    R = np.asarray(camera.rotation, np.float64)
    t = np.asarray(camera.translation, np.float64).reshape(3)
    cam = lift(track.world, undistort_points(camera, track.image), track.visibility, K)
    return (cam - t) @ R


def _up_error_deg(meta: dict[str, Any], camera: Any) -> float:
    """Degrees between the up direction an uncalibrated single-camera solve estimated (its metadata's
    ``up_in_camera``) and the calibration's true up seen from that camera (world Z in camera axes)."""
    est = np.asarray(meta["up_in_camera"], np.float64)
    true = np.asarray(camera.rotation, np.float64)[:, 2]  # world -> camera rotation: world Z in camera axes
    cos = est @ true / np.linalg.norm(est) / np.linalg.norm(true)
    return _r(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def pose2sim(run: Run, cams: list[Any]) -> dict[str, Any]:
    from local_engine.calibration import camera_centre
    from local_engine.pose import quality as Q
    from local_engine.pose.blazepose import MIRROR
    from local_engine.pose.triangulate import fix_left_right, triangulate_sequence
    from local_engine.solvers.base import Camera

    tracks = [run.solver.landmarks(c) for c in cams]
    if any(len(t) != FRAMES for t in tracks):
        raise SystemExit(f"bench.py accuracy: expected {FRAMES} frames per Demo_SinglePerson video, got "
                         f"{[len(t) for t in tracks]}")
    pix, w, _ = fix_left_right(cams, np.stack([t.image for t in tracks]), np.stack([t.visibility for t in tracks]),
                               MIRROR)
    tri = Q.landmark_joints(triangulate_sequence(cams, pix, w))  # independent world reference
    multi = run.solve("4view", cams, floor=True)
    multi_off = run.solve("4view_nofloor", cams, floor=False)
    ref = Q.motion_joints(multi.motions[0])
    ref_off = Q.motion_joints(multi_off.motions[0])
    contacts = multi.motions[0].foot_contacts
    from scipy.signal import butter, filtfilt

    b, a = butter(2, 6.0 / (0.5 * multi.motions[0].fps))
    four = {
        "jitter_mm_per_frame2": _r(Q.jitter_mm(ref), 2),
        "jitter_6hz_filtered_mm_per_frame2": _r(Q.jitter_mm(filtfilt(b, a, ref, axis=0)), 2),
        "world_mm": {"floor_on": _r(1000 * np.nanmean(Q.errors(ref, tri))),
                     "floor_off": _r(1000 * np.nanmean(Q.errors(ref_off, tri)))},
        "floor_drop_mm": _r(1000 * np.mean(_hip_height(ref_off) - _hip_height(ref))),
        "pa_mpjpe_vs_triangulated_mm": _r(Q.pa_mpjpe_mm(ref, tri)),
        "foot_slide_mm_per_frame": _r(1000 * Q.foot_slide_m_per_frame(Q.toes(ref), contacts), 2),
        "contact_frames": [int(x) for x in contacts.sum(0)],
        "solver_foot_slide": multi.metadata.get("foot_slide_mm_per_frame"),
    }
    per_cam: dict[str, Any] = {}
    for cam, track in zip(cams, tracks):
        label = cam.device_label or cam.video.stem
        centre = camera_centre(cam)
        bare = run.solve(f"{label}_uncalibrated", [Camera(cam.video, label)])
        cal = run.solve(f"{label}_calibrated", [cam], floor=True)
        cal_off = run.solve(f"{label}_calibrated_nofloor", [cam], floor=False)
        raw = Q.landmark_joints(track.world)
        rw = Q.landmark_joints(raw_world(track, cam))
        base = measure(raw, ref, centre, contacts, None)
        base.update({k: measure(rw, ref, centre, contacts, tri)[k]
                     for k in ("foot_slide_mm_per_frame", "jitter_mm_per_frame2", "world_mm")})
        jc, jo = Q.motion_joints(cal.motions[0]), Q.motion_joints(cal_off.motions[0])
        per_cam[label] = {
            "raw_mediapipe": base,
            "uncalibrated": measure(Q.motion_joints(bare.motions[0]), ref, centre, contacts, None,
                                    bare.motions[0].foot_contacts),
            "calibrated": measure(jc, ref, centre, contacts, tri, cal.motions[0].foot_contacts),
            "calibrated_world_mm_floor_off": measure(jo, ref, centre, contacts, tri)["world_mm"],
            "calibrated_floor_drop_mm": _r(1000 * np.mean(_hip_height(jo) - _hip_height(jc))),
            "solver_foot_slide": bare.metadata.get("foot_slide_mm_per_frame"),
            "uncalibrated_up_error_deg": _up_error_deg(bare.metadata["camera"], cam),
            "uncalibrated_ground": bare.metadata["camera"]["ground"],
        }
    return {"four_view": four, "cameras": per_cam}


def sports2d(run: Run) -> dict[str, Any]:
    """Sanity on other footage: contacts found, bone lengths, left/right swaps (the hip line turning by more
    than 90 degrees in one frame)."""
    from local_engine.pose import quality as Q
    from local_engine.solvers.base import Camera

    res = run.solve("sports2d", [Camera(DEMO, "demo")])
    m = res.motions[0]
    j = Q.motion_joints(m)
    hips = j[:, Q.JOINTS.index("left_hip")] - j[:, Q.JOINTS.index("right_hip")]
    cos = np.einsum("fi,fi->f", hips[1:], hips[:-1]) / np.linalg.norm(hips[1:], axis=1) / np.linalg.norm(hips[:-1], axis=1)
    return {"frames": m.frame_count, "fps": m.fps,
            "contact_frames": [int(x) for x in m.foot_contacts.sum(0)] if m.foot_contacts is not None else None,
            "own_contact_slide_mm_per_frame": _r(1000 * Q.foot_slide_m_per_frame(Q.toes(j), m.foot_contacts), 2)
            if m.foot_contacts is not None else None,
            "jitter_mm_per_frame2": _r(Q.jitter_mm(j), 2),
            "segment_lengths_m": res.metadata.get("segment_lengths_m"),
            "left_right_swaps": int((cos < 0).sum()),
            "person_selection": res.metadata.get("person_selection")}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py accuracy")
    ap.add_argument("--no-sports2d", action="store_true", help="skip the sports2d sanity check")
    args = ap.parse_args(argv)
    for need in (P2S / "videos" / "cam01.mp4", DEMO):
        if not need.exists():
            raise SystemExit(f"bench.py accuracy: {need} is missing (run scripts/fetch_test_data.sh)")
    os.environ.setdefault("GLOG_minloglevel", "2")
    from local_engine.calibration import read_qca
    from local_engine.pose.landmarker import fingerprint

    cams = read_qca(P2S / "calibration" / "Calib.qca.txt", video_dir=P2S / "videos")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="accuracy-bench-") as tmp:
        run = Run(Path(tmp))
        p2s = pose2sim(run, cams)
        sanity = None if args.no_sports2d else sports2d(run)
    cams_ = p2s["cameras"].values()

    def mean(method: str, key: str) -> float:
        return _r(np.mean([c[method][key] for c in cams_]), 2)

    pa = mean("uncalibrated", "pa_mpjpe_mm")
    base = mean("raw_mediapipe", "pa_mpjpe_mm")
    line = {
        "benchmark": "accuracy",
        "pa_mpjpe_mono_mm": pa,
        "baseline_pa_mpjpe_mm": base,
        "ratio": _r(pa / base, 3),
        "pa_mpjpe_mono_calibrated_mm": mean("calibrated", "pa_mpjpe_mm"),
        "mpjpe_mono_mm": mean("uncalibrated", "mpjpe_mm"),
        "baseline_mpjpe_mm": mean("raw_mediapipe", "mpjpe_mm"),
        "ray_vs_image_plane_mono_mm": [mean("uncalibrated", "ray_mm"), mean("uncalibrated", "image_plane_mm")],
        "baseline_ray_vs_image_plane_mm": [mean("raw_mediapipe", "ray_mm"), mean("raw_mediapipe", "image_plane_mm")],
        "foot_slide_mono_mm_per_frame": mean("uncalibrated", "foot_slide_mm_per_frame"),
        "foot_slide_mono_calibrated_mm_per_frame": mean("calibrated", "foot_slide_mm_per_frame"),
        "baseline_foot_slide_mm_per_frame": mean("raw_mediapipe", "foot_slide_mm_per_frame"),
        "up_error_mono_deg": [c["uncalibrated_up_error_deg"] for c in cams_],
        "contact_recall_mono": _r(np.mean([c["uncalibrated"]["contacts"]["recall"] for c in cams_]), 2),
        "jitter_mono": mean("uncalibrated", "jitter_mm_per_frame2"),
        "jitter_4view": p2s["four_view"]["jitter_mm_per_frame2"],
        "jitter_4view_6hz_filtered": p2s["four_view"]["jitter_6hz_filtered_mm_per_frame2"],
        "baseline_jitter": mean("raw_mediapipe", "jitter_mm_per_frame2"),
        "world_drop_floor_mm": p2s["four_view"]["floor_drop_mm"],
        "world_4view_mm": p2s["four_view"]["world_mm"],
        "world_mono_calibrated_mm": {"floor_on": mean("calibrated", "world_mm"),
                                     "floor_off": _r(np.mean([c["calibrated_world_mm_floor_off"] for c in cams_]))},
        "world_drop_floor_mono_mm": _r(np.mean([c["calibrated_floor_drop_mm"] for c in cams_])),
        "runtime": fingerprint(),
        "units": "mm, mm/frame, mm/frame^2 (60 fps)",
        "pose2sim": p2s,
        "sports2d": sanity,
        "solve_seconds": run.seconds,
        "wall_s": _r(time.perf_counter() - t0, 1),
        "footage": "pose2sim Demo_SinglePerson cam01-04 frames 0-99 (real, 60 fps, calibrated); sports2d demo.mp4",
        "reference": "the engine's 4-view result (floorPlane on); world error against the DLT-triangulated "
                     "landmarks of the four views",
    }
    print(json.dumps(line))
    return 0
