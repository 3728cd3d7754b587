"""Tested as a user would: the built add-on and engine zips installed with Blender's own operator, Process on
"This Computer" from the panel's operators onto a Rigify rig, in a fresh bpy process started outside the
repository with the repository on neither sys.path nor PYTHONPATH. The engine must load local_engine, mediapipe, its pose model
bundles and its other packages from the installed extension and nothing from the checkout, on every Blender (4.2
runs the linux zip's mediapipe 0.10.35 with numpy 1, 5.2 with numpy 2: one py3 wheel serves both)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.fixtures.blender_standin import make_blender_standin

ROOT = Path(__file__).resolve().parents[2]


def _zip(manifest: Path, platform: str) -> Path:
    data = tomllib.loads(manifest.read_text())
    return ROOT / "dist" / f"{data['id']}-{data['version']}-{platform}.zip"


@pytest.fixture(scope="session")
def user_zips() -> tuple[Path, Path]:
    addon = _zip(ROOT / "blender_manifest.toml", "linux-x64")
    engine = _zip(ROOT / "engine_extension" / "blender_manifest.toml", "linux-x64")
    for zip_path, sources, args in (
        (addon, [*ROOT.joinpath("move_mocap").rglob("*.py"), ROOT / "blender_manifest.toml"], []),
        (engine, [*ROOT.joinpath("local_engine").rglob("*.py"), *ROOT.joinpath("engine_extension").iterdir(),
                  *ROOT.joinpath("requirements").glob("engine-wheels*.txt"), ROOT / "scripts" / "build_pose_models.py",
                  ROOT / "scripts" / "build_extension.py"], ["--engine-only"]),
    ):
        newest = max(p.stat().st_mtime for p in sources)
        if not zip_path.exists() or zip_path.stat().st_mtime < newest:
            proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), *args],
                                  capture_output=True, text=True)
            assert zip_path.exists(), f"the build made no {zip_path.name}:\n{proc.stdout}\n{proc.stderr}"
    return addon, engine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(user_zips, demo_video: Path, tmp_path: Path, with_blender: bool = True) -> dict:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(Path(__file__).with_name("user_path_check.py"), work)
    shutil.copy(ROOT / "tests" / "retarget" / "rigs.py", work)  # build_rigify, no repository imports
    video = work / "my clip.mp4"
    shutil.copy(demo_video, video)
    blender = make_blender_standin(tmp_path / "blender-standin") if with_blender else ""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MOVE_MOCAP_USER_DIR", "MOVE_API_KEY")}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "user")
    proc = subprocess.run([sys.executable, "-I", str(work / "user_path_check.py"), str(user_zips[0]),
                           str(user_zips[1]), str(video), str(_free_port()), str(blender)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("USER_PATH ")), None)
    assert line, f"the check printed nothing (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(line.split(" ", 1)[1])


def _from_checkout(path: str) -> bool:
    """A path of the repository's own files. The Python running the tests stands in for Blender's own (its
    interpreter, standard library and site-packages), so its environment does not count, wherever it lives
    (scripts/setup_env.sh puts it in the checkout's .venv)."""
    real = os.path.realpath(path)
    environments = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, ROOT / ".venv")}
    if any(real == env or real.startswith(env + os.sep) for env in environments):
        return False
    root = os.path.realpath(ROOT)
    return real == root or real.startswith(root + os.sep)


