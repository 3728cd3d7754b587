"""Real data for the importer tests: Move-convention files written by the local engine's output writers from
the real CMU capture, and MOTION_DATA from Move's own sample."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import require_move_api


@pytest.fixture(scope="session")
def motion_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Move's real MOTION_DATA sample (copied so the import names the armature after it)."""
    sample = require_move_api("motion_data_excerpt.json")
    path = tmp_path_factory.mktemp("md") / "motion_data.json"
    shutil.copy(sample, path)
    return path


@pytest.fixture(scope="session")
def motion_sample_zip(motion_sample: Path) -> Path:
    path = motion_sample.with_name("motion_data_zipped.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(motion_sample, "motion_data.json")
    return path


@pytest.fixture(scope="session")
def move_take(cmu_bvh: Path, tmp_path_factory: pytest.TempPathFactory, repo_root: Path):
    """(MoveMotion, {output: path}): 2 s of the CMU capture on Move's skeleton, written by the local engine's
    writers (MAIN_FBX, MAIN_BLEND, MAIN_GLB, ALL_BVH through Blender, MOTION_DATA in numpy)."""
    from local_engine.bvh import read_bvh
    from local_engine.outputs.motion_data import write_motion_data
    from local_engine.solvers.replay import retarget_cmu

    out = tmp_path_factory.mktemp("move_outputs")
    motion = retarget_cmu(read_bvh(cmu_bvh), 0, 240, 4)  # 60 frames at 30 fps
    npz = out / "motion.npz"
    motion.save(npz)
    proc = subprocess.run(
        [sys.executable, "-m", "local_engine.outputs.blender_export", str(npz), str(out),
         "--outputs", "MAIN_FBX", "MAIN_BLEND", "MAIN_GLB", "ALL_BVH"],
        cwd=repo_root, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = json.loads(proc.stdout.strip().splitlines()[-1])
    files["MOTION_DATA"] = str(write_motion_data([motion], out / "motion_data.json"))
    return motion, {k: Path(v) for k, v in files.items()}
