"""Build the move_mocap extension with Blender's own tools: one validated zip per platform in dist/.

Blender's validator wants the manifest beside the package's ``__init__.py``, so this script stages
``blender_manifest.toml`` + ``move_mocap/`` + the bundled wheels into ``build/stage`` and runs Blender's
extension builder there with ``--split-platforms``, then ``validate`` (with Blender's tag list) on each zip.

The builder is ``blender --command extension build`` when ``--blender`` is given, otherwise the same
program (``bl_pkg/cli/blender_ext.py``) shipped inside the installed bpy wheel.

Usage: python scripts/build_extension.py [--blender PATH] [--offline]
Exit status 0 only when all four platform zips are built and validated.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "move_mocap"
MANIFEST = ROOT / "blender_manifest.toml"
WHEEL_PINS = ROOT / "requirements" / "extension-wheels.txt"
WHEEL_CACHE = ROOT / ".cache" / "wheels"
STAGE = ROOT / "build" / "stage"
DIST = ROOT / "dist"

# Blender platform -> pip --platform tags (newest first is fine: pip picks what exists).
PIP_PLATFORMS: dict[str, list[str]] = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_11_0_arm64"],
    "macos-x64": ["macosx_10_12_x86_64", "macosx_10_9_x86_64"],
}
# Every Python a supported Blender runs: 3.11 (4.2 LTS to 5.0), 3.13 (5.1, 5.2 LTS).
PYTHON_VERSIONS = ("3.11", "3.13")


class BuildError(Exception):
    pass


def _bl_pkg_dir() -> Path:
    """Blender's extension tooling inside the installed bpy wheel (found without importing bpy)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the bpy module is not installed in this Python: run scripts/setup_env.sh first")
    bpy_dir = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(bpy_dir.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise BuildError(f"no bl_pkg/cli/blender_ext.py under {bpy_dir}")
    return found[-1].parent


def _tags_file() -> Path:
    scripts = _bl_pkg_dir().parents[2]
    tags = scripts / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    if not tags.exists():
        raise BuildError(f"Blender's tag list is missing: {tags}")
    return tags


def _pins() -> list[str]:
    lines = [ln.split("#", 1)[0].strip() for ln in WHEEL_PINS.read_text().splitlines()]
    return [ln for ln in lines if ln]


def _pip_download(args: list[str], offline: bool) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "-d", str(WHEEL_CACHE), *args]
    if offline:
        cmd.insert(4, "--no-index")
        cmd.insert(5, f"--find-links={WHEEL_CACHE}")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"pip download {' '.join(args)} failed:\n{result.stderr.strip()}")


def _wheel_matches(name: str, pin: str) -> bool:
    dist, version = pin.split("==")
    return name.startswith(f"{re.sub(r'[-.]', '_', dist)}-{version}-")


def fetch_wheels(platforms: list[str], offline: bool) -> list[Path]:
    """Download the pinned wheel set for every platform and Python version; return the files to bundle."""
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    pins = _pins()
    chosen: set[Path] = set()
    for platform in platforms:
        for py in PYTHON_VERSIONS:
            tag_args: list[str] = []
            for tag in PIP_PLATFORMS[platform]:
                tag_args += ["--platform", tag]
            _pip_download([*tag_args, "--python-version", py, "--implementation", "cp", *pins], offline)
    for wheel in WHEEL_CACHE.glob("*.whl"):
        if any(_wheel_matches(wheel.name, pin) for pin in pins):
            chosen.add(wheel)
    missing = missing_wheels([w.name for w in chosen], pins, platforms)
    if missing:
        raise BuildError("the bundled wheels do not cover every Blender: " + "; ".join(missing))
    return sorted(chosen)


def missing_wheels(wheel_names: list[str], pins: list[str], platforms: list[str]) -> list[str]:
    """What the wheel set lacks: a pin with no wheel at all, or a compiled pin without a wheel for one of
    PYTHON_VERSIONS (cp311: Blender 4.2-5.0, cp313: Blender 5.1+) on one of ``platforms``."""
    out = []
    for pin in pins:
        matches = [m for m in wheel_names if _wheel_matches(m, pin)]
        if not matches:
            out.append(f"no wheel for {pin}")
            continue
        if any("-none-any" in m for m in matches):
            continue
        for platform in platforms:
            for py in PYTHON_VERSIONS:
                cp = "cp" + py.replace(".", "")
                if not any(f"-{cp}-" in m and _platform_of(m) == platform for m in matches):
                    out.append(f"{pin}: no {cp} wheel for {platform}")
    return out


