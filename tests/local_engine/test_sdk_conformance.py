"""Move's own Python SDK (move-ugc-python 4.1.0, unchanged) works against the local engine: every service method.

The SDK runs in its own venv (``.venv/move-sdk``, made by scripts/setup_sdk_env.sh: its gql/graphql-core 3.2 pins
clash with the engine's graphql-core 3.3). ``sdk_driver.py`` calls each method against the real engine (a
subprocess on a loopback port, from the ``local_server`` fixture) and prints what the SDK's pydantic models
made of each answer; this test checks those values one by one, and that the driver called every public
method the SDK's services have. Jobs run to FINISHED with the replay solver; every output is downloaded from
its presigned URL and its format checked by its magic bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.local_server import ROOT

SDK_PYTHON = ROOT / ".venv" / "move-sdk" / "bin" / "python"
DRIVER = Path(__file__).with_name("sdk_driver.py")
VIDEO = ROOT / ".cache" / "testdata" / "sports2d" / "demo.mp4"
MAGIC = {  # output format -> what its first bytes must be
    "fbx": (b"Kaydara FBX Binary  \x00",),
    "blend": (b"BLENDER", b"\x28\xb5\x2f\xfd"),  # plain, or zstd-compressed as Blender may save it
    "glb": (b"glTF",),
    "usdc": (b"PXR-USDC",),
    "usdz": (b"PK\x03\x04",),
    "bvh": (b"HIERARCHY",),
    "json": (b"{",),
}


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    if not SDK_PYTHON.exists():
        pytest.fail(f"Move's SDK venv is missing ({SDK_PYTHON}): run `bash scripts/setup_sdk_env.sh`")
    return SDK_PYTHON


def _run_driver(sdk_python: Path, server, out_dir: Path) -> dict:
    if not VIDEO.exists():
        pytest.fail(f"test data {VIDEO} is missing: run scripts/fetch_test_data.sh")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOVE_", "PYTHON"))}
    env["MOVE_UGC_ENDPOINT_URL"] = server.url
    proc = subprocess.run([str(sdk_python), str(DRIVER), server.api_key, str(VIDEO), str(out_dir)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, f"SDK driver failed:\n{proc.stderr[-6000:]}\nserver log:\n{server.log()}"
    return json.loads(proc.stdout)


def _file_ok(f: dict, server, *, method: str, ext: str = ".mp4") -> None:
    assert f["id"].startswith("file-")
    assert f["type"] == ext
    assert f["created"].endswith("Z")
    assert f["presigned_url"].startswith(f"{server.base_url}/ugc/storage/{f['id']}?")
    assert f"X-Move-Method={method}" in f["presigned_url"]
    assert isinstance(f["name"], str) and isinstance(f["metadata"], dict)


def test_every_sdk_method_against_the_engine(sdk_python, local_server, tmp_path) -> None:
    out = _run_driver(sdk_python, local_server, tmp_path / "downloads")
    r = out["results"]
    assert out["called"] == out["methods"], f"SDK methods not exercised: {set(out['methods']) - set(out['called'])}"
    assert len(out["methods"]) >= 20

    # client: from MOVE_UGC_ENDPOINT_URL and from endpoint_url=
    assert r["endpoint_from_env"] == local_server.url
    client = r["client.retrieve"]
    assert client["id"].startswith("client-") and client["name"] == "local-engine"
    assert client["portal"] == f"{local_server.base_url}/"
    assert r["client.update"]["metadata"] == {"team": "conformance"}
    assert r["client.update"]["id"] == client["id"]

    # files: the SDK's default name "" is accepted and comes back as ""; metadata defaults to {}
    f0 = r["files.create.0"]
    _file_ok(f0, local_server, method="PUT")
    assert f0["name"] == "" and f0["metadata"] == {} and f0["client"] is None
    f1 = r["files.create.1"]
    _file_ok(f1, local_server, method="PUT")
    assert f1["name"] == "cam1.mp4" and f1["metadata"] == {"n": 1} and f1["client"]["id"] == client["id"]
    assert [r[f"upload.{i}"] for i in range(3)] == [200, 200, 200]
    got = r["files.retrieve"]
    _file_ok(got, local_server, method="GET")
    assert got["id"] == f0["id"] and got["client"]["id"] == client["id"]
    upd = r["files.update"]
    assert upd["id"] == f0["id"] and upd["name"] == "renamed.mp4" and upd["metadata"] == {"edited": True}

    # share code: 8 digits, for that file, redeemable once for the same bytes
    share = r["files.generate_share_code"]
    assert len(share["code"]) == 8 and share["code"].isdigit()
    assert share["file_id"] == f0["id"]
    assert share["url"] == f"{local_server.base_url}/ugc/file/download?code={share['code']}"
    assert share["expires"] > share["created"]
    assert r["share_code.exchange"] == {"status": 200, "same_bytes": True}

    # takes
    t0, t1, t2 = (r[f"takes.create_singlecam.{i}"] for i in range(3))
    assert t0["id"].startswith("take-") and t0["name"] == "" and t0["metadata"] == {}
    assert t1["name"] == "take 1" and t1["metadata"] == {"i": 1}
    assert [(s["device_label"], s["file"]["id"], s["format"]) for s in t1["sources"]] == [("cam0", f0["id"], "MP4")]
    assert t1["client"]["id"] == client["id"]
    tr = r["takes.retrieve"]
    assert tr["id"] == t0["id"] and tr["sources"][0]["file"]["id"] == f0["id"]
    assert r["takes.update"]["id"] == t0["id"] and r["takes.update"]["name"] == "take renamed"
    assert r["takes.update"]["metadata"] == {"edited": True}
    p1, p2 = r["takes.list.page1"], r["takes.list.page2"]
    assert p1["limit"] == 2 and [t["id"] for t in p1["items"]] == [t2["id"], t1["id"]]  # newest first
    assert p1["next_token"] is not None
    assert [t["id"] for t in p2["items"]][:1] == [t0["id"]]
    assert not {t["id"] for t in p1["items"]} & {t["id"] for t in p2["items"]}
    asc = [t["id"] for t in r["takes.list.asc"]["items"]]
    assert asc.index(t0["id"]) < asc.index(t1["id"]) < asc.index(t2["id"])

    # volumes
    vol = r["volumes.create_human_volume"]
    assert vol["id"].startswith("volume-") and vol["name"] == "" and vol["area_type"] == "NORMAL"
    assert vol["human_height"] == 1.75 and vol["metadata"] == {"room": "studio"}
    assert vol["state"] == "FINISHED" and vol["progress"] == {"state": "FINISHED", "percentage_complete": 100}
    assert [s["device_label"] for s in vol["sources"]] == ["cam1", "cam2"]
    assert vol["clip_window"] is not None and vol["clip_window"]["end_time"] == 2.0
    vr = r["volumes.retrieve_human_volume"]
    assert vr["id"] == vol["id"] and vr["outputs"] == [] and vr["client"]["id"] == client["id"]
    assert [s["file"]["id"] for s in vr["sources"]] == [f1["id"], r["files.create.2"]["id"]]
    assert vol["id"] in [v["id"] for v in r["volumes.list"]["items"]]
    mt = r["takes.create_multicam"]
    assert mt["name"] == "multi" and mt["metadata"] == {"kind": "multi"}
    assert [s["device_label"] for s in mt["sources"]] == ["cam1", "cam2"]
    # (Source.camera_settings stays None in the SDK's model, which reads it by its Python name; the driver
    # asks through the SDK's own gql client instead.)
    assert r["gql.multicam_sources"] == [{"deviceLabel": f"cam{i}", "cameraSettings": {"lens": "iphone-main-wide"}}
                                         for i in (1, 2)]

    # rigs and camera settings
    assert [x["name"] for x in r["rigs.list"]["items"]] == ["move_mo", "move_ve"]
    assert "iphone-main-wide" in [x["lens"] for x in r["camera_settings.list"]["items"]]

    # jobs: created NOT_STARTED, FINISHED at 100 %, outputs as asked, every one downloadable and well-formed
    js, jm = r["jobs.create_singlecam"], r["jobs.create_multicam"]
    for job, take, run in ((js, t0, "single"), (jm, mt, "multi")):
        assert job["id"].startswith("job-") and job["metadata"] == {"run": run} and job["name"] == ""
        assert job["progress"]["state"] == "NOT_STARTED" and job["take"]["id"] == take["id"]
    assert js["inputs"]["clip_window"] is not None and js["inputs"]["number_of_actors"] == 1
    done = {"single": r["jobs.retrieve.single"], "multi": r["jobs.retrieve.multi"]}
    assert done["multi"]["rig"] == {"name": "move_mo"}
    wanted = {"single": {"fbx", "blend", "glb", "usdc", "usdz", "bvh", "json"}, "multi": {"bvh", "json"}}
    for run, job in done.items():
        assert job["state"] == "FINISHED", job
        assert job["progress"] == {"state": "FINISHED", "percentage_complete": 100}
        assert {o["format"] for o in job["outputs"]} == wanted[run]
        for o in job["outputs"]:
            _file_ok(o["file"], local_server, method="GET", ext=f".{o['format']}")
    downloads = r["downloads"]
    assert sorted((d["job"], d["format"]) for d in downloads) == sorted(
        (run, fmt) for run, fmts in wanted.items() for fmt in fmts)
    for d in downloads:
        head = bytes.fromhex(d["head"])
        assert d["status"] == 200 and d["size"] > 100, d
        assert head.startswith(MAGIC[d["format"]]), f"{d['job']} {d['format']} output starts with {head!r}"
        assert d["file_type"] == f".{d['format']}"
    assert r["polls"] >= 2
    l1, l2 = r["jobs.list.page1"], r["jobs.list.page2"]
    assert [j["id"] for j in l1["items"]] == [jm["id"]] and [j["id"] for j in l2["items"]] == [js["id"]]
    assert l2["next_token"] is None
    assert [j["id"] for j in r["jobs.list.by_take"]["items"]] == [js["id"]]
    ju = r["jobs.update"]
    assert ju["id"] == js["id"] and ju["name"] == "renamed job" and ju["metadata"] == {"edited": True}

    # webhooks: upsert creates, a second upsert on the same uid updates (the secret is kept when none is given)
    w1, w2 = r["webhooks.upsert.create"], r["webhooks.upsert.update"]
    assert (w1["uid"], w1["url"], w1["description"], w1["events"]) == (
        "conformance-hook", "https://example.com/hook", "first", ["ugc.job.state.completed"])
    assert (w2["uid"], w2["url"], w2["description"]) == ("conformance-hook", "https://example.com/hook2", "")
    assert w2["events"] == ["ugc.job.state.completed", "ugc.job.state.failed"]
    assert r["webhooks.secrets"] == ["whsec_conformance", "whsec_conformance"]
