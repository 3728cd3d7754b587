"""``scripts/mocap.py download`` against a hostile server: crafted job ids and output keys never write
outside ``--to`` (a subprocess with the bpy module, a stub server answering ``getJob``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api_client.httpstub import StubServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "mocap.py"
KEY = "mv-hostile-KEY-0123456789"


@pytest.mark.parametrize("job_id, key", [("../../evil", "MAIN_FBX"), ("job-1", "../../../evil")])
def test_download_refuses_unsafe_names(tmp_path: Path, job_id: str, key: str) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    to = work / "outs"
    with StubServer() as stub:
        stub.state.files["out"] = b"; FBX 7.4.0 project file\n"

        def handler(payload: dict[str, Any], headers: dict[str, str]):
            job = {"id": payload.get("variables", {}).get("id", job_id), "state": "FINISHED", "metadata": "{}",
                   "progress": {"state": "FINISHED", "percentageComplete": 100},
                   "outputs": [{"key": key, "format": "FBX",
                                "file": {"id": "f-1", "name": "a.fbx", "presignedUrl": stub.url("/files/out")}}]}
            return 200, {}, json.dumps({"data": {"getJob": job}}).encode()

        stub.state.graphql_handler = handler
        env = {k: v for k, v in os.environ.items() if k not in ("MOVE_API_KEY", "MOVE_MOCAP_USER_DIR")}
        env.update(MOVE_MOCAP_USER_DIR=str(work / "user"), MOVE_API_KEY=KEY)
        proc = subprocess.run([sys.executable, str(SCRIPT), "download", job_id, "--endpoint", stub.url("/graphql"),
                               "--poll-max", "0.2", "--to", str(to), "--report", str(work / "r.json")],
                              env=env, cwd=work, capture_output=True, text=True, timeout=300)
        fetched = stub.requests_to("/files/out")
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "unsafe" in proc.stderr and "nothing was written" in proc.stderr, proc.stderr
    assert not fetched
    assert not list(tmp_path.rglob("evil*"))
    assert not to.exists() or not any(p.is_file() for p in to.rglob("*"))
    assert KEY not in proc.stdout + proc.stderr + (work / "r.json").read_text()
