"""Several-people benchmark: everyone followed in real footage, against the single-person BlazePose of the same
run (mediapipe's legacy Pose solution, what the engine ran before people were tracked).

1. Single views: the Sports2D demo (two people, 30 fps) and each of pose2sim's Demo_MultiPerson views (two
   people, 60 fps) through ``local_engine.pose.people.extract_people`` and through ``blazepose.extract``.
   ``people_found`` per clip; ``identity_swaps``: jumps of a followed person's hip centre that no body makes
   (more than a torso length between frames, see ``swaps``: what a jump to someone else looks like), summed
   over every person of every clip, and the same count for the single-person baseline
   (``baseline_identity_swaps``); ``frames_per_s`` of both over all clips and their ratio.
2. Several cameras: Demo_MultiPerson's four calibrated views solved with ``numberOfActors = 2`` and
   Demo_SinglePerson's (the same man, the same frames, without the second person) with one actor.
   ``pa_mpjpe_mm``: per actor, the PA-MPJPE of its joints against the single-person solve (the man's is the
   figure; the other person is someone else, so hers only shows the two are told apart).

Prints one JSON line. Run with a Blender venv's python that has mediapipe. No bpy here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".cache" / "testdata"


def swaps(track) -> int:
    """Jumps of the followed hip centre no body makes: more than one torso length from one seen frame to the
    next, plus ten torso lengths (three body heights) per second of frames in between when the person was not
    seen for a while (at most a second)."""
    uv = track.image
    hips = 0.5 * (uv[:, 23] + uv[:, 24])
    torso = np.linalg.norm(0.5 * (uv[:, 11] + uv[:, 12]) - hips, axis=1)
    seen = np.nonzero(track.present)[0]
    count = 0
    for a, b in itertools.pairwise(seen):
        if b - a > track.fps:
            continue
        allowed = 1.0 + 10.0 * (b - a - 1) / track.fps
        count += int(np.linalg.norm(hips[b] - hips[a]) > allowed * max(torso[a], 1.0))
    return count


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py people", description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    from local_engine.calibration import read_qca
    from local_engine.pose import blazepose, people, skeleton_fit
    from local_engine.pose.calibration_metrics import pa_mpjpe
    from local_engine.solvers.base import SolveRequest
    from local_engine.solvers.mediapipe_solver import MediapipeSolver

    multi, single = DATA / "pose2sim" / "Demo_MultiPerson", DATA / "pose2sim" / "Demo_SinglePerson"
    clips = [DATA / "sports2d" / "demo.mp4", *sorted((multi / "videos").glob("cam*.mp4"))]
    missing = [str(p) for p in [*clips, single] if not p.exists()]
    if missing or len(clips) < 5:
        print(f"bench.py people: test data missing ({', '.join(missing) or 'Demo_MultiPerson videos'}): run "
              "scripts/fetch_test_data.sh", file=sys.stderr)
        return 2
    found, swap_count, base_swaps = {}, 0, 0
    frames = 0
    t_people = t_base = 0.0
    for clip in clips:
        t = time.perf_counter()
        p = people.extract_people(clip)
        t_people += time.perf_counter() - t
        t = time.perf_counter()
        legacy = blazepose.extract(clip)
        t_base += time.perf_counter() - t
        frames += len(legacy)
        name = clip.stem if clip.parent.name == "videos" else "sports2d"
        found[name] = len(p.tracks)
        swap_count += sum(swaps(tr) for tr in p.tracks)
        base_swaps += swaps(legacy)

    with tempfile.TemporaryDirectory() as tmp:
        solver = MediapipeSolver(cache_dir=tmp, overlay=False)
        t = time.perf_counter()
        cams = read_qca(multi / "calibration" / "Calib.qca.txt", video_dir=multi / "videos")
        two = solver.solve(SolveRequest(cameras=cams, work_dir=Path(tmp) / "two", number_of_actors=2,
                                        options={"outputs": ["MOTION_DATA"]}))
        t_two = time.perf_counter() - t
        t = time.perf_counter()
        cams1 = read_qca(single / "calibration" / "Calib.qca.txt", video_dir=single / "videos")
        one = solver.solve(SolveRequest(cameras=cams1, work_dir=Path(tmp) / "one",
                                        options={"outputs": ["MOTION_DATA"]}))
        t_one = time.perf_counter() - t
    ref = skeleton_fit.joint_positions(one.motions[0])
    errors = []
    for m in two.motions:
        j = skeleton_fit.joint_positions(m)
        names = sorted(set(j) & set(ref))
        errors.append(round(1000 * pa_mpjpe(np.stack([j[n] for n in names], 1), np.stack([ref[n] for n in names], 1)),
                            1))
    fps_people, fps_base = frames / t_people, frames / t_base
    line = {
        "benchmark": "people",
        "people_found": found,
        "identity_swaps": swap_count,
        "baseline_identity_swaps": base_swaps,
        "frames_per_s": round(fps_people, 2),
        "baseline_frames_per_s": round(fps_base, 2),
        "speed_ratio_vs_baseline": round(fps_people / fps_base, 3),
        "multiview_actors": len(two.motions),
        "pa_mpjpe_mm": {f"actor_{m.actor}": e for m, e in zip(two.motions, errors)},
        "man_pa_mpjpe_mm": min(errors) if errors else None,
        "multiview_two_people_wall_s": round(t_two, 2),
        "multiview_single_person_wall_s": round(t_one, 2),
        "multiview_wall_ratio": round(t_two / t_one, 3),
        "baseline": "mediapipe legacy Pose (one person) on the same clips; Demo_SinglePerson 4-view solve",
        "footage": "Sports2D demo (230 frames, 30 fps) + Demo_MultiPerson cam01-04 (100 frames, 60 fps)",
    }
    print(json.dumps(line))
    return 0
