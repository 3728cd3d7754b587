"""Fixtures of the engine tests: BlazePose landmarks of the real test footage, extracted once per session
into a temporary cache (the solver reuses them), and the pose2sim calibration."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(scope="session")
def requires_mediapipe() -> str:
    """The one gate of every test that runs BlazePose: the runtime this venv has (mediapipe 0.10.21's legacy
    solutions on Python 3.11, the Tasks API of mediapipe 0.10.35 with the bundles in .cache/models on Python
    3.13), or a failure saying what is missing and how to get it (scripts/setup_env.sh installs both)."""
    from local_engine.pose.landmarker import describe

    found = describe()
    if found["runtime"] is None:
        pytest.fail(f"{found['problem']} Run scripts/setup_env.sh.")
    return str(found["runtime"])


@pytest.fixture(scope="session")
def landmark_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("landmarks")


@pytest.fixture(scope="session")
def solver(requires_mediapipe, landmark_cache: Path):
    """The mediapipe solver, for tests that run BlazePose on real footage (hence requires_mediapipe)."""
    from local_engine.solvers.mediapipe_solver import MediapipeSolver

    return MediapipeSolver(cache_dir=landmark_cache)


@pytest.fixture(scope="session")
def p2s_cameras(pose2sim_single: Path):
    from local_engine.calibration import read_qca

    return read_qca(pose2sim_single / "calibration" / "Calib.qca.txt", video_dir=pose2sim_single / "videos")


@pytest.fixture(scope="session")
def p2s_tracks(solver, p2s_cameras):
    """BlazePose on the four synchronised pose2sim views (100 frames each, 60 fps)."""
    return [solver.landmarks(cam) for cam in p2s_cameras]


@pytest.fixture(scope="session")
def p2s_triangulated(p2s_cameras, p2s_tracks):
    """(F, 33, 3) landmarks triangulated from the four views, in the calibration's world (metres, Z up)."""
    from local_engine.pose.blazepose import MIRROR
    from local_engine.pose.triangulate import fix_left_right, triangulate_sequence

    pix = np.stack([t.image for t in p2s_tracks])
    w = np.stack([t.visibility for t in p2s_tracks])
    pix, w, _ = fix_left_right(p2s_cameras, pix, w, MIRROR)
    return triangulate_sequence(p2s_cameras, pix, w), pix


@pytest.fixture(scope="session")
def p2s_multi(solver, p2s_cameras, tmp_path_factory: pytest.TempPathFactory):
    """The solver's result for the four-camera take (no overlay)."""
    from local_engine.solvers.base import SolveRequest

    seen: list[float] = []
    request = SolveRequest(cameras=p2s_cameras, work_dir=tmp_path_factory.mktemp("multi"),
                           options={"outputs": ["MOTION_DATA"], "floorPlane": True}, progress=seen.append)
    result = solver.solve(request)
    result.metadata["_progress"] = seen
    return result


@pytest.fixture(scope="session")
def demo_result(solver, demo_video: Path, tmp_path_factory: pytest.TempPathFactory):
    """The solver's result for the first 4 s of the Sports2D demo (single camera, two people), with overlay."""
    from local_engine.solvers.base import Camera, SolveRequest

    request = SolveRequest(cameras=[Camera(demo_video)], work_dir=tmp_path_factory.mktemp("demo"),
                           clip_window=(0.0, 4.0))
    return solver.solve(request)


@pytest.fixture(scope="session")
def clap_clips(pose2sim_single: Path, hand_clap: Path, tmp_path_factory: pytest.TempPathFactory):
    """The four pose2sim views, each started later by a known number of frames, with a recorded hand clap in
    their sound at the same instant (tests/engine/clap_clips.py), and the true offsets in frames."""
    from tests.engine.clap_clips import CLAP_AT, CLAP_CLIPS, make_clip

    out = tmp_path_factory.mktemp("clap")
    videos, truth = [], []
    for v, cut, shift, gain in CLAP_CLIPS:
        src = pose2sim_single / "videos" / f"cam0{v + 1}.mp4"
        videos.append(make_clip(src, out / f"cam0{v + 1}.mp4", cut, hand_clap, CLAP_AT - cut / 60 + shift, gain,
                                seed=v))
        truth.append(-cut + shift * 60)
    return videos, truth
