"""MOTION_DATA benchmark: writing a long take with its dynamics (joint limits, Move's conventions, ground
reactions, inverse dynamics, JSON) against writing the same file without dynamics (zero torques and forces),
measured in the same run.

The take is the real CMU capture (``.cache/testdata/bvh/01_03.bvh`` unless ``--bvh``) replayed on Move's
skeleton at 60 fps and repeated to ``--minutes`` (default 10: 36,000 frames). Prints one JSON line:
``seconds_per_1000_frames`` with dynamics, the baseline's, ``ratio_vs_without_dynamics``, ``dynamics_only``
seconds per 1000 frames (body_dynamics alone) and the whole take's ``seconds``.
Run: ``python scripts/bench.py motion_data [--minutes M] [--bvh PATH]`` with a Blender venv's python.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def _take(bvh: Path, minutes: float):
    from local_engine.bvh import read_bvh
    from local_engine.motion import MoveMotion
    from local_engine.solvers.replay import ground_offset, retarget_cmu

    data = read_bvh(bvh)
    clip = retarget_cmu(data, stride=2, lift=ground_offset(data))
    frames = int(minutes * 60 * clip.fps)
    reps = -(-frames // clip.frame_count)
    contacts = clip.foot_contacts if clip.foot_contacts is not None else np.zeros((clip.frame_count, 2), bool)
    return MoveMotion(fps=clip.fps, rotations=np.tile(clip.rotations, (reps, 1, 1))[:frames],
                      hips_positions=np.tile(clip.hips_positions, (reps, 1))[:frames],
                      foot_contacts=np.tile(contacts, (reps, 1))[:frames], metadata=dict(clip.metadata))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py motion_data")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--bvh", type=Path, default=Path(__file__).resolve().parents[2] / ".cache" / "testdata"
                        / "bvh" / "01_03.bvh")
    args = parser.parse_args(argv)
    if not args.bvh.is_file():
        print(f"bench.py motion_data: {args.bvh} is missing; run scripts/fetch_test_data.sh", flush=True)
        return 2
    from local_engine.dynamics import body_dynamics
    from local_engine.joint_limits import apply_joint_limits
    from local_engine.kinematics import forward_kinematics
    from local_engine.outputs.motion_data import joint_angles, write_motion_data
    from local_engine.rotations import quat_to_matrix

    motion = _take(args.bvh, args.minutes)
    n = motion.frame_count
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_motion_data([motion], Path(tmp) / "plain.json", dynamics=False)
        plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_motion_data([motion], Path(tmp) / "full.json")
        full = time.perf_counter() - t0
    limited = apply_joint_limits(motion)
    rot = quat_to_matrix(limited.rotations)
    pose = (rot, *forward_kinematics(limited, rot))
    angles = joint_angles(limited, rot)
    t0 = time.perf_counter()
    body_dynamics(limited, angles, pose)
    dyn = time.perf_counter() - t0
    print(json.dumps({
        "benchmark": "motion_data", "frames": n, "fps": motion.fps,
        "seconds": round(full, 3),
        "seconds_per_1000_frames": round(1000 * full / n, 4),
        "baseline_seconds_per_1000_frames": round(1000 * plain / n, 4),
        "ratio_vs_without_dynamics": round(full / plain, 3),
        "dynamics_only_seconds_per_1000_frames": round(1000 * dyn / n, 4),
    }))
    return 0
