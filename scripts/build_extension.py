"""Build the move_mocap extensions with Blender's own tools: one validated zip per platform in dist/.

Two extensions (docs/local_engine_packaging.md says why): the add-on ``move_mocap`` (``blender_manifest.toml``
+ ``move_mocap/`` + pydantic wheels for cp311 and cp313), and, with ``--engine``, the local engine
``move_mocap_engine`` (``engine_extension/`` + ``local_engine/`` + the pose model bundles built by
scripts/build_pose_models.py into ``local_engine/pose/models`` + the wheels of requirements/engine-wheels.txt and
one BlazePose runtime per platform: engine-wheels-tasks.txt, cp311 and cp313, or engine-wheels-legacy.txt on
macos-x64, cp311 only). Blender's validator wants the manifest beside the package's ``__init__.py``, so each is
staged into ``build/stage/<id>`` and built there by Blender's extension builder with ``--split-platforms``, then
each zip is ``validate``d (with Blender's tag list) and checked.

The builder is ``blender --command extension build`` when ``--blender`` is given, otherwise the same
program (``bl_pkg/cli/blender_ext.py``) shipped inside the installed bpy wheel.

Usage: python scripts/build_extension.py [--blender PATH] [--offline] [--engine]
Exit status 0 only when every platform zip asked for is built and validated. For the engine, a platform whose
wheel set is incomplete is reported (which package lacks which wheel), left out, and makes the exit status 3.
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
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "move_mocap"
MANIFEST = ROOT / "blender_manifest.toml"
WHEEL_PINS = ROOT / "requirements" / "extension-wheels.txt"
WHEEL_CACHE = ROOT / ".cache" / "wheels"
STAGE = ROOT / "build" / "stage"
DIST = ROOT / "dist"

# Blender platform -> pip --platform tags (newest first is fine: pip picks what exists).
PIP_PLATFORMS: dict[str, list[str]] = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                  "manylinux2014_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_11_0_arm64", "macosx_12_0_arm64", "macosx_13_0_arm64", "macosx_14_0_arm64",
                    "macosx_10_9_universal2", "macosx_11_0_universal2"],
    "macos-x64": ["macosx_10_9_x86_64", "macosx_10_12_x86_64", "macosx_10_13_x86_64", "macosx_10_15_x86_64",
                  "macosx_11_0_x86_64", "macosx_12_0_x86_64", "macosx_13_0_x86_64", "macosx_10_9_universal2",
                  "macosx_11_0_universal2"],
}
# Every Python a supported Blender runs: 3.11 (4.2 LTS to 5.0), 3.13 (5.1, 5.2 LTS).
PYTHON_VERSIONS = ("3.11", "3.13")


class Extension(NamedTuple):
    """One extension to build: its manifest, what is copied into it (source -> name in the zip), its pins."""

    manifest: Path
    sources: tuple[tuple[Path, str], ...]
    pins: Path
    pythons: tuple[str, ...]
    cache: Path
    strict: bool  # every platform must build (the add-on); else incomplete platforms are left out
    #: platform -> (its Pythons, a second pin file) where a platform differs from ``pins`` / ``pythons``
    per_platform: dict[str, tuple[tuple[str, ...], Path]] = {}
    models: str = ""  # where in the zip scripts/build_pose_models.py's output goes ("" : none)


ADDON = Extension(MANIFEST, ((PACKAGE, "."),), WHEEL_PINS, PYTHON_VERSIONS, WHEEL_CACHE, strict=True)
_TASKS = (PYTHON_VERSIONS, ROOT / "requirements" / "engine-wheels-tasks.txt")
ENGINE = Extension(ROOT / "engine_extension" / "blender_manifest.toml",
                   ((ROOT / "engine_extension" / "__init__.py", "__init__.py"), (ROOT / "local_engine", "local_engine")),
                   ROOT / "requirements" / "engine-wheels.txt", PYTHON_VERSIONS, ROOT / ".cache" / "wheels-engine",
                   strict=False,
                   # Intel Macs run Blender up to 4.5 LTS (Python 3.11); mediapipe >= 0.10.30 has no wheel for them.
                   per_platform={"linux-x64": _TASKS, "windows-x64": _TASKS, "macos-arm64": _TASKS,
                                 "macos-x64": (("3.11",), ROOT / "requirements" / "engine-wheels-legacy.txt")},
                   models="local_engine/pose/models")


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


def _pins(path: Path = WHEEL_PINS) -> list[str]:
    lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln]


def pins_for(ext: Extension, platform: str) -> tuple[list[str], tuple[str, ...]]:
    """The pins and Pythons of one platform's zip."""
    pythons, extra = ext.per_platform.get(platform, (ext.pythons, None))
    return _pins(ext.pins) + (_pins(extra) if extra else []), pythons


