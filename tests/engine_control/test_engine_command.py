"""The command line that starts an installed engine: Blender's Python, isolated (``-I -S``), with only the engine
extension's folder, the wheels' site-packages and Blender's own site-packages on its path. Paths for Linux,
Windows and macOS are checked as text; the bootstrap itself runs for real with this Python. No bpy here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from move_mocap.core.engine_process import BOOTSTRAP, EngineLaunch, engine_command, wheels_site_packages

CASES = {
    "linux": (False, "/home/ana/blender-4.2.3-linux-x64/4.2/python/bin/python3.11",
              "/home/ana/.config/blender/4.2/extensions",
              "/home/ana/.config/blender/4.2/extensions/.local/lib/python3.11/site-packages",
              "/home/ana/blender-4.2.3-linux-x64/blender"),
    "windows": (True, r"C:\Program Files\Blender Foundation\Blender 4.2\4.2\python\bin\python.exe",
                r"C:\Users\Ana Lopez\AppData\Roaming\Blender Foundation\Blender\4.2\extensions",
                r"C:\Users\Ana Lopez\AppData\Roaming\Blender Foundation\Blender\4.2\extensions\.local\lib"
                r"\python3.11\site-packages",
                r"C:\Program Files\Blender Foundation\Blender 4.2\blender.exe"),
    "macos": (False, "/Applications/Blender.app/Contents/Resources/4.2/python/bin/python3.11",
              "/Users/ana/Library/Application Support/Blender/4.2/extensions",
              "/Users/ana/Library/Application Support/Blender/4.2/extensions/.local/lib/python3.11/site-packages",
              "/Applications/Blender.app/Contents/MacOS/Blender"),
}


@pytest.mark.parametrize("system", sorted(CASES))
def test_installed_engine_command_per_platform(system: str) -> None:
    windows, python, extensions, wheels, blender = CASES[system]
    assert wheels_site_packages(extensions, (3, 11), windows=windows) == wheels
    root = Path(extensions) / "user_default" / "move_mocap_engine"
    launch = EngineLaunch(python, root, (wheels, "/blender/site-packages"), blender=blender)
    cmd = engine_command(launch, port=8765, data_dir=Path("/data dir"), solver="mediapipe")
    assert cmd[:5] == [python, "-I", "-S", "-c", BOOTSTRAP]
    sep = cmd.index("--")
    assert cmd[5:sep] == [str(root), f"site:{wheels}", "site:/blender/site-packages"]
    assert cmd[sep + 1] == "serve" and cmd[cmd.index("--blender") + 1] == blender
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    if windows:  # CreateProcess receives one string: every path must stay whole
        line = subprocess.list2cmdline(cmd)
        assert f'"{python}"' in line and f'"{blender}"' in line and f'"site:{wheels}"' in line


def test_no_blender_binary_is_said_to_the_engine() -> None:
    cmd = engine_command(EngineLaunch("/py", Path("/e"), blender=""), port=1, data_dir=Path("/d"), solver="replay")
    assert cmd[cmd.index("--blender") + 1] == ""  # the engine then offers MOTION_DATA only


def test_developer_override_runs_the_module() -> None:
    launch = EngineLaunch("/venv/bin/python", Path("/repo"), isolated=False)
    assert engine_command(launch, port=1, data_dir=Path("/d"), solver="replay")[:3] == ["/venv/bin/python", "-m",
                                                                                      "local_engine"]


def test_bootstrap_path_is_only_what_it_is_given(tmp_path: Path) -> None:
    """Run for real: PYTHONPATH and the working directory are ignored; the engine folder comes first, the
    site-packages folders after the standard library in the order given (their .pth files read)."""
    root = tmp_path / "ext"
    (root / "local_engine").mkdir(parents=True)
    (root / "local_engine" / "__init__.py").write_text("")
    (root / "local_engine" / "__main__.py").write_text(
        "import json, sys, local_engine, shadow\n"
        "print(json.dumps({'argv': sys.argv[1:], 'path': sys.path, 'engine': local_engine.__file__,\n"
        "                  'shadow': shadow.WHERE, 'site': 'site' in sys.modules}))\n")
    wheels, base = tmp_path / "wheels", tmp_path / "base"
    for folder in (wheels, base):
        (folder / "shadow").mkdir(parents=True)
        (folder / "shadow" / "__init__.py").write_text(f"WHERE = {folder.name!r}\n")
    (wheels / "extra.pth").write_text(str(tmp_path / "from_pth") + "\n")
    (tmp_path / "from_pth").mkdir()
    decoy = tmp_path / "decoy"
    (decoy / "local_engine").mkdir(parents=True)
    (decoy / "local_engine" / "__init__.py").write_text("raise ImportError('the checkout was used')\n")
    launch = EngineLaunch(sys.executable, root, (str(wheels), str(base)))
    cmd = [*launch.prefix(), "serve", "--port", "1"]
    env = dict(os.environ, PYTHONPATH=str(decoy))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=decoy, timeout=60)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["argv"] == ["serve", "--port", "1"]
    assert Path(seen["engine"]).parent.parent == root
    assert seen["shadow"] == "wheels"  # the wheels win over Blender's own site-packages
    path = [os.path.realpath(p) for p in seen["path"]]
    assert path[0] == os.path.realpath(root) and str(decoy) not in seen["path"]
    assert path.index(os.path.realpath(wheels)) < path.index(os.path.realpath(base))
    assert os.path.realpath(tmp_path / "from_pth") in path
    assert not any("site-packages" in p for p in seen["path"])  # no venv or user site-packages
