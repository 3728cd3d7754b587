"""The pipeline's submission key and journal lookup that make batch re-runs idempotent (no bpy, no server):
same footage and settings -> same key; any change the server would see -> another key; find-or-create is
one transaction, so concurrent processes still journal one submission per key."""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import replace
from pathlib import Path

import pytest

from move_mocap.core.pipeline import Journal, Pipeline, PipelineConfig, SubmissionSpec, submission_key
from move_mocap.core.pipeline.model import KEY_FIELD, Footage
from tests.fixtures.fake_video import write_mp4_shell


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_mp4_shell(tmp_path / "take01.mp4", 2048)  # passes the pre-upload container check


def spec(video: Path, **kw) -> SubmissionSpec:
    kw.setdefault("outputs", ("MOTION_DATA",))
    return SubmissionSpec(footage=(Footage(str(video)),), **kw)


def test_key_is_stable_and_ignores_what_only_concerns_this_machine(clip: Path) -> None:
    base = spec(clip, model="S2", clip_window=(0.0, 2.0))
    again = spec(clip.parent / "." / clip.name, model="S2", clip_window=(0, 2), outputs=("motion_data",))
    assert submission_key(base) == submission_key(again)
    local_only = replace(base, name="Hero run", target="Rig", blend_file="/x/shot.blend", extra={"a": 1})
    assert submission_key(local_only) == submission_key(base)
    assert len(submission_key(base)) == 32 and int(submission_key(base), 16) >= 0


@pytest.mark.parametrize("change", [
    {"model": "S1"}, {"track_fingers": True}, {"track_ball": True}, {"floor_plane": True},
    {"clip_window": (0.0, 3.0)}, {"clip_window": None}, {"outputs": ("MOTION_DATA", "MAIN_FBX")},
])
def test_key_changes_with_every_setting_the_server_sees(clip: Path, change: dict) -> None:
    base = spec(clip, model="S2", clip_window=(0.0, 2.0))
    assert submission_key(replace(base, **change)) != submission_key(base)


def test_key_changes_when_the_video_changes(clip: Path, tmp_path: Path) -> None:
    base = submission_key(spec(clip))
    os.utime(clip, ns=(clip.stat().st_atime_ns, clip.stat().st_mtime_ns + 1_000_000_000))
    touched = submission_key(spec(clip))
    assert touched != base
    clip.write_bytes(b"\x00" * 4096)
    assert submission_key(spec(clip)) not in (base, touched)
    other = tmp_path / "take02.mp4"
    other.write_bytes(clip.read_bytes())
    assert submission_key(spec(other)) != submission_key(spec(clip))  # another file is another take


def test_create_once_returns_the_journaled_submission(clip: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    s = spec(clip)
    key = submission_key(s)
    sid, created = journal.create_once(s, key, endpoint="http://a", output_dir=str(tmp_path))
    assert created
    assert journal.require(sid).spec.extra[KEY_FIELD] == key
    assert journal.create_once(s, key, endpoint="http://a", output_dir=str(tmp_path)) == (sid, False)
    # another endpoint is another server: its own submission
    sid_b, created_b = journal.create_once(s, key, endpoint="http://b", output_dir=str(tmp_path))
    assert created_b and sid_b != sid
    assert journal.find_by_key(key, endpoint="http://a").id == sid
    assert journal.find_by_key(key, endpoint="http://b").id == sid_b
    assert journal.find_by_key("0" * 32) is None
    assert [f.path for f in journal.files(sid)] == [str(clip)]  # file rows as create() makes them
    assert len(journal.all()) == 2


def test_pipeline_submit_once_validates_and_does_not_start_existing(clip: Path, tmp_path: Path) -> None:
    def no_client(**_kw):
        raise AssertionError("nothing may be started")

    journal = Journal(tmp_path / "j.sqlite3")
    p = Pipeline(journal, no_client, PipelineConfig(endpoint="http://a", download_dir=tmp_path / "dl"))
    sid, created = p.submit_once(spec(clip))
    assert created and not p.is_running(sid)
    assert p.submit_once(spec(clip)) == (sid, False)
    with pytest.raises(ValueError, match=r"notes\.txt"):
        p.submit_once(spec(tmp_path / "notes.txt"))
    assert len(journal.all()) == 1


def _race(args: tuple[str, str, str]) -> tuple[str, bool]:
    journal_path, video, out = args
    journal = Journal(journal_path)
    s = spec(Path(video))
    return journal.create_once(s, submission_key(s), endpoint="http://a", output_dir=out)


def test_concurrent_processes_journal_one_submission(clip: Path, tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite3")
    Journal(path).close()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_race, [(path, str(clip), str(tmp_path))] * 8)
    assert len({sid for sid, _ in results}) == 1
    assert sum(created for _, created in results) == 1