@pytest.mark.parametrize("with_blender", [True, False], ids=["blender-binary", "no-blender-binary"])
def test_capture_on_this_computer_from_the_installed_extensions(user_zips, demo_video, tmp_path,
                                                                 with_blender) -> None:
    out = _run(user_zips, demo_video, tmp_path, with_blender)
    user = os.path.realpath(tmp_path / "user")
    assert not any(_from_checkout(p or ".") for p in out["sys_path"]), out["sys_path"]
    assert out["install_addon"] == ["FINISHED"]
    assert out["install_engine"] == ["FINISHED"], out
    assert out["engine_problem"] is None and out["launch"]["source"] == "installed", out
    assert out["process"] == ["FINISHED"], out.get("process_error")
    health = out["health"]
    modules = health["modules"]
    for name in ("local_engine", "mediapipe", "av", "cv2", "uvicorn", "starlette", "ariadne"):
        assert modules[name] and os.path.realpath(modules[name]).startswith(user), (name, modules[name])
    assert health["solver_problem"] is None and os.path.realpath(health["pose_models"]).startswith(user), health
    assert health["version"] and health["solver"] == "mediapipe"
    if with_blender:  # the engine writes FBX with the Blender binary the add-on passed
        assert "MAIN_FBX" in health["outputs"] and health["unavailable_outputs"] == {}
    else:  # the bpy module has no binary: the engine says so, the add-on asked only for MOTION_DATA
        assert "MAIN_FBX" not in health["outputs"] and "MOTION_DATA" in health["outputs"]
        assert "without a Blender binary" in health["unavailable_outputs"]["MAIN_FBX"]
    assert health["executable"] == sys.executable  # Blender's own Python (the venv's stands in for it)
    cmdline = out["engine_cmdline"]
    assert "-I" in cmdline and "-S" in cmdline and not any(_from_checkout(a) for a in cmdline[5:]
                                                           if a.startswith("/"))
    from_checkout = [m for m in out["engine_maps"] if _from_checkout(m)]
    assert from_checkout == [], from_checkout
    assert any(os.path.realpath(m).startswith(user) and "mediapipe" in m for m in out["engine_maps"])
    # The motion is on the rig: about 3 s of 30 fps footage, the hips moved off their rest place and above the
    # feet. (How high above the floor is the capture's accuracy, checked by tests/engine and bench.py accuracy;
    # on this clip the rig stands about 1.2 m too high today, in both the FBX and the MOTION_DATA route.)
    start, end = out["frame_range"]
    assert out["action"] and 60 <= end - start <= 120, out["frame_range"]
    assert abs(out["hips_z"] - out["rest_hips_z"]) > 1e-3 and out["hips_z"] > max(out["feet_z"]) + 0.3, (
        out["hips_z"], out["rest_hips_z"], out["feet_z"])


#: The Python of each platform's newest and oldest supported Blender (Intel Macs stop at 4.5 LTS, Python 3.11).
PLATFORM_PYTHONS = {"linux-x64": ((3, 11), (3, 13)), "windows-x64": ((3, 11), (3, 13)),
                    "macos-arm64": ((3, 11), (3, 13)), "macos-x64": ((3, 11),)}


def test_engine_zips_give_each_blender_one_runtime_and_the_models(user_zips) -> None:
    """Every engine zip the build made (all four platforms), read as Blender reads it: for each Python of the
    platform, of the wheels whose Python tag fits (Blender's own tag parser, from bl_pkg), one version per
    distribution (Blender installs only the newest), mediapipe among them (0.10.35's Tasks runtime, or 0.10.21
    on Intel Macs), and the pose bundles with mediapipe's Apache-2.0 LICENSE and our NOTICE beside them."""
    import importlib.util
    import zipfile

    spec = importlib.util.spec_from_file_location("build_extension", ROOT / "scripts" / "build_extension.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    spec = importlib.util.spec_from_file_location("blender_ext", build._bl_pkg_dir() / "blender_ext.py")
    assert spec is not None and spec.loader is not None
    blender_ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(blender_ext)
    manifest = ROOT / "engine_extension" / "blender_manifest.toml"
    for platform, pythons in PLATFORM_PYTHONS.items():
        path = _zip(manifest, platform)
        assert path.exists() and path.stat().st_mtime >= user_zips[1].stat().st_mtime - 600, f"no fresh {path.name}"
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            wheels = [n.rsplit("/", 1)[-1] for n in names if n.endswith(".whl")]
            models = "local_engine/pose/models/"
            assert {models + f for f in ("pose_landmarker_full.task", "hand_landmarker_full.task")} <= set(names)
            assert z.read(models + "LICENSE").decode().lstrip().startswith("Apache License")
            notice = z.read(models + "NOTICE").decode()
            assert "mediapipe-0.10.21" in notice and "sha256" in notice and "metadata" in notice
        for py in pythons:
            fits = [w for w in wheels if py in (v := blender_ext.python_versions_from_wheel(w)) or (3,) in v]
            versions: dict[str, set[str]] = {}
            for w in fits:
                versions.setdefault(w.split("-")[0].lower(), set()).add(w.split("-")[1])
            assert all(len(v) == 1 for v in versions.values()), (platform, py, versions)
            expected = "0.10.21" if platform == "macos-x64" else "0.10.35"
            assert versions.get("mediapipe") == {expected}, (platform, py, versions.get("mediapipe"))
            for compiled in ("av", "opencv_contrib_python_headless", "matplotlib", "pillow"):
                assert compiled in versions, (platform, py, compiled)
