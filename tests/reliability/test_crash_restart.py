"""Blender killed with SIGKILL from outside (a bpy-module process running the add-on) at each stage boundary
and in the middle of the upload and of the download; started again, the submission completes with no second
uploaded file, take or job on the server (counted in its own database), abandoned file records named in the
journal, the output byte-identical to the server's, no partial file, and the result applied exactly once (the
saved .blend holds one armature and one Move action). The cheap os._exit variant of every boundary is in
tests/pipeline; here the CI runs the riskiest points, ``MOVE_MOCAP_SLOW=1`` all of them."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.fake_video import mp4_shell
from tests.pipeline.helpers import counts, orphan_files

ROOT = Path(__file__).resolve().parents[2]
SLOW = os.environ.get("MOVE_MOCAP_SLOW") == "1"
_slow = pytest.mark.skipif(not SLOW, reason="set MOVE_MOCAP_SLOW=1 (every boundary; os._exit versions run in CI)")

POINTS = [
    pytest.param("mid-upload", id="mid-upload"),
    pytest.param("mid-download", id="mid-download"),
    pytest.param("created:job", id="created-job"),  # the job exists on the server, its id not yet journaled
    pytest.param("processed", id="processed"),
    pytest.param("downloaded", id="downloaded"),  # downloaded, not applied
    *[pytest.param(p, id=p.replace(":", "-"), marks=[pytest.mark.slow, _slow])
      for p in ("file:take:0", "files", "uploaded", "before:take", "created:take", "take", "before:job", "job",
                "downloaded:MOTION_DATA")],
]


def _env(server, user: Path) -> dict[str, str]:
    return {**os.environ, "MOVE_API_KEY": server.api_key, "MOVE_MOCAP_USER_DIR": str(user),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> list[str]:
    """Read the process's lines until ``ready(line)``; then SIGKILL it. Returns the lines read."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if ready(line.split()):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
            return lines
    proc.kill()
    raise AssertionError("the kill point was never reached:\n" + "\n".join(lines[-30:]))


def _server_output(server, job_id: str) -> bytes:
    db = sqlite3.connect(f"file:{server.data_dir / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        job = json.loads(db.execute("SELECT data FROM objects WHERE id=?", (job_id,)).fetchone()[0])
        (out,) = [o for o in job["outputs"] if o["key"] == "MOTION_DATA"]
        f = json.loads(db.execute("SELECT data FROM objects WHERE id=?", (out["fileId"],)).fetchone()[0])
    finally:
        db.close()
    return (server.data_dir / "files" / f["path"]).read_bytes()


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_restart_completes_once(local_server, demo_video, tmp_path, point) -> None:
    from move_mocap.core.pipeline import Journal

    user, downloads = tmp_path / "user", tmp_path / "downloads"
    env = _env(local_server, user)
    video = demo_video
    if point == "mid-upload":  # big enough to be caught mid-way, and the server slow to take it
        video = tmp_path / "long take.mp4"
        video.write_bytes(mp4_shell(48 << 20, demo_video.read_bytes()[:1 << 20]))
        local_server.set_faults([{"route": "upload", "kind": "slow", "delay": 60, "count": 1}])
        want = ("upload", 1)
        kill = "never"
    elif point == "mid-download":  # first GET cut after 20 kB, the resumed GET stalls: killed with a .part
        local_server.set_faults([
            {"route": "download", "kind": "truncate", "after_bytes": 20000, "count": 1},
            {"route": "download", "kind": "slow", "delay": 60, "skip": 1, "count": 1}])
        want = ("download", 20000)
        kill = "never"
    else:
        want = ("", 0)
        kill = point

    def ready(w: list[str]) -> bool:
        if kill != "never":
            return w[:2] == ["AT", point]
        return w[:2] == ["PROGRESS", want[0]] and want[1] <= int(w[2]) < int(w[3])

    first = subprocess.Popen([sys.executable, "-m", "tests.reliability.blender_proc", "submit", str(video),
                              local_server.url, str(downloads), kill], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = _kill_when(first, ready)
    assert first.returncode == -signal.SIGKILL
    sid = next(w.split()[-1] for w in lines if w.startswith(("AT ", "PROGRESS ")))
    if point == "mid-download":
        parts = list(downloads.rglob(".*.part"))
        assert len(parts) == 1 and parts[0].stat().st_size >= 20000  # killed with a partial download
    local_server.clear_faults()

    out_blend = tmp_path / "after restart.blend"
    second = subprocess.run([sys.executable, "-m", "tests.reliability.blender_proc", "resume", local_server.url,
                             str(downloads), str(out_blend)], cwd=ROOT, env=env, text=True, capture_output=True,
                            timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"END {sid} done" in second.stdout, second.stdout[-3000:] + second.stderr[-3000:]

    # the server: one uploaded file, one take, one job; never-uploaded records are the journal's orphans
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}
    journal = Journal(user / "journal.sqlite3")
    row = journal.require(sid)
    assert {o for f in journal.files(sid) for o in f.orphans} == orphan_files(local_server, sid)
    # the download folder: the output, byte for byte the server's, and nothing partial
    path = Path(row.outputs["MOTION_DATA"])
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(_server_output(local_server, row.job_id)).digest()
    assert [p.name for p in downloads.rglob("*") if p.is_file() and p != path] == []
    # applied exactly once: one armature and one Move action in the saved scene
    import bpy

    with bpy.data.libraries.load(str(out_blend)) as (src, _dst):
        objects, actions = list(src.objects), list(src.actions)
    assert objects == [row.applied_to] and len(actions) == 1 and actions[0] == row.applied_action
