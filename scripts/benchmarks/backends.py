"""BlazePose runtimes benchmark: the same real footage through mediapipe 0.10.21's legacy solution (the
baseline: what Blender 4.2-5.0 run) and through the Tasks API of mediapipe >= 0.10.30 with the bundles built
from 0.10.21's models (what Blender 5.1+ run), each in its own Python, in the same run.

Footage: pose2sim Demo_SinglePerson cam01 (frames 0-99, 60 fps, 1080x1920) and the whole Sports2D demo (230
frames, 30 fps, two people), decoded as the engine does (long side 640). Each runtime goes through
``local_engine.pose.blazepose.extract`` in a subprocess of its venv's Python (``--worker``). Figures: frames with
a person for each; on frames where both found one, the mean and 95th percentile 2D landmark difference in
pixels of the original video and the mean world-landmark difference in mm (hip-centred, both metric); the
2D difference as a ratio to the baseline's own mean frame-to-frame landmark motion; the limb landmarks' jitter
(median second difference, px) of each and their ratio; the speed ratio (candidate pose fps / baseline pose fps).

Accuracy against something neither runtime made alone: pose2sim's cameras 2-4 (calibrated) triangulate each
runtime's own landmarks, and cam01's 12 limb landmarks (shoulders to ankles) are compared with those points
projected into cam01 (``cam01_reprojection_px``, mean and median); ``accuracy_ratio`` is the candidate's mean
over the baseline's (1.0: the same accuracy, below 1: better).

Usage: python scripts/bench.py backends [--baseline PY] [--candidate PY]
(defaults: .venv/blender-4.2/bin/python and .venv/blender-5.2/bin/python). No landmark is cached.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / ".cache" / "testdata"
P2S = TESTDATA / "pose2sim" / "Demo_SinglePerson"
CLIPS = {  # name -> (video, clip window in seconds or None for the whole video)
    "pose2sim_cam01": (P2S / "videos" / "cam01.mp4", (0.0, 99 / 60)),
    "sports2d_demo": (TESTDATA / "sports2d" / "demo.mp4", None),
}
OTHER_VIEWS = {f"pose2sim_cam0{k}": (P2S / "videos" / f"cam0{k}.mp4", (0.0, 99 / 60)) for k in (2, 3, 4)}
LIMBS = [11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]  # shoulders, elbows, wrists, hips, knees, ankles


def _worker(out: Path) -> int:
    from local_engine.pose import blazepose, landmarker

    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, object] = {"runtime": landmarker.describe(), "python": sys.version.split()[0],
                               "numpy": np.__version__}
    for name, (video, window) in {**CLIPS, **OTHER_VIEWS}.items():
        track = blazepose.extract(video, max_side=640, clip_window=window)
        arrays[f"{name}.vis"] = track.visibility
        arrays[f"{name}.image"] = track.image
        arrays[f"{name}.world"] = track.world
        arrays[f"{name}.frames"] = track.frames
        meta[name] = {"pose_fps": track.stats["pose_fps"], "frames": len(track), "found": track.stats["found"]}
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)
    return 0


def _run(python: str, out: Path) -> dict:
    if not Path(python).exists():
        raise SystemExit(f"bench backends: no Python at {python} (run scripts/setup_env.sh)")
    proc = subprocess.run([python, str(ROOT / "scripts" / "bench.py"), "backends", "--worker", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"bench backends: {python} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    with np.load(out) as z:
        return {"meta": json.loads(str(z["meta"])), **{k: z[k] for k in z.files if k != "meta"}}


def compare(base: dict, cand: dict, name: str) -> dict:
    """Figures for one clip (both tracks cover the same frames)."""
    if not np.array_equal(base[f"{name}.frames"], cand[f"{name}.frames"]):
        raise SystemExit(f"bench backends: the two runtimes decoded different frames of {name}")
    bi, ci = base[f"{name}.image"], cand[f"{name}.image"]
    bw, cw = base[f"{name}.world"], cand[f"{name}.world"]
    both = np.isfinite(bi[:, 0, 0]) & np.isfinite(ci[:, 0, 0])
    d2 = np.linalg.norm(bi[both] - ci[both], axis=-1)  # (n, 33) px
    dw = np.linalg.norm(bw[both] - cw[both], axis=-1) * 1000.0  # mm
    motion = np.linalg.norm(np.diff(bi, axis=0), axis=-1)
    motion_px = float(np.nanmean(motion)) if np.isfinite(motion).any() else float("nan")
    mean_2d = float(d2.mean()) if d2.size else float("nan")
    jitter = [float(np.nanmedian(np.linalg.norm(np.diff(t[:, LIMBS], 2, axis=0), axis=-1))) for t in (bi, ci)]
    return {
        "frames": int(len(bi)), "found_baseline": int(np.isfinite(bi[:, 0, 0]).sum()),
        "found_candidate": int(np.isfinite(ci[:, 0, 0]).sum()), "compared": int(both.sum()),
        "mean_2d_px": round(mean_2d, 2), "p95_2d_px": round(float(np.percentile(d2, 95)), 2) if d2.size else None,
        "mean_world_mm": round(float(dw.mean()), 1) if dw.size else None,
        "baseline_motion_px_per_frame": round(motion_px, 2),
        "ratio_2d_to_motion": round(mean_2d / motion_px, 3) if motion_px else None,
        "limb_jitter_px": [round(j, 2) for j in jitter],  # median frame-to-frame 2nd difference, base / cand
        "jitter_ratio": round(jitter[1] / jitter[0], 3),
        "speed_ratio": round(cand["meta"][name]["pose_fps"] / base["meta"][name]["pose_fps"], 3),
    }


def cam01_reprojection(run: dict) -> dict:
    """cam01's limb landmarks against the same runtime's cams 2-4, triangulated and projected into cam01."""
    from local_engine.calibration import project, read_qca
    from local_engine.pose.blazepose import MIRROR
    from local_engine.pose.triangulate import fix_left_right, triangulate_sequence

    cams = read_qca(P2S / "calibration" / "Calib.qca.txt", video_dir=P2S / "videos")
    names = ["pose2sim_cam01", *OTHER_VIEWS]
    n = min(len(run[f"{k}.image"]) for k in names)
    pix = np.stack([run[f"{k}.image"][:n] for k in names]).astype(np.float64)
    w = np.stack([run[f"{k}.vis"][:n] for k in names]).astype(np.float64)
    w = np.where(np.isfinite(pix[..., 0]), w, 0.0)
    pix, w, _ = fix_left_right(cams, np.nan_to_num(pix), w, MIRROR)
    points = triangulate_sequence(cams[1:], pix[1:], w[1:])
    err = np.linalg.norm(project(cams[0], points) - pix[0], axis=-1)[:, LIMBS]
    err = err[(w[0][:, LIMBS] > 0) & np.isfinite(err)]
    return {"mean": round(float(err.mean()), 2), "median": round(float(np.median(err)), 2), "n": int(err.size)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py backends", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=str(ROOT / ".venv" / "blender-4.2" / "bin" / "python"))
    parser.add_argument("--candidate", default=str(ROOT / ".venv" / "blender-5.2" / "bin" / "python"))
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    for video, _ in {**CLIPS, **OTHER_VIEWS}.values():
        if not video.exists():
            raise SystemExit(f"bench backends: {video} is missing: run scripts/fetch_test_data.sh")
    with tempfile.TemporaryDirectory() as tmp:
        base = _run(args.baseline, Path(tmp) / "baseline.npz")
        cand = _run(args.candidate, Path(tmp) / "candidate.npz")
    for label, result in (("baseline", base), ("candidate", cand)):
        if not result["meta"]["runtime"].get("runtime"):
            raise SystemExit(f"bench backends: the {label} Python has no BlazePose runtime: "
                             f"{result['meta']['runtime'].get('problem')}")
    clips = {name: compare(base, cand, name) for name in CLIPS}
    reproj = {"baseline": cam01_reprojection(base), "candidate": cam01_reprojection(cand)}
    print(json.dumps({
        "benchmark": "backends",
        "baseline": {k: base["meta"][k] for k in ("runtime", "python", "numpy")},
        "candidate": {k: cand["meta"][k] for k in ("runtime", "python", "numpy")},
        "mean_2d_px": round(float(np.mean([c["mean_2d_px"] for c in clips.values()])), 2),
        "mean_world_mm": round(float(np.mean([c["mean_world_mm"] for c in clips.values()])), 1),
        "cam01_reprojection_px": reproj,
        "accuracy_ratio": round(reproj["candidate"]["mean"] / reproj["baseline"]["mean"], 3),
        "clips": clips,
    }))
    return 0
