"""Retarget benchmark: a 10-minute, 60 fps take on Move's skeleton (``_1:`` names, body and fingers,
36,000 frames) onto a Rigify rig generated from Blender's human metarig (FK controls).

Prints one JSON line: ``seconds`` (the engine, wall clock), ``peak_mib`` (peak resident memory of the
process while it runs, sampled), and ``speedup_vs_bake``: the same retarget done the usual way (one
Copy Rotation constraint per mapped control, Copy Location on the torso, then
``bpy.ops.nla.bake(visual_keying=True)``), timed in this process on a slice and extrapolated linearly to the
whole take.

Then the clean-ups, each timed against the retarget's own time measured in this run (best of ``--repeat``
runs each, the first run reported too):

- ``fused``: the retarget with Foot Lock and Smoothing (strength 0.5, contacts detected) as options, which
  run on the retarget's own channel values before its one write (``review.legs.clean_up_values``): the stage
  timings ``cleanup_read`` (the rig's dependency model and the take from those values), ``foot_lock`` and
  ``smooth``; ``cleanup_vs_retarget`` is their sum over the plain retarget's time (target <= 0.5), and
  ``fused_total_vs_retarget`` the whole call's over the plain one's.
- ``operators``: the Lock Feet and Smooth operators' work on the written action (``review.legs.foot_lock``,
  ``smooth``): each reads the action, computes and writes a new action (Blender's copy of the old one with
  the changed channels overwritten), so each pays a write of the whole take as the retarget does; their
  stages (``read``, ``solve``, ``write``) and ratios ``operator_*_vs_retarget``.

On a machine where fresh memory is slow to touch (``first_touch_s_per_gib``) a whole-take write costs the
most. On a busy machine with few cores, numpy's OpenBLAS threads (numpy 2 in Blender 5.1+) made the numpy
stages several times slower from run to run: the retarget and the clean-up operators now limit BLAS to one
thread while they run (``move_mocap.core.blas_threads``; ``blas_threads`` is the count outside them). The
machine's ``load_average`` (1 minute) at the start and the end is reported with the figures. Run: ``python scripts/bench.py retarget [--frames N] [--slice N] [--repeat N]`` with a Blender venv's
python.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def _hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


class _PeakRSS:
    """Peak resident memory over a block: the kernel's high-water mark, reset on entry
    (``/proc/self/clear_refs``); where that is not allowed, a sampling thread (no bpy access there)."""

    def __init__(self) -> None:
        self.peak = _rss_mib()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mib())

    def __enter__(self) -> _PeakRSS:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        else:
            self.peak = max(self.peak, _hwm_mib())
        self.peak = max(self.peak, _rss_mib())


def _first_touch_s_per_gib(mib: int = 256) -> float:
    """Seconds per GiB to fault in fresh memory: on bare metal a few hundredths of a second, on a virtual
    machine whose host backs guest pages on first touch it can be a hundred times that."""
    t0 = time.perf_counter()
    block = np.ones(mib * 1024 * 1024 // 8)
    seconds = time.perf_counter() - t0
    del block
    return seconds * 1024 / mib


def _build_source(frames: int, fps: float):
    """Move's skeleton (local_engine.motion) with a synthetic but human-ranged take written in bulk."""
    import bpy

    from local_engine.motion import MOVE_SKELETON, bone_name
    from local_engine.outputs.blender_export import build_rest_armature
    from move_mocap.retarget import action_io

    obj = build_rest_armature(bpy, "move_actor")
    rng = np.random.default_rng(0)
    t = np.arange(frames) / fps
    keys = np.arange(1, frames + 1, dtype=np.float64)
    channels = {}
    for name, *_ in MOVE_SKELETON:
        bone = bone_name(name, 1)
        amp = 0.5 if "Hand" in name and name[-1].isdigit() else 0.35
        angles = np.zeros((frames, 3))
        for k in range(3):
            for _ in range(3):
                angles[:, k] += amp / 3 * np.sin(2 * np.pi * rng.uniform(0.1, 1.2) * t + rng.uniform(0, 6.3))
        half = angles * 0.5  # small-angle composition is enough for a benchmark take
        q = np.concatenate((np.ones((frames, 1)), half), axis=1)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        for k in range(4):
            channels[(f'pose.bones["{bone}"].rotation_quaternion', k)] = (keys, q[:, k])
    hips = bone_name("Hips", 1)
    walk = np.stack((0.6 * np.sin(t / 7.0), 0.05 * np.sin(4 * t), 1.3 * t / 7.0 % 8.0), axis=1)  # bone-local
    for k in range(3):
        channels[(f'pose.bones["{hips}"].location', k)] = (keys, walk[:, k])
    action = action_io.new_action("move_take", obj, channels)
    action_io.assign_action(obj, action)
    return obj


