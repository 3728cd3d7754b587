"""The command line: loopback by default, clear refusals."""

from __future__ import annotations

import subprocess
import sys


def _serve(*args: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_engine", "serve", "--data", str(tmp_path), "--api-key", "k",
                           *args], capture_output=True, text=True, timeout=60)


def test_non_loopback_bind_is_refused_without_allow_remote(tmp_path, cmu_bvh):
    r = _serve("--host", "0.0.0.0", "--motion", str(cmu_bvh), tmp_path=tmp_path)
    assert r.returncode == 2 and "loopback" in r.stderr


def test_replay_needs_a_motion_file(tmp_path):
    r = _serve(tmp_path=tmp_path)
    assert r.returncode == 2 and "--motion" in r.stderr


def test_help_names_the_options():
    r = subprocess.run([sys.executable, "-m", "local_engine", "serve", "--help"], capture_output=True, text=True,
                       timeout=60)
    for option in ("--host", "--port", "--data", "--api-key", "--solver", "--motion", "--max-upload-bytes", "--faults"):
        assert option in r.stdout
