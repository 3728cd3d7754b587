"""Foot-locking benchmark on real footage: the sports2d demo video (a person on a real camera, 230 frames
at 30 fps) solved by the local engine's mediapipe solver, its motion written by the engine's own Blender
writer, retargeted onto a Rigify rig generated from Blender's human metarig, then foot-locked (contacts
detected from the motion) and smoothed.

Prints one JSON line: planted-foot slide before and after locking (mm/frame, the clean-up's own figure and
Blender's evaluation of the deforming feet ``DEF-foot.L/R``), ``slide_ratio`` (after / before, the baseline
being the same take unlocked), the knee angle change, the largest joint-angle step the blends added, the
contact frames, smoothing's jitter before/after, and the seconds each stage took. The solver runs for
tens of seconds on a small machine, which is why this is a benchmark and not a test. Run with the 4.2
venv's python (mediapipe): ``python scripts/bench.py footlock``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / ".cache" / "testdata" / "sports2d" / "demo.mp4"


def _slide(points: np.ndarray, mask: np.ndarray) -> float:
    from move_mocap.core.cleanup.footlock import slide

    return 1000.0 * slide(points, mask)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py footlock")
    ap.add_argument("--video", type=Path, default=DEMO)
    args = ap.parse_args(argv)
    if not args.video.exists():
        raise SystemExit(f"bench.py footlock: {args.video} is missing (run scripts/fetch_test_data.sh)")

    from local_engine.solvers.base import Camera, SolveRequest
    from local_engine.solvers.mediapipe_solver import MediapipeSolver

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="footlock-bench-") as tmp:
        motion = MediapipeSolver().solve(SolveRequest(cameras=[Camera(args.video)], work_dir=Path(tmp))).motions[0]
    solve_s = time.perf_counter() - t0

    import bpy

    from local_engine.outputs.blender_export import build_armature
    from move_mocap.core.cleanup import contacts as C
    from move_mocap.retarget import action_io
    from move_mocap.retarget.apply import retarget_with_report
    from move_mocap.review.legs import foot_lock, smooth

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = int(round(motion.fps)), round(motion.fps) / motion.fps
    bpy.ops.preferences.addon_enable(module="rigify")
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    rig = bpy.context.object
    bpy.ops.object.mode_set(mode="OBJECT")
    source = build_armature(bpy, motion, "engine_actor")
    t1 = time.perf_counter()
    retargeted = retarget_with_report(source, rig).action
    retarget_s = time.perf_counter() - t1
    bpy.context.view_layer.objects.active = rig
    lock = foot_lock(rig, "DETECT")
    mask = C.decode_stored(list(lock.action["move_foot_contacts"]))

    # Blender's own evaluation of the deforming feet, raw capture against the locked one.
    lo, hi = action_io.frame_range(lock.action, rig)
    frames = np.arange(int(lo), int(hi) + 1)

    def feet() -> np.ndarray:
        out = []
        for f in frames:
            scene.frame_set(int(f))
            out.append([np.array(rig.matrix_world @ rig.pose.bones[f"DEF-foot.{s}"].head) for s in "LR"])
        return np.array(out)

    after = feet()
    action_io.assign_action(rig, retargeted)
    before = feet()
    action_io.assign_action(rig, lock.action)
    smoothed = smooth(rig, 0.5)
    blender_before = [_slide(before[:, k], mask[:, k]) for k in range(2)]
    blender_after = [_slide(after[:, k], mask[:, k]) for k in range(2)]
    print(json.dumps({
        "benchmark": "footlock",
        "blender": bpy.app.version_string,
        "footage": "sports2d demo.mp4 (real footage), local engine mediapipe solver, engine's Blender writer, "
                   "retargeted onto Rigify (human metarig)",
        "frames": int(len(frames)),
        "fps": motion.fps,
        "contact_frames": lock.contact_frames,
        "contacts_from": lock.contacts_from,
        "slide_before_mm_per_frame": round(lock.slide_before_mm, 3),
        "slide_after_mm_per_frame": round(lock.slide_after_mm, 3),
        "slide_ratio": round(lock.slide_after_mm / max(lock.slide_before_mm, 1e-9), 4),
        "blender_slide_before_mm_per_frame": [round(v, 3) for v in blender_before],
        "blender_slide_after_mm_per_frame": [round(v, 3) for v in blender_after],
        "knee_change_deg": round(lock.knee_change_deg, 2),
        "max_added_step_deg_per_frame": round(lock.max_step_deg, 2),
        "out_of_reach_frames": lock.short_frames,
        "smooth_jitter_deg_per_frame2": [round(smoothed.jitter_before, 4), round(smoothed.jitter_after, 4)],
        "seconds": {"solve": round(solve_s, 2), "retarget": round(retarget_s, 3), "foot_lock": round(lock.seconds, 3),
                    "smooth": round(smoothed.seconds, 3)},
    }))
    return 0