def _pip_download(args: list[str], offline: bool, cache: Path = WHEEL_CACHE) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "-d", str(cache), *args]
    if offline:
        cmd.insert(4, "--no-index")
        cmd.insert(5, f"--find-links={cache}")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        err = "\n".join(ln for ln in result.stderr.strip().splitlines() if "is ignored: it is neither" not in ln)
        raise BuildError(f"pip download {' '.join(args)} failed:\n{err}")


def _wheel_matches(name: str, pin: str) -> bool:
    dist, version = pin.split("==")
    return name.lower().startswith(f"{re.sub(r'[-.]', '_', dist)}-{version}-".lower())


def fetch_wheels(platforms: list[str], offline: bool, ext: Extension = ADDON) -> tuple[list[Path], dict[str, str]]:
    """Download the pinned wheel set for every platform and Python version. Returns the files to bundle and,
    per platform whose set is incomplete, what it lacks (an error for a strict extension)."""
    ext.cache.mkdir(parents=True, exist_ok=True)
    failed: dict[str, str] = {}
    for platform in platforms:
        pins, pythons = pins_for(ext, platform)
        tag_args: list[str] = []
        for tag in PIP_PLATFORMS[platform]:
            tag_args += ["--platform", tag]
        for py in pythons:
            try:
                _pip_download([*tag_args, "--python-version", py, "--implementation", "cp", *pins], offline,
                              ext.cache)
            except BuildError:
                if ext.strict:
                    raise
                for pin in pins:  # one by one, to name what is missing
                    try:
                        _pip_download([*tag_args, "--python-version", py, "--implementation", "cp", pin], offline,
                                      ext.cache)
                    except BuildError:
                        pass
    cached = sorted(ext.cache.glob("*.whl"))
    chosen: set[Path] = set()
    for platform in platforms:
        pins, pythons = pins_for(ext, platform)
        mine = [w for w in cached if any(_wheel_matches(w.name, pin) for pin in pins)
                and (not _platforms_of(w.name) or platform in _platforms_of(w.name))]
        shared = {pin for other in platforms if other != platform and other.startswith("macos")
                  for pin in pins_for(ext, other)[0]}
        mine = _one_build_per_platform(mine, platform, [pin for pin in pins if pin in shared])
        missing = missing_wheels([w.name for w in mine], pins, [platform], pythons)
        if missing:
            failed[platform] = "; ".join(missing)
        chosen.update(mine)
    if failed and ext.strict:
        raise BuildError("the bundled wheels do not cover every Blender: " + "; ".join(failed.values()))
    return sorted(chosen), failed


def _one_build_per_platform(wheels: list[Path], platform: str, shared_pins: list[str]) -> list[Path]:
    """One wheel per package, version and Python for a macOS platform: a universal2 wheel where the other
    macOS zip bundles the same pin (one file serves both), else the thin one when it exists (a universal2 wheel
    goes into both macOS zips, where the other one may bundle another version of that package: Blender would
    install only the newest). Without this a zip would carry, and Blender install, two copies of a package."""
    if not platform.startswith("macos"):
        return wheels

    def key(name: str) -> tuple[str, ...]:
        parts = name[:-4].split("-")
        return (parts[0].lower(), parts[1], parts[-3], parts[-2])

    out = []
    for w in wheels:
        same = [o for o in wheels if o is not w and key(o.name) == key(w.name)]
        if not same or "macosx" not in w.name:
            out.append(w)
            continue
        is_shared = any(_wheel_matches(w.name, pin) for pin in shared_pins)
        universal = "universal2" in w.name
        if universal == is_shared:
            out.append(w)
    return out


