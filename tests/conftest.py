"""Shared fixtures: where the real test data lives, and which Blender runs the suite.

The data is fetched by scripts/fetch_test_data.sh (run by scripts/test.sh) into .cache/testdata.
Fixtures for the local server live in tests/fixtures/ and are registered here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / ".cache" / "testdata"
# Move's published API data (schema, responses, a motion-data excerpt) sits beside the checkout, in ../shared.
MOVE_API = Path(os.environ.get("MOVE_API_DIR", ROOT.parent / "shared" / "move_api"))

pytest_plugins = ["tests.fixtures.local_server"]


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"test data {path} is missing: run scripts/fetch_test_data.sh (scripts/test.sh does)")
    return path


def require_move_api(name: str) -> Path:
    """A file of Move's API data in ../shared/move_api (or $MOVE_API_DIR); a missing one fails the test."""
    path = MOVE_API / name
    if not path.exists():
        pytest.fail(f"Move API data {path} is missing: the checkout needs ../shared/move_api beside it "
                    "(or MOVE_API_DIR pointing at it)")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def cmu_bvh() -> Path:
    """Real CMU capture, 31 joints, 120 fps (subject 01, take 03)."""
    return _require(TESTDATA / "bvh" / "01_03.bvh")


@pytest.fixture(scope="session")
def cmu_bvh_01() -> Path:
    return _require(TESTDATA / "bvh" / "01_01.bvh")


@pytest.fixture(scope="session")
def demo_video() -> Path:
    """Real single-camera footage (Sports2D demo, 30 fps, two people outdoors)."""
    return _require(TESTDATA / "sports2d" / "demo.mp4")


@pytest.fixture(scope="session")
def pose2sim_single() -> Path:
    """Pose2Sim Demo_SinglePerson: videos/cam01..04.mp4 and calibration/."""
    return _require(TESTDATA / "pose2sim" / "Demo_SinglePerson")


@pytest.fixture(scope="session")
def pose2sim_multi() -> Path:
    """Pose2Sim Demo_MultiPerson: the same four cameras filming two people (videos/, calibration/)."""
    return _require(TESTDATA / "pose2sim" / "Demo_MultiPerson")


@pytest.fixture(scope="session")
def hand_clap() -> Path:
    """A recorded hand clap (Hydrogen's GMRockKit, Debian hydrogen-data): 44.1 kHz stereo, onset at its first sample."""
    return _require(TESTDATA / "audio" / "HandClap.wav")


@pytest.fixture(scope="session")
def blender_version() -> tuple[int, int]:
    """(major, minor) of the bpy module running this suite."""
    import bpy

    return tuple(bpy.app.version[:2])  # type: ignore[return-value]


def pytest_report_header(config: pytest.Config) -> str:
    return f"move_mocap tests, MOVE_MOCAP_BLENDER={os.environ.get('MOVE_MOCAP_BLENDER', 'unset')}"


@pytest.fixture(scope="session")
def _addon_session(tmp_path_factory: pytest.TempPathFactory):
    """Once per session: the add-on's user files in a temp folder and this checkout importable."""
    import sys

    os.environ["MOVE_MOCAP_USER_DIR"] = str(tmp_path_factory.mktemp("move_mocap_user"))
    import bpy  # noqa: F401  (must come first: it puts Blender's own modules on the path)

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    yield
    import importlib

    addon_utils = importlib.import_module("addon_utils")
    addon_utils.disable("move_mocap", default_set=True)


@pytest.fixture
def addon(_addon_session):
    """The add-on enabled from this checkout inside the running bpy (enabled again if a test reset
    Blender's preferences, e.g. with read_factory_settings)."""
    import importlib
    import sys

    import bpy

    addon_utils = importlib.import_module("addon_utils")

    def _raise(exc: BaseException) -> None:
        raise exc

    if "move_mocap" not in bpy.context.preferences.addons:
        module = addon_utils.enable("move_mocap", default_set=True, handle_error=_raise)
        assert module is not None, "move_mocap failed to enable"
    return sys.modules["move_mocap"]


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The bpy module (notably 4.2) can crash while the interpreter shuts down, after every test and the
    summary are done; leave with pytest's own exit status instead of a segfault's."""
    import sys

    if "bpy" in sys.modules and _EXIT_STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