def _bake_baseline(source, target, mapping, slice_frames: int) -> float:
    """The constraint + visual-keying bake most tools use, on ``slice_frames`` frames: seconds taken."""
    import bpy

    pairs = [(s, mapping.target[slot]) for slot, s in mapping.source.items() if mapping.target.get(slot)]
    for s, t in pairs:
        pb = target.pose.bones[t]
        c = pb.constraints.new("COPY_ROTATION")
        c.target, c.subtarget = source, s
        c.target_space = c.owner_space = "WORLD"
        if t == mapping.target.get("hips"):
            c = pb.constraints.new("COPY_LOCATION")
            c.target, c.subtarget = source, s
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    target.select_set(True)
    bpy.context.view_layer.objects.active = target
    bpy.ops.object.mode_set(mode="POSE")
    names = {t for _, t in pairs}
    for pb in target.pose.bones:
        owner = pb if hasattr(pb, "select") else pb.bone  # selection moved to pose bones in Blender 5.0
        owner.select = pb.name in names
    t0 = time.perf_counter()
    bpy.ops.nla.bake(frame_start=1, frame_end=slice_frames, only_selected=True, visual_keying=True,
                     clear_constraints=True, use_current_action=False, bake_types={"POSE"})
    seconds = time.perf_counter() - t0
    bpy.ops.object.mode_set(mode="OBJECT")
    return seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py retarget")
    parser.add_argument("--frames", type=int, default=36000, help="take length (default: 10 min at 60 fps)")
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--slice", type=int, default=300, help="frames baked by the baseline (extrapolated)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each method; the best counts")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]

    import bpy

    from move_mocap.core.blas_threads import blas_threads
    from move_mocap.retarget import action_io
    from move_mocap.retarget.apply import RetargetOptions, auto_mapping, retarget_with_report

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = int(args.fps)
    bpy.ops.preferences.addon_enable(module="rigify")
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    target = bpy.context.object
    bpy.ops.object.mode_set(mode="OBJECT")
    source = _build_source(args.frames, args.fps)
    # Both methods start from an evaluated scene, as in Blender after an import: the first evaluation of
    # the new take (the depsgraph's copy of its 36,000-frame action) is paid here, not by whichever method
    # happens to evaluate the scene first (the bake, run second, would otherwise get it for free).
    bpy.context.view_layer.update()

    # Each method runs --repeat times and its best time counts, as timeit does. The first run is reported
    # too: on a virtual machine whose host backs guest memory lazily, the first touch of fresh pages can
    # cost more than the whole retarget, and that cost belongs to the machine, not to either method
    # (``first_touch_s_per_gib`` measures it in this process).
    first_touch = _first_touch_s_per_gib()
    runs: list[float] = []
    report = None
    rss0 = _rss_mib()
    peak_mib = 0.0
    for _ in range(max(1, args.repeat)):
        if report is not None:
            target.animation_data.action = None
            bpy.data.actions.remove(report.action)
        with _PeakRSS() as peak:
            report = retarget_with_report(source, target, RetargetOptions())
        runs.append(report.seconds)
        peak_mib = max(peak_mib, peak.peak)
    assert report is not None
    keyed = {fc.data_path.split('"')[1] for fc in action_io.action_fcurves(report.action, target) if '"' in fc.data_path}

    # The clean-ups at retarget time (fused): the same retarget with Foot Lock and Smoothing as options.
    fused_runs: list[tuple[float, dict[str, float]]] = []
    fused_report = None
    for _ in range(max(1, args.repeat)):
        target.animation_data.action = None
        if fused_report is not None:
            bpy.data.actions.remove(fused_report.action)
        fused_report = retarget_with_report(source, target, RetargetOptions(foot_lock=True, smooth=0.5))
        fused_runs.append((fused_report.seconds, dict(fused_report.timings)))
    assert fused_report is not None
    target.animation_data.action = None
    bpy.data.actions.remove(fused_report.action)
    fused_s, fused_stages = min(fused_runs, key=lambda r: r[0])
    fused_cleanup = {k: fused_stages.get(k, 0.0) for k in ("cleanup_read", "foot_lock", "smooth")}
    fused_cleanup_s = sum(fused_cleanup.values())
    first_cleanup_s = sum(fused_runs[0][1].get(k, 0.0) for k in fused_cleanup)

    # The operators on the written action: foot locking (contacts detected), then smoothing, each --repeat times
    # from the retarget's action and its best run counting, as for the retarget (the first run is reported too).
    from move_mocap.review.legs import foot_lock, smooth

    def best_of(run: Callable[[], Any]) -> tuple[tuple[float, dict[str, float]], float]:
        """(seconds, stage timings) of the best run, and the first run's seconds; each run's new action is
        removed after it (a 10-minute take's copy is hundreds of MiB)."""
        results: list[tuple[float, dict[str, float]]] = []
        for _ in range(max(1, args.repeat)):
            action_io.assign_action(target, report.action)
            result = run()
            results.append((result.seconds, result.timings))
            target.animation_data.action = None
            bpy.data.actions.remove(result.action)
        return min(results, key=lambda r: r[0]), results[0][0]

    (lock_s, lock_stages), lock_first = best_of(lambda: foot_lock(target, "DETECT"))
    (smooth_s, smooth_stages), smooth_first = best_of(lambda: smooth(target, 0.5))
    best = min(runs)
    fused = {"stages": {k: round(v, 3) for k, v in fused_cleanup.items()},
             "cleanup_seconds": round(fused_cleanup_s, 3),
             "cleanup_first_run": round(first_cleanup_s, 3),
             "seconds": round(fused_s, 3),
             "seconds_runs": [round(r[0], 3) for r in fused_runs],
             "retarget_stages": {k: round(v, 3) for k, v in fused_stages.items() if k not in fused_cleanup},
             "foot_lock_vs_retarget": round(fused_cleanup["foot_lock"] / best, 3),
             "smooth_vs_retarget": round(fused_cleanup["smooth"] / best, 3)}
    operators = {"foot_lock": round(lock_s, 3), "smooth": round(smooth_s, 3),
                 "foot_lock_first_run": round(lock_first, 3), "smooth_first_run": round(smooth_first, 3),
                 "foot_lock_stages": {k: round(v, 3) for k, v in lock_stages.items()},
                 "smooth_stages": {k: round(v, 3) for k, v in smooth_stages.items()}}

    # Baseline on a slice, in the same process, onto a fresh copy of the rig's pose (new action).
    mapping = auto_mapping(source, target)
    target.animation_data.action = None
    bake_runs = [_bake_baseline(source, target, mapping, args.slice) for _ in range(max(1, args.repeat))]
    bake_s = min(bake_runs)
    bake_total = bake_s * args.frames / args.slice
    print(json.dumps({
        "benchmark": "retarget",
        "blender": bpy.app.version_string,
        "frames": report.frames,
        "fps": args.fps,
        "source_bones": len(source.data.bones),
        "target_bones_keyed": len(keyed),
        "probed_rig": report.probed,
        "seconds": round(best, 3),
        "seconds_runs": [round(v, 3) for v in runs],
        "stages": {k: round(v, 3) for k, v in report.timings.items()},
        # Foot lock + smoothing at retarget time (fused) over the retarget's own time, and the whole call's.
        "cleanup_vs_retarget": round(fused_cleanup_s / best, 3),
        "fused_total_vs_retarget": round(fused_s / best, 3),
        "fused": fused,
        # The operators on a written action, each over the retarget's own time.
        "operator_foot_lock_vs_retarget": round(lock_s / best, 3),
        "operator_smooth_vs_retarget": round(smooth_s / best, 3),
        "operators": operators,
        "peak_mib": round(peak_mib, 1),
        "extra_mib": round(peak_mib - rss0, 1),
        "first_touch_s_per_gib": round(first_touch, 3),
        "baseline": "constraints + nla.bake(visual_keying=True)",
        "baseline_slice_frames": args.slice,
        "baseline_slice_seconds": round(bake_s, 3),
        "baseline_slice_runs": [round(v, 3) for v in bake_runs],
        "baseline_extrapolated_seconds": round(bake_total, 1),
        "speedup_vs_bake": round(bake_total / best, 1),
        "speedup_first_run": round(bake_total / runs[0], 1),
        "blas_threads": blas_threads(),
        "load_average": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
    }))
    return 0
