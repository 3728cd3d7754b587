"""The engine writes FBX/.blend/GLB/USD/BVH by running a Blender binary in background mode (no bpy module in the
engine's Python), and says which outputs it cannot make when it has no Blender. Command lines are checked for
Linux, Windows and macOS paths; the real runs use a stand-in binary (tests/fixtures/blender_standin.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from local_engine.app import ServerState
from local_engine.config import ServerConfig
from local_engine.outputs import (
    BLENDER_OUTPUTS,
    EXPORT_SCRIPT,
    OutputError,
    blender_command,
    exporter_problem,
    write_outputs,
)
from local_engine.outputs.blender_export import _own_arguments
from local_engine.solvers import make_solver
from local_engine.solvers.base import SolveRequest
from tests.fixtures.blender_standin import make_blender_standin

BINARIES = {
    "linux": "/home/ana/blender-4.2.3-linux-x64/blender",
    "windows": r"C:\Program Files\Blender Foundation\Blender 4.2\blender.exe",
    "macos": "/Applications/Blender.app/Contents/MacOS/Blender",
}
SCRIPTS = {
    "linux": "/home/ana/.config/blender/4.2/extensions/user_default/move_mocap_engine/local_engine/outputs/"
             "blender_export.py",
    "windows": r"C:\Users\Ana Lopez\AppData\Roaming\Blender Foundation\Blender\4.2\extensions\user_default"
               r"\move_mocap_engine\local_engine\outputs\blender_export.py",
    "macos": "/Users/ana/Library/Application Support/Blender/4.2/extensions/user_default/move_mocap_engine/"
             "local_engine/outputs/blender_export.py",
}


@pytest.mark.parametrize("system", sorted(BINARIES))
def test_command_line_per_platform(system: str) -> None:
    args = ["/tmp/a b/actor1.npz", "/tmp/a b/out", "--outputs", "MAIN_FBX", "ALL_BVH"]
    cmd = blender_command(BINARIES[system], SCRIPTS[system], args)
    # The binary and the script stay one argument each, spaces and all; background, factory settings, a failing
    # script fails the process, and the writer's own arguments come after "--" (Blender ignores them).
    assert cmd[0] == BINARIES[system] and cmd[cmd.index("--python") + 1] == SCRIPTS[system]
    assert cmd[1:cmd.index("--python")] == ["-b", "--factory-startup", "--python-exit-code", "1"]
    assert cmd[cmd.index("--") + 1:] == args
    assert _own_arguments(cmd) == args  # what the writer parses inside Blender
    if system == "windows":  # CreateProcess gets one string: quoting must keep the paths whole
        line = subprocess.list2cmdline(cmd)
        assert f'"{BINARIES[system]}"' in line and f'"{SCRIPTS[system]}"' in line


def test_own_arguments_without_blender() -> None:
    assert _own_arguments(["python", "m.npz", "out", "--outputs", "MAIN_FBX"]) == ["m.npz", "out", "--outputs",
                                                                                     "MAIN_FBX"]


def test_blender_binary_writes_the_formats(cmu_bvh, tmp_path: Path) -> None:
    solver = make_solver("replay", motion=cmu_bvh)
    (motion,) = solver.solve(SolveRequest(cameras=[], work_dir=tmp_path, clip_window=(2.0, 2.5))).motions
    blender = make_blender_standin(tmp_path / "bin")
    files = write_outputs([motion], tmp_path / "files", ["ALL_BVH", "MAIN_FBX", "MOTION_DATA"],
                          blender=str(blender), python=None)
    assert set(files) == {"ALL_BVH", "MAIN_FBX", "MOTION_DATA"}
    assert files["ALL_BVH"].read_text().startswith("HIERARCHY")
    assert files["MAIN_FBX"].read_bytes().startswith(b"Kaydara FBX Binary")
    assert Path(EXPORT_SCRIPT).name == "blender_export.py"


def test_without_blender_the_engine_says_what_it_cannot_make(cmu_bvh, tmp_path: Path) -> None:
    assert exporter_problem(None, None) and "MOTION_DATA" in (exporter_problem(None, None) or "")
    assert "not an executable" in (exporter_problem(str(tmp_path / "nope"), None) or "")
    solver = make_solver("replay", motion=cmu_bvh)
    (motion,) = solver.solve(SolveRequest(cameras=[], work_dir=tmp_path, clip_window=(2.0, 2.5))).motions
    with pytest.raises(OutputError, match="MAIN_FBX cannot be made: this engine was started without a Blender"):
        write_outputs([motion], tmp_path / "files", ["MOTION_DATA", "MAIN_FBX"], blender=None, python="")
    state = ServerState(ServerConfig(data_dir=tmp_path / "data", api_key="k", solver="replay",
                                     solver_options={"motion": cmu_bvh}, export_python=None, blender=None))
    try:
        assert set(state.unavailable_outputs()) == set(BLENDER_OUTPUTS)
        assert "MOTION_DATA" in state.supported_outputs()
        assert not set(BLENDER_OUTPUTS) & state.supported_outputs()
    finally:
        state.store.close()
