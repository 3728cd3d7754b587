"""``blender -c move_mocap ...``: the command the extension registers with ``bpy.utils.register_cli_command``.

There is no Blender binary here (the bpy module), so the tests do what Blender does with ``-c``: they take the
function the add-on handed to ``register_cli_command`` when it was enabled (the real registration runs; the
test only watches it) and call it with an argument list, in this process, against the real local engine.
What is checked comes from outside the command: the server's own database (volumes, takes, jobs and what they
were asked), the scene the command left behind, exit codes and the JSON report.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.engine.conftest import requires_mediapipe  # noqa: F401  (the gate of every test running BlazePose)
from tests.hostile.server import API_KEY as HOSTILE_KEY
from tests.hostile.server import Behaviour, HostileServer

SLOW = os.environ.get("MOVE_MOCAP_SLOW") == "1"


# ------------------------------------------------------------------------------------------------ helpers


class Registered:
    """What the add-on passed to ``register_cli_command`` / ``unregister_cli_command``."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, Any, Any]] = []  # (id, execute, handle)
        self.unregistered: list[Any] = []

    def execute(self, argv: list[str]) -> int:
        ids = [i for i, _fn, _h in self.registered]
        assert ids[-1:] == ["move_mocap"], ids
        return int(self.registered[-1][1](argv))


@pytest.fixture
def command(addon, monkeypatch) -> Registered:
    """The add-on enabled again with ``bpy.utils.register_cli_command`` watched (the real one still runs)."""
    import bpy

    addon_utils = importlib.import_module("addon_utils")
    seen = Registered()
    real_register, real_unregister = bpy.utils.register_cli_command, bpy.utils.unregister_cli_command

    def register(cid: str, execute: Any) -> Any:
        handle = real_register(cid, execute)
        seen.registered.append((cid, execute, handle))
        return handle

    def unregister(handle: Any) -> None:
        seen.unregistered.append(handle)
        real_unregister(handle)

    monkeypatch.setattr(bpy.utils, "register_cli_command", register)
    monkeypatch.setattr(bpy.utils, "unregister_cli_command", unregister)
    addon_utils.disable("move_mocap", default_set=True)
    seen.unregistered.clear()
    assert addon_utils.enable("move_mocap", default_set=True) is not None
    yield seen
    bpy.ops.wm.read_homefile(use_empty=True)


def env_for(monkeypatch, key: str) -> None:
    monkeypatch.setenv("MOVE_API_KEY", key)


def fast(server: Any, tmp_path: Path) -> list[str]:
    return ["--endpoint", server.url, "--poll-max", "0.3", "--outputs", "MOTION_DATA", "--clip", "0", "1.5",
            "--download-dir", str(tmp_path / "downloads")]


def counts(server: Any) -> dict[str, int]:
    """Volumes, takes and jobs in the server's own database."""
    db = sqlite3.connect(f"file:{server.data_dir / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT kind, COUNT(*) FROM objects GROUP BY kind").fetchall()
    finally:
        db.close()
    got = dict(rows)
    return {k: got.get(k, 0) for k in ("volume", "take", "job")}