def _platform_of(wheel_name: str) -> str | None:
    if "manylinux" in wheel_name and "x86_64" in wheel_name:
        return "linux-x64"
    if "win_amd64" in wheel_name:
        return "windows-x64"
    if "macosx" in wheel_name and "arm64" in wheel_name:
        return "macos-arm64"
    if "macosx" in wheel_name and "x86_64" in wheel_name:
        return "macos-x64"
    return None


def stage(wheels: list[Path]) -> dict:
    """Copy the package, the wheels and the manifest (with its wheel list) into build/stage."""
    if STAGE.exists():
        shutil.rmtree(STAGE)
    shutil.copytree(PACKAGE, STAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (STAGE / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, STAGE / "wheels" / wheel.name)
    text = MANIFEST.read_text()
    listing = "wheels = [\n" + "".join(f'  "./wheels/{w.name}",\n' for w in wheels) + "]"
    text, count = re.subn(r"^wheels\s*=\s*\[[^\]]*\]", listing, text, flags=re.M)
    if count != 1:
        raise BuildError("blender_manifest.toml must contain exactly one `wheels = [...]` entry")
    (STAGE / "blender_manifest.toml").write_text(text)
    return tomllib.loads(text)


def _run_builder(blender: str | None, args: list[str]) -> None:
    if blender:
        cmd = [blender, "--factory-startup", "--command", "extension", *args]
    else:
        cmd = [sys.executable, str(_bl_pkg_dir() / "blender_ext.py"), *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    out = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or re.search(r"^(error|Error|FATAL_ERROR)\b", out, flags=re.M):
        raise BuildError(f"{' '.join(args[:1])} failed (exit {result.returncode}):\n{out}")
    print(out, file=sys.stderr)


def build(blender: str | None, offline: bool) -> list[Path]:
    manifest = tomllib.loads(MANIFEST.read_text())
    platforms = list(manifest["platforms"])
    unknown = [p for p in platforms if p not in PIP_PLATFORMS]
    if unknown:
        raise BuildError(f"no pip platform tags known for {unknown}")
    wheels = fetch_wheels(platforms, offline)
    staged = stage(wheels)
    DIST.mkdir(exist_ok=True)
    for old in DIST.glob(f"{staged['id']}-*.zip"):
        old.unlink()
    tags = str(_tags_file())
    _run_builder(blender, ["build", "--source-dir", str(STAGE), "--output-dir", str(DIST),
                           "--split-platforms", "--valid-tags", tags])
    zips = []
    for platform in platforms:
        expected = DIST / f"{staged['id']}-{staged['version']}-{platform.replace('-', '_')}.zip"
        if not expected.exists():
            found = ", ".join(p.name for p in DIST.glob("*.zip")) or "nothing"
            raise BuildError(f"expected {expected.name} in dist/, found {found}")
        target = DIST / f"{staged['id']}-{staged['version']}-{platform}.zip"
        expected.replace(target)
        _run_builder(blender, ["validate", "--valid-tags", tags, str(target)])
        _check_zip(target, platform)
        zips.append(target)
    return zips


def _check_zip(path: Path, platform: str) -> None:
    """Each platform zip carries only its own compiled wheels, for both Python versions."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        manifest = tomllib.loads(z.read("blender_manifest.toml").decode())
    wheels = [n for n in names if n.endswith(".whl")]
    foreign = [w for w in wheels if _platform_of(w) not in (None, platform)]
    if foreign:
        raise BuildError(f"{path.name} carries wheels of other platforms: {foreign}")
    missing = missing_wheels([w.rsplit("/", 1)[-1] for w in wheels], _pins(), [platform])
    if missing:
        raise BuildError(f"{path.name}: " + "; ".join(missing))
    generated = manifest.get("build", {}).get("generated", {})
    if generated.get("platforms") != [platform]:
        raise BuildError(f"{path.name}: generated platforms are {generated.get('platforms')}, expected [{platform}]")
    listed = {w.rsplit("/", 1)[-1] for w in generated.get("wheels", [])}
    if listed != {w.rsplit("/", 1)[-1] for w in wheels}:
        raise BuildError(f"{path.name}: the generated wheel list does not match the wheels in the zip")
    if not any(n == "__init__.py" for n in names):
        raise BuildError(f"{path.name} has no __init__.py at its top level")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blender", help="a Blender binary: build with `blender --command extension`")
    parser.add_argument("--offline", action="store_true", help="use only wheels already in .cache/wheels")
    args = parser.parse_args(argv)
    try:
        zips = build(args.blender, args.offline)
    except BuildError as exc:
        print(f"build_extension: FAILED: {exc}", file=sys.stderr)
        return 1
    for z in zips:
        print(f"build_extension: built and validated {z.relative_to(ROOT)} ({z.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
