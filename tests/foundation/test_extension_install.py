"""The built zip installs with Blender's own operator, enables, uses its bundled pydantic, and leaves
nothing behind when disabled. Runs in a fresh bpy process per check (BLENDER_USER_RESOURCES is read at
start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def built_zips() -> dict[str, Path]:
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    zips = {p: ROOT / "dist" / f"move_mocap-{manifest['version']}-{p}.zip" for p in manifest["platforms"]}
    sources = [*ROOT.joinpath("move_mocap").rglob("*.py"), ROOT / "blender_manifest.toml"]
    newest_source = max(p.stat().st_mtime for p in sources)
    if not all(z.exists() and z.stat().st_mtime >= newest_source for z in zips.values()):
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py")], check=True)
    return zips


def test_four_platform_zips(built_zips: dict[str, Path]) -> None:
    assert set(built_zips) == {"linux-x64", "windows-x64", "macos-arm64", "macos-x64"}
    for platform, path in built_zips.items():
        with zipfile.ZipFile(path) as z:
            wheels = [n for n in z.namelist() if n.endswith(".whl")]
            manifest = tomllib.loads(z.read("blender_manifest.toml").decode())
        assert manifest["id"] == "move_mocap"
        assert manifest["build"]["generated"]["platforms"] == [platform]
        cores = [w for w in wheels if "pydantic_core" in w]
        assert {w.split("-")[2] for w in cores} == {"cp311", "cp313"}, cores
        assert not any(w.startswith("wheels/requests") for w in wheels), "requests must not be bundled"
        assert not any(n.startswith(("local_engine", "tests", "scripts")) for n in z.namelist())


def test_build_refuses_a_wheel_set_missing_an_abi(built_zips: dict[str, Path]) -> None:
    """The build's check names the platform and ABI (cp311: Blender 4.2-5.0, cp313: 5.1+) a wheel is missing
    for; it is run on each zip's real wheel list with one compiled wheel taken out."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_extension", ROOT / "scripts" / "build_extension.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    pins = build._pins()
    for platform, path in built_zips.items():
        with zipfile.ZipFile(path) as z:
            wheels = [n.rsplit("/", 1)[-1] for n in z.namelist() if n.endswith(".whl")]
        assert build.missing_wheels(wheels, pins, [platform]) == []
        for cp in ("cp311", "cp313"):
            core = next(w for w in wheels if w.startswith("pydantic_core-") and f"-{cp}-" in w)
            missing = build.missing_wheels([w for w in wheels if w != core], pins, [platform])
            assert missing == [f"{next(p for p in pins if p.startswith('pydantic-core=='))}: no {cp} wheel for "
                               f"{platform}"]
        pure = next(w for w in wheels if w.startswith("typing_extensions-"))
        assert build.missing_wheels([w for w in wheels if w != pure], pins, [platform]) == [
            f"no wheel for {next(p for p in pins if p.startswith('typing-extensions=='))}"]


def test_manifest_rules() -> None:
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    import re

    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["blender_version_min"] == "4.2.0"
    assert set(manifest["permissions"]) == {"network", "files"}
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert {"Animation", "Import-Export"} <= set(manifest["tags"])


def test_install_enable_disable_in_real_blender(built_zips: dict[str, Path], tmp_path: Path) -> None:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    env.pop("MOVE_MOCAP_USER_DIR", None)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("install_check.py")), str(built_zips["linux-x64"])],
        env=env, capture_output=True, text=True, timeout=300,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("INSTALL_CHECK ")), None)
    assert line, f"install check printed nothing:\n{proc.stdout}\n{proc.stderr}"
    out = json.loads(line.split(" ", 1)[1])
    user = str(tmp_path / "user")
    assert out["install_result"] == ["FINISHED"]
    assert out["enabled"]
    assert out["module_file"].startswith(user)
    assert out["expected_classes"], "the add-on registers nothing"
    assert set(out["expected_classes"]) <= set(out["classes"])
    assert {"api_key", "endpoint", "download_dir", "network_timeout"} <= set(out["prefs"])
    assert out["prefs_defaults"]["endpoint"] == "https://api.move.ai/ugc/graphql"
    assert out["pydantic_file"].startswith(user) and out["pydantic_core_file"].startswith(user)
    assert out["pydantic_version"].startswith("2.") and out["pydantic_validates"]
    assert out["core_ok"]
    assert out["warnings"] == {}, f"Blender reports policy violations: {out['warnings']}"
    assert out["after_disable_classes"] == [] and not out["after_disable_enabled"]
    assert set(out["expected_classes"]) <= set(out["reenabled_classes"])
    assert out["final_classes"] == []
