"""BlazePose runtimes benchmark: the same real footage through mediapipe 0.10.21's legacy solution (the
baseline: what Blender 4.2-5.0 run) and through the Tasks API of mediapipe >= 0.10.30 with the bundles built
from 0.10.21's models (what Blender 5.1+ run), each in its own Python, in the same run.

Footage: pose2sim Demo_SinglePerson cam01 (frames 0-99, 60 fps, 1080x1920) and the whole Sports2D demo (230
frames, 30 fps, two people), decoded as the engine does (long side 640). Each runtime goes through
``local_engine.pose.blazepose.extract`` in a subprocess of its venv's Python (``--worker``). Figures: frames with
a person for each; on frames where both found one, the mean and 95th percentile 2D landmark difference in
pixels of the original video and the mean world-landmark difference in mm (hip-centred, both metric); the
2D difference as a ratio to the baseline's own mean frame-to-frame landmark motion; the speed ratio
(candidate pose fps / baseline pose fps).

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
CLIPS = {  # name -> (video, clip window in seconds or None for the whole video)
    "pose2sim_cam01": (TESTDATA / "pose2sim" / "Demo_SinglePerson" / "videos" / "cam01.mp4", (0.0, 99 / 60)),
    "sports2d_demo": (TESTDATA / "sports2d" / "demo.mp4", None),
}


def _worker(out: Path) -> int:
    from local_engine.pose import blazepose, landmarker

    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, object] = {"runtime": landmarker.describe(), "python": sys.version.split()[0],
                               "numpy": np.__version__}
    for name, (video, window) in CLIPS.items():
        track = blazepose.extract(video, max_side=640, clip_window=window)
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
    return {
        "frames": int(len(bi)), "found_baseline": int(np.isfinite(bi[:, 0, 0]).sum()),
        "found_candidate": int(np.isfinite(ci[:, 0, 0]).sum()), "compared": int(both.sum()),
        "mean_2d_px": round(mean_2d, 2), "p95_2d_px": round(float(np.percentile(d2, 95)), 2) if d2.size else None,
        "mean_world_mm": round(float(dw.mean()), 1) if dw.size else None,
        "baseline_motion_px_per_frame": round(motion_px, 2),
        "ratio_2d_to_motion": round(mean_2d / motion_px, 3) if motion_px else None,
        "speed_ratio": round(cand["meta"][name]["pose_fps"] / base["meta"][name]["pose_fps"], 3),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py backends", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=str(ROOT / ".venv" / "blender-4.2" / "bin" / "python"))
    parser.add_argument("--candidate", default=str(ROOT / ".venv" / "blender-5.2" / "bin" / "python"))
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    for video, _ in CLIPS.values():
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
    print(json.dumps({
        "benchmark": "backends",
        "baseline": {k: base["meta"][k] for k in ("runtime", "python", "numpy")},
        "candidate": {k: cand["meta"][k] for k in ("runtime", "python", "numpy")},
        "mean_2d_px": round(float(np.mean([c["mean_2d_px"] for c in clips.values()])), 2),
        "mean_world_mm": round(float(np.mean([c["mean_world_mm"] for c in clips.values()])), 1),
        "clips": clips,
    }))
    return 0
