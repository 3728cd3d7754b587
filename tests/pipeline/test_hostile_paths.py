"""Names from a hostile server never become paths outside the download folder.

The real pipeline (worker thread, real client, real HTTP) downloads an adopted job from a stub server whose
``getJob`` answers crafted job ids, output keys, formats and file names; every case must fail the download
stage with a message naming the unsafe value, with nothing written or created anywhere (the whole temporary
tree is compared before and after). ``move_mocap.core.safe_paths`` is also checked on its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from move_mocap.core import safe_paths
from move_mocap.core.pipeline import Journal, Pipeline, Stage, State
from tests.api_client.httpstub import StubServer
from tests.pipeline.helpers import factory, fast_config

PAYLOAD = b"Kaydara FBX Binary  \x00" + b"x" * 200

# (job id, output key, format, file name) that must be refused
HOSTILE = {
    "job id parent": ("../../x", "MAIN_FBX", "FBX", "a.fbx"),
    "job id absolute": ("/abs/dir", "MAIN_FBX", "FBX", "a.fbx"),
    "job id dotdot": ("..", "MAIN_FBX", "FBX", "a.fbx"),
    "job id NUL": ("job\x00x", "MAIN_FBX", "FBX", "a.fbx"),
    "job id backslash": ("..\\..\\x", "MAIN_FBX", "FBX", "a.fbx"),
    "job id drive": ("C:evil", "MAIN_FBX", "FBX", "a.fbx"),
    "job id too long": ("j" * 300, "MAIN_FBX", "FBX", "a.fbx"),
    "job id look-alike": ("job\u2215..\u2215x", "MAIN_FBX", "FBX", "a.fbx"),
    "job id device": ("CON", "MAIN_FBX", "FBX", "a.fbx"),
    "key parent": ("job-1", "../../../x", "FBX", "a.fbx"),
    "key absolute": ("job-1", "/tmp/evil", "FBX", "a.fbx"),
    "key hidden": ("job-1", ".bashrc", "FBX", "a.fbx"),
    "key unicode": ("job-1", "MAIN_F\uff22X", "FBX", "a.fbx"),
    "format traversal": ("job-1", "MAIN_FBX", "fbx/../../../x.py", "a.fbx"),
    "format backslash": ("job-1", "MAIN_FBX", "fbx\\..\\x", "a.fbx"),
    "format NUL": ("job-1", "MAIN_FBX", "fbx\x00.py", "a.fbx"),
    "format kelvin": ("job-1", "MAIN_FBX", "\u212abx", "a.fbx"),
    "format long": ("job-1", "MAIN_FBX", "f" * 5000, "a.fbx"),
    "file name suffix": ("job-1", "MAIN_FBX", None, "take.f:x"),
    "file name look-alike": ("job-1", "MAIN_FBX", None, "take.f\u212ax"),
}


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _job(job_id: str, key: str, fmt: str | None, name: str, url: str) -> dict[str, Any]:
    return {"id": job_id, "name": "hostile", "state": "FINISHED", "metadata": "{}",
            "progress": {"state": "FINISHED", "percentageComplete": 100},
            "outputs": [{"key": key, "format": fmt,
                         "file": {"id": "file-1", "name": name, "presignedUrl": url}}]}


def _serve(stub: StubServer, job: dict[str, Any]) -> None:
    stub.state.files["out"] = PAYLOAD

    def handler(payload: dict[str, Any], headers: dict[str, str]):
        return 200, {}, json.dumps({"data": {"getJob": job}}).encode()

    stub.state.graphql_handler = handler


def _adopt(tmp: Path, stub: StubServer, job_id: str) -> Any:
    server = type("S", (), {"api_key": "k-hostile-0001", "url": stub.url("/graphql")})()
    pipeline = Pipeline(Journal(tmp / "journal.sqlite3"), factory(server),
                        fast_config(server.url, tmp / "downloads"))
    sid = pipeline.adopt_job(job_id)
    events: list[Any] = []
    row = pipeline.wait(sid, timeout=60, on_event=events.append)
    return row, pipeline


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_names_write_nothing(case: str, tmp_path: Path) -> None:
    job_id, key, fmt, name = HOSTILE[case]
    work = tmp_path / "a" / "b" / "c"  # room for ../../ to land inside tmp_path, where it is seen
    work.mkdir(parents=True)
    before = _tree(tmp_path)
    with StubServer() as stub:
        _serve(stub, _job(job_id, key, fmt, name, stub.url("/files/out")))
        row, _ = _adopt(work, stub, job_id)
        downloads = stub.requests_to("/files/out")
    assert row.state is State.FAILED and row.error_stage == Stage.DOWNLOADED.value, (row.state, row.error_message)
    assert row.error_message.startswith("the server sent an unsafe "), row.error_message
    assert "nothing was written" in row.error_message
    assert "endpoint" in row.error_hint
    assert "\x00" not in row.error_message and len(row.error_message) < 400
    assert not downloads, "no byte may be fetched for an unsafe name"
    after = _tree(tmp_path) - before
    assert {p for p in after if not p.startswith("a/b/c/journal.sqlite3")} == set(), after
    assert not row.outputs


def test_symlinked_job_folder_pointing_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    (work / "downloads").mkdir(parents=True)
    os.symlink(outside, work / "downloads" / "job-1")
    with StubServer() as stub:
        _serve(stub, _job("job-1", "MAIN_FBX", "FBX", "a.fbx", stub.url("/files/out")))
        row, _ = _adopt(work, stub, "job-1")
        assert not stub.requests_to("/files/out")
    assert row.state is State.FAILED and "outside the download folder" in row.error_message
    assert list(outside.iterdir()) == []


def test_safe_names_download_inside_the_folder(tmp_path: Path) -> None:
    """The check must not refuse what Move really sends (ids with dashes, upper-case keys, formats)."""
    job_id = "job-59ff6b90-e03c-41cf-8d20-58926e0e4f3f"
    with StubServer() as stub:
        _serve(stub, _job(job_id, "MAIN_FBX", "FBX", "take.fbx", stub.url("/files/out")))
        row, _ = _adopt(tmp_path, stub, job_id)
    assert row.state is State.READY, row.error_message
    dest = Path(row.outputs["MAIN_FBX"])
    assert dest == (tmp_path / "downloads" / job_id / "main_fbx.fbx").resolve()
    assert dest.read_bytes() == PAYLOAD


@pytest.mark.parametrize("value", ["job-1", "MAIN_FBX", "a.b", "A" * 128, "x_y-z.0"])
def test_check_name_accepts(value: str) -> None:
    assert safe_paths.check_name(value, "id") == value


@pytest.mark.parametrize("value", ["", ".", "..", ".x", "x.", "a/b", "a\\b", "c:", "a\x00", "A" * 129, "caf\u00e9",
                                   "nul", "NUL.fbx", "com1", "a b", "a\nb", 5, None])
def test_check_name_refuses(value: Any) -> None:
    with pytest.raises(safe_paths.UnsafeNameError, match="unsafe id"):
        safe_paths.check_name(value, "id")


def test_extensions() -> None:
    assert safe_paths.check_extension("FBX") == "fbx"
    assert safe_paths.check_extension(".glb") == "glb"
    for bad in ("", "f/x", "..", "fb x", "\u212a", "x" * 13, "a.b", "a-b"):
        with pytest.raises(safe_paths.UnsafeNameError):
            safe_paths.check_extension(bad)


def test_confined_and_make_folder(tmp_path: Path) -> None:
    root = tmp_path / "dl"
    assert safe_paths.confined(root, "job-1", "x.fbx") == (root / "job-1" / "x.fbx").resolve()
    assert not root.exists(), "confined() creates nothing"
    os.symlink(tmp_path, tmp_path / "link")
    (root).mkdir()
    os.symlink(tmp_path, root / "up")
    with pytest.raises(safe_paths.UnsafeNameError, match="outside the download folder"):
        safe_paths.make_folder(root, "up", "job-1")
    assert not (tmp_path / "job-1").exists()
    # a download folder reached through a symlink is fine: the root is resolved too
    assert safe_paths.make_folder(tmp_path / "link" / "dl", "job-2").is_dir()