def fresh_copy(video: Path, folder: Path, name: str) -> Path:
    """A copy with its own content identity (another path), so no earlier submission in the session matches."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    shutil.copyfile(video, out)
    return out


def armature_hips(obj: Any, bone: str, frames: list[int]) -> np.ndarray:
    import bpy

    out = []
    for f in frames:
        bpy.context.scene.frame_set(f)
        out.append(list(obj.matrix_world @ obj.pose.bones[bone].head))
    return np.array(out)


# ------------------------------------------------------------------------------------------------ registration


def test_the_command_is_registered_with_the_addon_and_unregistered_with_it(command: Registered, capsys) -> None:
    import bpy

    addon_utils = importlib.import_module("addon_utils")
    assert [cid for cid, _fn, _h in command.registered] == ["move_mocap"]
    cid, execute, handle = command.registered[0]
    assert cid.isidentifier() and execute is importlib.import_module("move_mocap.cli").execute
    # disabling the add-on gives the same handle back; enabling it again registers it again, once
    addon_utils.disable("move_mocap", default_set=True)
    assert command.unregistered == [handle]
    assert "move_mocap" not in bpy.context.preferences.addons
    assert addon_utils.enable("move_mocap", default_set=True) is not None
    assert [c for c, _f, _h in command.registered] == ["move_mocap", "move_mocap"]

    # its arguments as `blender -c move_mocap ARGS` passes them: help and usage errors return, never exit
    assert command.execute(["--help"]) == 0
    out = capsys.readouterr().out
    assert "blender -c move_mocap" in out and "exit codes" in out and "share-code" in out
    assert command.execute(["process", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--cameras", "--volume-video", "--volume", "--human-height", "--sync-method", "--clap-window",
                 "--lens", "--actors", "--target", "--save"):
        assert flag in out, flag
    assert "--addon" not in out  # the wrapper's flag only
    assert command.execute(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ commands


def test_process_status_list_and_apply(command: Registered, local_server, monkeypatch, tmp_path: Path,
                                       demo_video: Path, capsys) -> None:
    import bpy

    env_for(monkeypatch, local_server.api_key)
    video = fresh_copy(demo_video, tmp_path / "takes", "walk.mp4")
    rep = tmp_path / "p.json"
    before = counts(local_server)
    assert command.execute(["process", str(video), *fast(local_server, tmp_path), "--report", str(rep)]) == 0
    doc = json.loads(rep.read_text())
    item = doc["items"][0]
    assert doc["status"] == "success" and item["outcome"] == "applied" and item["created_new"]
    assert doc["addon"] == {"package": "move_mocap", "source": "repo"}
    assert counts(local_server)["job"] == before["job"] + 1
    arm = bpy.data.objects["walk"]
    assert arm.type == "ARMATURE" and arm.animation_data.action.name == "walk"
    capsys.readouterr()

    # the same command again: skipped, nothing new on the server
    assert command.execute(["process", str(video), *fast(local_server, tmp_path), "--report", str(rep)]) == 0
    assert json.loads(rep.read_text())["items"][0]["outcome"] == "skipped"
    assert counts(local_server)["job"] == before["job"] + 1

    # status, through the command table like every command: the journal's row and the server's job
    assert command.execute(["status", item["job_id"], "--endpoint", local_server.url, "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["command"] == "status" and st["server_job"]["state"] == "FINISHED"
    assert st["items"][0]["submission_id"] == item["submission_id"] and st["items"][0]["outcome"] == "found"
    assert command.execute(["status", "job-00000000-0000-0000-0000-000000000000", "--endpoint",
                            local_server.url]) == 1
    assert "not in the journal" in capsys.readouterr().err

    # list: the journal and the server's jobs
    assert command.execute(["list", "--endpoint", local_server.url, "--json"]) == 0
    li = json.loads(capsys.readouterr().out)
    assert item["job_id"] in [r["job_id"] for r in li["journal"]]
    assert item["job_id"] in [j["id"] for j in li["server_jobs"]]

    # apply the job again onto another armature (a new one) under another action name
    assert command.execute(["apply", item["job_id"], "--endpoint", local_server.url, "--action-name",
                            "walk_again", "--report", str(rep)]) == 0
    ap = json.loads(rep.read_text())["items"][0]
    assert ap["outcome"] == "applied" and ap["action"] == "walk_again" and ap["armature"] != "walk"
    assert bpy.data.objects[ap["armature"]].animation_data.action.name == "walk_again"
    assert counts(local_server)["job"] == before["job"] + 1  # applied from the download, no new job
    # a rig that is not in the file: bad usage, named
    assert command.execute(["apply", item["job_id"], "--target", "Villain", "--endpoint", local_server.url]) == 2
    assert "Villain" in capsys.readouterr().err


def test_multi_camera_volume_take_and_job_then_the_volume_reused(command: Registered, local_server, monkeypatch,
                                                                 tmp_path: Path, pose2sim_single: Path,
                                                                 capsys) -> None:
    env_for(monkeypatch, local_server.api_key)
    cams = [fresh_copy(p, tmp_path / "shoot", p.name) for p in sorted((pose2sim_single / "videos").glob("cam0*.mp4"))]
    assert len(cams) == 4
    toml = pose2sim_single / "calibration" / "Calib_qualisys.toml"
    base = fast(local_server, tmp_path)
    before = counts(local_server)

    # usage errors name the problem, before anything reaches the server
    bad = [
        (["--cameras", str(cams[0])], "two videos or more"),
        (["--cameras", *map(str, cams), "--volume-video", *map(str, cams[:2])], "one video per camera"),
        (["--cameras", *map(str, cams), "--volume", "vol-1", "--volume-video", *map(str, cams)], "give one"),
        (["--cameras", *map(str, cams), "--sync-method", "clap"], "--clap-window"),
        (["--cameras", *map(str, cams), "--clap-window", "0", "1"], "--sync-method clap"),
        (["--cameras", *map(str, cams), "--lens", "a", "b"], "one per camera"),
        (["--cameras", *map(str, cams), "--model", "S2"], "not a multi-camera model"),
        ([str(cams[0]), "--actors", "2"], "--actors"),
        ([str(cams[0]), "--volume", "vol-1"], "--volume"),
        ([str(cams[0]), "--human-height", "1.8"], "--human-height"),
        ([str(cams[0]), "--multi-camera"], "is not a folder"),
        ([str(cams[0]), "--cameras", *map(str, cams)], "not both"),
        (["--cameras", *map(str, cams), "--volume", "../../etc"], "Not a volume id"),
        (["--cameras", *map(str, cams), "--calibration", str(cams[0])], "a Pose2Sim .toml or a Qualisys .qca.txt"),
        (["--cameras", *map(str, cams), "--calibration", str(tmp_path / "none.toml")], "file not found"),
        (["--cameras", *map(str, cams), "--calibration", str(toml), "--volume", "vol-1"], "give one"),
        ([str(cams[0]), "--calibration", str(toml)], "--calibration"),
    ]
    for args, message in bad:
        code = command.execute(["process", *args, *base])
        err = capsys.readouterr().err
        assert code == 2 and message in err, (args, code, err)
    assert counts(local_server) == before

    # a lens the server does not list: named, with the ones it does (listCameraSettings)
    assert command.execute(["process", "--cameras", *map(str, cams), "--lens", "nikon-50mm", *base]) == 2
    err = capsys.readouterr().err
    assert "--lens nikon-50mm: not a lens this server knows" in err and "iphone-main-wide" in err
    assert counts(local_server) == before

    # a volume from the people in the videos (the replay solver's volume is ready at once), then the take and job
    rep = tmp_path / "m.json"
    args = ["process", "--cameras", *map(str, cams), "--human-height", "1.70", "--actors", "2", "--lens",
            "iphone-main-wide", "--sync-method", "clap", "--clap-window", "0.5", "1.5", *base, "--report", str(rep)]
    assert command.execute(args) == 0, capsys.readouterr().err
    item = json.loads(rep.read_text())["items"][0]
    assert item["outcome"] == "applied" and item["volume_id"] and len(item["file_ids"]) == 4
    assert counts(local_server) == {"volume": before["volume"] + 1, "take": before["take"] + 1,
                                    "job": before["job"] + 1}
    q = ("query($v: ID!, $t: ID!, $j: ID!) { getVolume(id: $v) { ... on HumanVolume { humanHeight areaType "
         "sources { deviceLabel cameraSettings { lens } } } } "
         "getTake(takeId: $t) { takeType sources { deviceLabel cameraSettings { lens } } "
         "syncMethod { clapWindow { startTime endTime } } } "
         "getJob(jobId: $j) { inputs { numberOfActors } } }")
    got = local_server.graphql(q, {"v": item["volume_id"], "t": item["take_id"], "j": item["job_id"]})["data"]
    assert got["getVolume"]["humanHeight"] == pytest.approx(1.70) and got["getVolume"]["areaType"] == "NORMAL"
    assert [s["deviceLabel"] for s in got["getTake"]["sources"]] == ["cam01", "cam02", "cam03", "cam04"]
    assert {s["cameraSettings"]["lens"] for s in got["getTake"]["sources"]} == {"iphone-main-wide"}
    assert got["getTake"]["takeType"] == "MULTI_CAM"
    assert got["getTake"]["syncMethod"]["clapWindow"] == {"startTime": 0.5, "endTime": 1.5}
    assert got["getJob"]["inputs"]["numberOfActors"] == 2

    # the same cameras with that volume: a new take and job, no new volume, no calibration footage sent
    args = ["process", "--cameras", *map(str, cams), "--volume", item["volume_id"], "--sync-method", "timecode",
            *base[:-5], "--clip", "0", "1.0", *base[-2:], "--report", str(rep)]
    assert command.execute(args) == 0, capsys.readouterr().err
    again = json.loads(rep.read_text())["items"][0]
    assert again["created_new"] and again["volume_id"] == item["volume_id"] and again["job_id"] != item["job_id"]
    assert len(again["file_ids"]) == 4
    take = local_server.graphql("query($t: ID!) { getTake(takeId: $t) { syncMethod { timecodeSync { useTimecode } "
                                "clapWindow { startTime } } } }", {"t": again["take_id"]})["data"]["getTake"]
    assert take["syncMethod"] == {"timecodeSync": {"useTimecode": True}, "clapWindow": None}
    assert counts(local_server) == {"volume": before["volume"] + 1, "take": before["take"] + 2,
                                    "job": before["job"] + 2}
    # the cameras' own calibration (Pose2Sim's .toml) as the volume: sent as one more source, read by the engine
    args = ["process", "--cameras", *map(str, cams), "--calibration", str(toml), *base, "--report", str(rep)]
    assert command.execute(args) == 0, capsys.readouterr().err
    filed = json.loads(rep.read_text())["items"][0]
    assert filed["outcome"] == "applied" and filed["volume_id"] not in (item["volume_id"], None)
    vol = local_server.graphql('query($v: ID!) { getVolume(id: $v) { ... on HumanVolume { state metadata '
                               'sources { deviceLabel } } } }', {"v": filed["volume_id"]})["data"]["getVolume"]
    assert [s["deviceLabel"] for s in vol["sources"]] == ["cam01", "cam02", "cam03", "cam04", "calibration"]
    cal = json.loads(vol["metadata"])["calibration"]
    assert vol["state"] == "FINISHED" and cal["method"] == "file" and cal["cameras"] == ["cam01", "cam02", "cam03",
                                                                                           "cam04"], vol
    assert counts(local_server) == {"volume": before["volume"] + 2, "take": before["take"] + 3,
                                    "job": before["job"] + 3}
    # a volume the server does not have: the run fails at the volume stage, saying so
    args = ["process", "--cameras", *map(str, cams), "--volume", "vol-does-not-exist", *base, "--report", str(rep)]
    assert command.execute(args) == 1
    failed = json.loads(rep.read_text())["items"][0]
    assert failed["outcome"] == "failed" and failed["error"]["stage"] == "volume", failed
    assert counts(local_server)["take"] == before["take"] + 3


def _two_actor_outputs(cmu_bvh: Path, out: Path) -> dict[str, bytes]:
    """MOTION_DATA and MAIN_FBX written by the engine's own writers for two actors: CMU 01_03 as actor 1 and
    the same capture two metres to the side, played backwards, as actor 2 (the FBX by Blender's exporter, run
    by this Python's bpy module in a subprocess)."""
    from local_engine.outputs import write_outputs
    from local_engine.solvers import make_solver
    from local_engine.solvers.base import SolveRequest

    (first,) = make_solver("replay", motion=cmu_bvh).solve(
        SolveRequest(cameras=[], work_dir=out, clip_window=(2.0, 3.0))).motions
    second = replace(first, actor=2, rotations=first.rotations[::-1].copy(),
                     hips_positions=first.hips_positions[::-1] + np.array([2.0, 0.0, 0.0]),
                     foot_contacts=None if first.foot_contacts is None else first.foot_contacts[::-1].copy(),
                     metadata=dict(first.metadata))
    files = write_outputs([first, second], out / "files", ["MOTION_DATA", "MAIN_FBX"])
    data = {key: Path(path).read_bytes() for key, path in files.items()}
    assert {"mocap_data", "mocap_data_actor_2"} <= set(json.loads(data["MOTION_DATA"]))  # Move's keys, per actor
    return data


@pytest.mark.parametrize("key", ["MOTION_DATA", "MAIN_FBX"])
def test_apply_each_actor_of_a_two_actor_result(key: str, command: Registered, monkeypatch, tmp_path: Path,
                                                cmu_bvh: Path, capsys) -> None:
    import bpy

    body = _two_actor_outputs(cmu_bvh, tmp_path / "engine")[key]
    env_for(monkeypatch, HOSTILE_KEY)
    name = {"MOTION_DATA": "motion_data.json", "MAIN_FBX": "main.fbx"}[key]
    behaviour = Behaviour(outputs=[{"key": key, "format": name.rsplit(".", 1)[1], "name": name}],
                          states=["FINISHED"])
    with HostileServer(behaviour, output_body=body) as server:
        server.jobs.append({"id": "job-two-actors", "metadata": None, "take": "take-1", "polls": 0})
        common = ["--endpoint", server.url, "--poll-max", "0.3", "--download-dir", str(tmp_path / "dl")]
        hips = {}
        for actor in (1, 2):
            rep = tmp_path / f"a{actor}.json"
            code = command.execute(["apply", "job-two-actors", "--actor", str(actor), "--action-name",
                                    f"actor{actor}", *common, "--report", str(rep)])
            assert code == 0, capsys.readouterr().err
            item = json.loads(rep.read_text())["items"][0]
            assert item["outcome"] == "applied" and item["action"] == f"actor{actor}"
            arm = bpy.data.objects[item["armature"]]
            assert f"_{actor}:Hips" in arm.pose.bones and f"_{3 - actor}:Hips" not in arm.pose.bones
            hips[actor] = armature_hips(arm, f"_{actor}:Hips", [1, 20, 40])
        # actor 2 is actor 1 two metres away (and backwards): each applied as itself
        d = np.linalg.norm((hips[2] - hips[1]).mean(axis=0))
        assert 1.5 < d < 2.5, hips
        # without --action-name: the result's title (the first apply named it), and the actor
        rep = tmp_path / "named.json"
        assert command.execute(["apply", "job-two-actors", "--actor", "2", *common, "--report", str(rep)]) == 0
        assert json.loads(rep.read_text())["items"][0]["action"] == "actor1_actor2"
        code = command.execute(["apply", "job-two-actors", "--actor", "3", *common])
        err = capsys.readouterr().err
        assert code == 1 and "Actor 3 is not in" in err and "1, 2" in err, err
        assert server.created["job"] == 0  # nothing created on the server, only downloaded


@pytest.mark.skipif(not SLOW, reason="the real four-camera solve takes minutes: MOVE_MOCAP_SLOW=1 runs it")
@pytest.mark.usefixtures("requires_mediapipe")
def test_multi_camera_calibrated_from_the_person_end_to_end(command: Registered,
                                                             local_server_factory, monkeypatch, tmp_path: Path,
                                                             pose2sim_single: Path, capsys) -> None:
    import bpy

    server = local_server_factory(solver="mediapipe", motion=None)
    env_for(monkeypatch, server.api_key)
    cams = sorted((pose2sim_single / "videos").glob("cam0*.mp4"))
    rep = tmp_path / "r.json"
    args = ["process", "--cameras", *map(str, cams), "--volume-video", *map(str, cams), "--human-height", "1.70",
            "--endpoint", server.url, "--poll-max", "1", "--outputs", "MOTION_DATA",
            "--download-dir", str(tmp_path / "dl"), "--report", str(rep)]
    assert command.execute(args) == 0, capsys.readouterr().err
    item = json.loads(rep.read_text())["items"][0]
    assert item["outcome"] == "applied" and len(item["file_ids"]) == 8  # the take's and the volume's videos
    vol = server.graphql('query($v: ID!) { getVolume(id: $v) { ... on HumanVolume { state metadata } } }',
                         {"v": item["volume_id"]})["data"]["getVolume"]
    meta = json.loads(vol["metadata"]) if isinstance(vol["metadata"], str) else vol["metadata"]
    assert vol["state"] == "FINISHED" and meta["calibration"]["method"] == "person"
    arm = bpy.data.objects[item["armature"]]
    hips = armature_hips(arm, "_1:Hips", [1, 30, 60])
    assert np.ptp(hips, axis=0).max() > 0.05  # the person moves


def test_a_batch_of_multi_camera_takes_shares_one_volume(command: Registered, local_server, monkeypatch,
                                                         tmp_path: Path, pose2sim_single: Path, capsys) -> None:
    env_for(monkeypatch, local_server.api_key)
    views = sorted((pose2sim_single / "videos").glob("cam0*.mp4"))
    takes = [tmp_path / "shoot" / "take_a", tmp_path / "shoot" / "take_b"]
    for folder in takes:
        for p in views:
            fresh_copy(p, folder, p.name)
    volume = [fresh_copy(p, tmp_path / "volume", f"vol_{p.name}") for p in views]
    before = counts(local_server)
    rep = tmp_path / "b.json"
    args = ["process", *map(str, takes), "--multi-camera", "--volume-video", *map(str, volume),
            "--human-height", "1.70", *fast(local_server, tmp_path), "--report", str(rep)]
    assert command.execute(args) == 0, capsys.readouterr().err
    items = json.loads(rep.read_text())["items"]
    assert [i["name"] for i in items] == ["take_a", "take_b"] and {i["outcome"] for i in items} == {"applied"}
    assert items[0]["volume_id"] and items[1]["volume_id"] == items[0]["volume_id"]
    assert len(items[0]["file_ids"]) == 8 and len(items[1]["file_ids"]) == 4  # the volume's videos sent once
    assert counts(local_server) == {"volume": before["volume"] + 1, "take": before["take"] + 2,
                                    "job": before["job"] + 2}
    # the same command again: both already applied, nothing new anywhere
    assert command.execute(args) == 0, capsys.readouterr().err
    assert [i["outcome"] for i in json.loads(rep.read_text())["items"]] == ["skipped", "skipped"]
    assert counts(local_server) == {"volume": before["volume"] + 1, "take": before["take"] + 2,
                                    "job": before["job"] + 2}


def test_a_calibration_file_is_refused_for_moves_cloud(command: Registered, local_server, monkeypatch,
                                                       tmp_path: Path, pose2sim_single: Path, capsys) -> None:
    """Move's cloud cannot read a calibration file: ``--calibration`` with its endpoint is a usage error naming
    the fix, before anything is read, journaled or sent; the same flags with the local engine's endpoint pass
    (the whole run with the file: test_multi_camera_volume_take_and_job_then_the_volume_reused)."""
    from move_mocap.core.endpoints import DEFAULT_ENDPOINT
    from move_mocap.core.pipeline import Journal

    env_for(monkeypatch, local_server.api_key)
    cams = [str(p) for p in sorted((pose2sim_single / "videos").glob("cam0*.mp4"))[:2]]
    toml = str(pose2sim_single / "calibration" / "Calib_qualisys.toml")
    base = fast(local_server, tmp_path)
    cloud = [*base[:1], DEFAULT_ENDPOINT, *base[2:]]  # the same run, on Move's cloud
    journal = tmp_path / "user" / "journal.sqlite3"
    monkeypatch.setenv("MOVE_MOCAP_USER_DIR", str(tmp_path / "user"))
    for calibration in (toml, str(tmp_path / "missing.toml")):  # the server is refused before the file is read
        code = command.execute(["process", "--cameras", *cams, "--calibration", calibration, *cloud])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "--calibration: A calibration file is read only by the local engine on this computer" in err, err
        assert "Move's cloud cannot read it" in err and "--endpoint" in err and "leave out --calibration" in err
    if journal.exists():  # the session may have opened it: nothing journaled
        held = Journal(journal)
        try:
            assert not held.all()
        finally:
            held.close()
    # the local engine's endpoint: past the check (a missing file is then the problem named)
    code = command.execute(["process", "--cameras", *cams, "--calibration", str(tmp_path / "missing.toml"), *base])
    err = capsys.readouterr().err
    assert code == 2 and "file not found" in err and "read only by the local engine" not in err, err