def missing_wheels(wheel_names: list[str], pins: list[str], platforms: list[str],
                   pythons: tuple[str, ...] = PYTHON_VERSIONS) -> list[str]:
    """What the wheel set lacks: a pin with no wheel at all, or a compiled pin without a wheel for one of
    ``pythons`` (cp311: Blender 4.2-5.0, cp313: Blender 5.1+) on one of ``platforms``."""
    out = []
    for pin in pins:
        matches = [m for m in wheel_names if _wheel_matches(m, pin)]
        if not matches:
            out.append(f"no wheel for {pin}")
            continue
        if any("-none-any" in m for m in matches):
            continue
        for platform in platforms:
            for py in pythons:
                cp = "cp" + py.replace(".", "")
                if not any(_serves_python(m, py) and platform in _platforms_of(m) for m in matches):
                    out.append(f"{pin}: no {cp} wheel for {platform}")
    return out


def _serves_python(wheel_name: str, py: str) -> bool:
    """Whether a wheel loads in CPython ``py``: its own cpXY tag, a stable-ABI (abi3) wheel for an older or equal
    CPython, or a pure py3 wheel (compiled but Python-independent, e.g. mediapipe 1.x)."""
    parts = wheel_name[:-4].split("-")
    python_tag, abi = parts[-3], parts[-2]
    want = int(py.replace(".", ""))
    for tag in python_tag.split("."):
        if tag == "py3":
            return True
        if tag.startswith("cp") and tag[2:].isdigit():
            have = int(tag[2:])
            if have == want or (abi == "abi3" and have <= want):
                return True
    return False


def _platforms_of(wheel_name: str) -> set[str]:
    out = set()
    if "manylinux" in wheel_name and "x86_64" in wheel_name:
        out.add("linux-x64")
    if "win_amd64" in wheel_name:
        out.add("windows-x64")
    if "macosx" in wheel_name and ("arm64" in wheel_name or "universal2" in wheel_name):
        out.add("macos-arm64")
    if "macosx" in wheel_name and ("x86_64" in wheel_name or "universal2" in wheel_name):
        out.add("macos-x64")
    return out


def _platform_of(wheel_name: str) -> str | None:
    """The one platform a wheel is for (None: pure, or several, like macOS universal2)."""
    found = _platforms_of(wheel_name)
    return next(iter(found)) if len(found) == 1 else None


def stage(wheels: list[Path], ext: Extension = ADDON, platforms: list[str] | None = None,
          offline: bool = False) -> tuple[Path, dict]:
    """Copy the sources, the wheels and the manifest (with its wheel list, and ``platforms`` when given) into
    build/stage/<id>; returns that folder and the staged manifest."""
    ext_id = tomllib.loads(ext.manifest.read_text())["id"]
    where = STAGE / ext_id
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    for source, name in ext.sources:
        if source.is_dir():
            shutil.copytree(source, where / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                            dirs_exist_ok=True)
        else:
            shutil.copy2(source, where / name)
    if ext.models:
        _build_models(where / ext.models, ext.cache, offline)
    (where / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, where / "wheels" / wheel.name)
    text = ext.manifest.read_text()
    listing = "wheels = [\n" + "".join(f'  "./wheels/{w.name}",\n' for w in wheels) + "]"
    text, count = re.subn(r"^wheels\s*=\s*\[[^\]]*\]", listing, text, flags=re.M)
    if count != 1:
        raise BuildError(f"{ext.manifest.name} must contain exactly one `wheels = [...]` entry")
    if platforms is not None:
        text = re.sub(r"^platforms\s*=\s*\[[^\]]*\]", "platforms = [" + ", ".join(f'"{p}"' for p in platforms)
                      + "]", text, flags=re.M)
    (where / "blender_manifest.toml").write_text(text)
    return where, tomllib.loads(text)


def _build_models(out: Path, wheel_cache: Path, offline: bool = False) -> None:
    """The pose/hand model bundles, their LICENSE and NOTICE, by scripts/build_pose_models.py (sha256-checked)."""
    spec = importlib.util.spec_from_file_location("build_pose_models", ROOT / "scripts" / "build_pose_models.py")
    assert spec is not None and spec.loader is not None
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    try:
        models.build(out, models.fetch_wheel(wheel_cache, offline))
    except models.ModelBuildError as exc:
        raise BuildError(f"the pose models: {exc}") from exc


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


def build(blender: str | None, offline: bool, ext: Extension = ADDON) -> tuple[list[Path], dict[str, str]]:
    """Build and validate one zip per platform; returns the zips and the platforms left out (with why)."""
    manifest = tomllib.loads(ext.manifest.read_text())
    platforms = list(manifest["platforms"])
    unknown = [p for p in platforms if p not in PIP_PLATFORMS]
    if unknown:
        raise BuildError(f"no pip platform tags known for {unknown}")
    wheels, failed = fetch_wheels(platforms, offline, ext)
    platforms = [p for p in platforms if p not in failed]
    if not platforms:
        raise BuildError(f"{manifest['id']}: no platform has every wheel: " + " | ".join(
            f"{p}: {why}" for p, why in failed.items()))
    wheels = [w for w in wheels if _platform_of(w.name) is None or _platform_of(w.name) in platforms
              or _platforms_of(w.name) & set(platforms)]
    where, staged = stage(wheels, ext, platforms, offline)
    DIST.mkdir(exist_ok=True)
    for old in DIST.glob(f"{staged['id']}-{staged['version']}-*.zip"):
        old.unlink()
    tags = str(_tags_file())
    _run_builder(blender, ["build", "--source-dir", str(where), "--output-dir", str(DIST),
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
        _check_zip(target, platform, ext)
        zips.append(target)
    return zips, failed


def _check_zip(path: Path, platform: str, ext: Extension = ADDON) -> None:
    """Each platform zip carries only its own compiled wheels, for both Python versions."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        manifest = tomllib.loads(z.read("blender_manifest.toml").decode())
    wheels = [n for n in names if n.endswith(".whl")]
    foreign = [w for w in wheels if _platforms_of(w) and platform not in _platforms_of(w)]
    if foreign:
        raise BuildError(f"{path.name} carries wheels of other platforms: {foreign}")
    pins, pythons = pins_for(ext, platform)
    missing = missing_wheels([w.rsplit("/", 1)[-1] for w in wheels], pins, [platform], pythons)
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
    if ext.models:
        lacking = [f for f in ("pose_landmarker_full.task", "hand_landmarker_full.task", "LICENSE", "NOTICE")
                   if f"{ext.models}/{f}" not in names]
        if lacking:
            raise BuildError(f"{path.name} lacks {', '.join(lacking)} in {ext.models}/")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blender", help="a Blender binary: build with `blender --command extension`")
    parser.add_argument("--offline", action="store_true", help="use only wheels already in .cache/wheels*")
    parser.add_argument("--engine", action="store_true",
                        help="also build the local engine's extension (move_mocap_engine, ~150 MB per platform)")
    parser.add_argument("--engine-only", action="store_true", help="build only the local engine's extension")
    args = parser.parse_args(argv)
    exts = [ENGINE] if args.engine_only else [ADDON, ENGINE] if args.engine else [ADDON]
    status = 0
    for ext in exts:
        try:
            zips, failed = build(args.blender, args.offline, ext)
        except BuildError as exc:
            print(f"build_extension: FAILED: {exc}", file=sys.stderr)
            return 1
        for z in zips:
            print(f"build_extension: built and validated {z.relative_to(ROOT)} ({z.stat().st_size // 1024} KiB)")
        for platform, why in failed.items():
            print(f"build_extension: NOT BUILT {ext.manifest.parent.name}/{platform}: {why}")
            status = 3
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
