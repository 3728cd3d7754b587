"""scripts/mocap.py as a pipeline TD runs it: a subprocess with the bpy module against the real local server.

What is checked comes from outside the script: the server's own database (files, takes, jobs created), the
saved .blend re-opened in another process (armatures, actions, keys that move), the raw bytes of that .blend
(no API key, no URL signature), exit codes and the JSON report.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "mocap.py"

INSPECT = r"""
import json, sys
import bpy
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])

def fcurves(action):
    layers = getattr(action, "layers", None)
    if layers is not None and len(layers):
        return [fc for layer in layers for strip in layer.strips for bag in strip.channelbags for fc in bag.fcurves]
    return list(action.fcurves)

out = {}
for obj in bpy.data.objects:
    if obj.type != "ARMATURE":
        continue
    action = obj.animation_data.action if obj.animation_data else None
    doc = {"action": action.name if action else None, "bones": [b.name for b in obj.data.bones]}
    if action is not None:
        curves = fcurves(action)
        doc["fcurves"] = len(curves)
        doc["keys"] = max((len(fc.keyframe_points) for fc in curves), default=0)
        doc["bones_keyed"] = sorted({fc.data_path.split('"')[1] for fc in curves if fc.data_path.startswith("pose.bones")})
        doc["object_keyed"] = sorted({fc.data_path for fc in curves if not fc.data_path.startswith("pose.bones")})
        spans = []
        for fc in curves:
            values = [k.co[1] for k in fc.keyframe_points]
            if values:
                spans.append(max(values) - min(values))
        doc["max_span"] = max(spans, default=0.0)
    out[obj.name] = doc
out_actions = sorted(a.name for a in bpy.data.actions)
print("INSPECT" + json.dumps({"armatures": out, "actions": out_actions}))
"""

MIXAMO_BLEND = r"""
import sys
sys.path.insert(0, sys.argv[2])
import bpy
bpy.ops.wm.read_homefile(use_empty=True)
from tests.retarget.rigs import build_named_rig
build_named_rig("mixamo", "Hero")
if bpy.context.object and bpy.context.object.mode != "OBJECT":
    bpy.ops.object.mode_set(mode="OBJECT")
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
"""


# ------------------------------------------------------------------------------------------------ helpers


@pytest.fixture
def env(tmp_path: Path, local_server) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("MOVE_API_KEY", "MOVE_MOCAP_USER_DIR")}
    e["MOVE_MOCAP_USER_DIR"] = str(tmp_path / "user")
    e["MOVE_API_KEY"] = local_server.api_key
    return e


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def fast(server: Any) -> list[str]:
    return ["--endpoint", server.url, "--poll-max", "0.3", "--outputs", "MOTION_DATA", "--clip", "0", "1.5"]


def report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def server_counts(server: Any) -> dict[str, int]:
    """Uploaded files (the add-on tags them; job outputs are files too), takes and jobs the server holds,
    from its own database."""
    db = sqlite3.connect(f"file:{server.data_dir / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT kind, data FROM objects").fetchall()
    finally:
        db.close()
    out = {"file": 0, "take": 0, "job": 0}
    for kind, data in rows:
        if kind == "file" and "move_mocap_submission" not in data:
            continue
        if kind in out:
            out[kind] += 1
    return out


def inspect_blend(path: Path, cwd: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", INSPECT, str(path)], capture_output=True, text=True, cwd=cwd,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("INSPECT"))
    return json.loads(line[len("INSPECT"):])


def assert_no_secrets(server: Any, *texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        assert server.api_key.encode() not in data
        assert b"X-Move-Signature" not in data and b"Signature=" not in data


def by_name(rep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in rep["items"]}


# ------------------------------------------------------------------------------------------------ usage


def test_help_documents_commands_exit_codes_and_examples(tmp_path: Path) -> None:
    proc = run(["--help"], dict(os.environ), tmp_path)
    assert proc.returncode == 0
    for word in ("process", "status", "list", "download", "apply", "share-code", "exit codes", "MOVE_API_KEY",
                 "partial failure", "examples:", "blender -b"):
        assert word in proc.stdout, word
    sub = run(["process", "--help"], dict(os.environ), tmp_path)
    assert sub.returncode == 0
    for flag in ("--jobs", "--model", "--fingers", "--ball", "--floor-plane", "--outputs", "--clip", "--target",
                 "--root-motion", "--save", "--report", "--endpoint", "--api-key-file", "--addon"):
        assert flag in sub.stdout, flag
    assert "--api-key " not in sub.stdout  # no command-line key


def test_bad_usage_exits_2_with_the_reason_on_stderr(tmp_path: Path, local_server, env, demo_video) -> None:
    cases = [
        (["process"], "give the videos to process"),  # videos, or --cameras
        (["frobnicate"], "invalid choice"),
        (["process", str(demo_video), "--jobs", "0"], "--jobs"),
        (["process", str(tmp_path / "missing.mp4"), *fast(local_server)], "no such file or folder"),
        (["process", str(demo_video), "--target", "Nobody", *fast(local_server)], "no armature"),
        (["process", str(demo_video), *fast(local_server)[:-3], "--clip", "3", "1"], "--clip"),
        (["process", str(demo_video), *fast(local_server), "--outputs", "main_fbx,MAIN_OBJ"],
         "unknown output MAIN_OBJ"),
        (["process", str(demo_video), *fast(local_server), "--translation-scale", "-1"],
         "translation_scale must be a number, 0 or more"),
        (["share-code", "1234", "--endpoint", local_server.url], "8 digits"),
    ]
    for args, message in cases:
        proc = run([*args, "--report", str(tmp_path / "r.json")] if len(args) > 1 else args, env, tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "usage:" in proc.stderr
    # usage problems found after parsing are in the report too; nothing reached the server
    rep = report(tmp_path / "r.json")
    assert rep["exit_code"] == 2 and rep["status"] == "usage" and "8 digits" in rep["error"]
    assert server_counts(local_server) == {"file": 0, "take": 0, "job": 0}


def test_no_api_key_and_unreachable_server_are_failures(tmp_path: Path, local_server, env, demo_video) -> None:
    no_key = {k: v for k, v in env.items() if k != "MOVE_API_KEY"}
    proc = run(["process", str(demo_video), *fast(local_server)], no_key, tmp_path)
    assert proc.returncode == 1 and "No API key" in proc.stderr
    # wrong key from a file: the server refuses; the key is not echoed anywhere
    key_file = tmp_path / "key.txt"
    key_file.write_text("wrong-key-0123456789\n")
    proc = run(["process", str(demo_video), *fast(local_server), "--api-key-file", str(key_file),
                "--report", str(tmp_path / "r.json")], no_key, tmp_path)
    assert proc.returncode == 1, proc.stderr
    rep = report(tmp_path / "r.json")
    assert rep["status"] == "failure" and rep["items"][0]["outcome"] == "failed"
    assert rep["items"][0]["error"]["kind"] == "upload"
    for text in (proc.stderr, (tmp_path / "r.json").read_text()):
        assert "wrong-key-0123456789" not in text


# ------------------------------------------------------------------------------------------------ process


def test_single_video_end_to_end_saves_a_clean_blend(tmp_path: Path, local_server, env, demo_video) -> None:
    out = tmp_path / "shot.blend"
    rep_path = tmp_path / "report.json"
    proc = run(["process", str(demo_video), *fast(local_server), "--save", str(out), "--report", str(rep_path)],
               env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "demo: applied to demo as action 'demo'" in proc.stderr and "Uploaded" in proc.stderr
    rep = report(rep_path)
    assert rep["status"] == "success" and rep["summary"] == {"total": 1, "succeeded": 1, "failed": 0, "applied": 1}
    assert rep["saved"] == str(out.resolve()) and rep["addon"]["source"] == "repo"
    item = rep["items"][0]
    assert item["outcome"] == "applied" and item["created_new"] and item["stage"] == "applied"
    assert item["job_id"].startswith("job-") and item["take_id"].startswith("take-") and len(item["file_ids"]) == 1
    assert item["error"] is None and item["action"] == "demo" and item["armature"] == "demo"
    stages = item["timings"]["stages"]
    assert list(stages) == ["files", "uploaded", "take", "job", "processed", "downloaded", "applied"]
    assert all(a <= b for a, b in zip(list(stages.values()), list(stages.values())[1:]))
    assert server_counts(local_server) == {"file": 1, "take": 1, "job": 1}
    # the server's job is the one reported, finished, with the clip window asked for
    job = local_server.graphql(
        "query($j: ID!) { getJob(jobId: $j) { id name state inputs { clipWindow { startTime endTime } } } }",
        {"j": item["job_id"]})["data"]["getJob"]
    assert job["state"] == "FINISHED" and job["name"] == "demo"
    assert job["inputs"]["clipWindow"] == {"startTime": 0.0, "endTime": 1.5}
    blend = inspect_blend(out, tmp_path)
    arm = blend["armatures"]["demo"]
    assert arm["action"] == "demo" and arm["keys"] >= 30 and arm["max_span"] > 0.05  # 1.5 s of real motion
    assert_no_secrets(local_server, out.read_bytes(), rep_path.read_text(), proc.stderr, proc.stdout)


def _copies(demo_video: Path, folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n in names:
        p = folder / f"{n}.mp4"
        shutil.copyfile(demo_video, p)
        out.append(p)
    return out


def test_batch_partial_failure_then_reruns_resume_without_new_jobs(tmp_path: Path, local_server, env,
                                                                    demo_video) -> None:
    takes = tmp_path / "takes"
    _copies(demo_video, takes, ["run_a", "run_b", "run_c"])
    (takes / "readme.txt").write_text("not a video: a folder scan skips it")
    notes = tmp_path / "notes.txt"
    notes.write_text("named on the command line: an invalid item")
    out = tmp_path / "batch.blend"
    local_server.set_faults([{"kind": "fail_job", "message": "Nobody is visible in the footage", "count": 1}])
    args = ["process", str(takes), str(notes), *fast(local_server), "--jobs", "2", "--save", str(out)]

    first = run([*args, "--report", str(tmp_path / "r1.json")], env, tmp_path)
    assert first.returncode == 3, first.stderr  # partial
    rep = report(tmp_path / "r1.json")
    assert rep["status"] == "partial" and rep["summary"]["total"] == 4 and rep["summary"]["succeeded"] == 2
    items = by_name(rep)
    assert items["notes"]["outcome"] == "invalid" and "notes.txt" in items["notes"]["error"]["message"]
    assert items["notes"]["submission_id"] is None  # refused before anything was journaled or sent
    failed = [n for n, i in items.items() if i["outcome"] == "failed"]
    assert len(failed) == 1
    bad = items[failed[0]]
    assert bad["error"]["kind"] == "processing" and "Nobody is visible" in bad["error"]["message"]
    assert bad["job_id"] and bad["stage"] == "job"
    assert sorted(n for n, i in items.items() if i["outcome"] == "applied") == sorted(
        {"run_a", "run_b", "run_c"} - {failed[0]})
    assert server_counts(local_server) == {"file": 3, "take": 3, "job": 3}
    blend = inspect_blend(out, tmp_path)
    applied = {n for n, a in blend["armatures"].items() if a["action"]}
    assert applied == {"run_a", "run_b", "run_c"} - {failed[0]}
    assert all(blend["armatures"][n]["action"] == n for n in applied)  # one action per video, named after it

    # the same command on the saved file: done items skipped, the failed one retried on its take
    second = run([*args, "--blend", str(out), "--report", str(tmp_path / "r2.json")], env, tmp_path)
    assert second.returncode == 3, second.stderr  # notes.txt is still not a video
    items2 = by_name(report(tmp_path / "r2.json"))
    assert items2[failed[0]]["outcome"] == "applied" and not items2[failed[0]]["created_new"]
    assert items2[failed[0]]["take_id"] == bad["take_id"] and items2[failed[0]]["job_id"] != bad["job_id"]
    assert {n for n, i in items2.items() if i["outcome"] == "skipped"} == applied
    assert all(i["submission_id"] == items[n]["submission_id"] for n, i in items2.items() if n != "notes")
    assert server_counts(local_server) == {"file": 3, "take": 3, "job": 4}  # only the failed job again

    # and once more: nothing new on the server, everything skipped
    third = run([str(a) for a in args[:1]] + [str(takes), *fast(local_server), "--jobs", "2", "--blend", str(out),
                                                "--report", str(tmp_path / "r3.json")], env, tmp_path)
    assert third.returncode == 0, third.stderr
    rep3 = report(tmp_path / "r3.json")
    assert [i["outcome"] for i in rep3["items"]] == ["skipped"] * 3
    assert server_counts(local_server) == {"file": 3, "take": 3, "job": 4}
    # other settings for the same video are another job
    fourth = run(["process", str(takes / "run_a.mp4"), *fast(local_server)[:-2], "0", "1.0",
                  "--report", str(tmp_path / "r4.json")], env, tmp_path)
    assert fourth.returncode == 0, fourth.stderr
    assert report(tmp_path / "r4.json")["items"][0]["created_new"]
    assert server_counts(local_server) == {"file": 4, "take": 4, "job": 5}


def test_an_interrupted_run_resumes_on_the_same_job(tmp_path: Path, local_server, env, demo_video) -> None:
    # the job stays unfinished past --timeout (slow polls): the run stops, the next one resumes it
    local_server.set_faults([{"route": "graphql", "kind": "slow", "delay": 1.5, "operation": "getJob",
                              "count": -1}])
    args = ["process", str(demo_video), *fast(local_server)]
    first = run([*args, "--timeout", "1", "--report", str(tmp_path / "r1.json")], env, tmp_path)
    assert first.returncode == 1, first.stderr
    item = report(tmp_path / "r1.json")["items"][0]
    assert item["outcome"] == "timeout" and item["state"] == "active" and item["error"]["kind"] == "timeout"
    local_server.clear_faults()
    second = run([*args, "--report", str(tmp_path / "r2.json")], env, tmp_path)
    assert second.returncode == 0, second.stderr
    item2 = report(tmp_path / "r2.json")["items"][0]
    assert item2["outcome"] == "applied" and item2["submission_id"] == item["submission_id"]
    assert not item2["created_new"] and "resuming" in second.stderr
    assert server_counts(local_server) == {"file": 1, "take": 1, "job": 1}


# ------------------------------------------------------------------------------------------------ jobs


def test_status_list_download_apply_and_share_code(tmp_path: Path, local_server, env, demo_video) -> None:
    first = run(["process", str(demo_video), *fast(local_server), "--report", str(tmp_path / "p.json")], env,
                tmp_path)
    assert first.returncode == 0, first.stderr
    done = report(tmp_path / "p.json")["items"][0]
    job_id, sid = done["job_id"], done["submission_id"]
    common = ["--endpoint", local_server.url, "--poll-max", "0.3"]

    # status: by job id (server + journal) and by submission id; unknown ids fail
    st = run(["status", job_id, *common, "--json"], env, tmp_path)
    assert st.returncode == 0, st.stderr
    doc = json.loads(st.stdout)
    assert doc["server_job"]["state"] == "FINISHED" and doc["server_job"]["submission"] == sid
    assert doc["items"][0]["submission_id"] == sid and doc["items"][0]["stage"] == "applied"
    st = run(["status", sid[:8], *common], env, tmp_path)  # the short id progress lines print
    assert st.returncode == 0 and job_id in st.stdout and "FINISHED" in st.stdout
    st = run(["status", "job-00000000-0000-0000-0000-000000000000", *common], env, tmp_path)
    assert st.returncode == 1 and "not in the journal" in st.stderr

    # list: the journal and the server's jobs
    li = run(["list", *common, "--json"], env, tmp_path)
    assert li.returncode == 0, li.stderr
    doc = json.loads(li.stdout)
    assert [r["job_id"] for r in doc["journal"]] == [job_id]
    assert [j["id"] for j in doc["server_jobs"]] == [job_id]

    # download into a folder
    dl = run(["download", job_id, *common, "--to", str(tmp_path / "outs"), "--report", str(tmp_path / "d.json")],
             env, tmp_path)
    assert dl.returncode == 0, dl.stderr
    got = tmp_path / "outs" / job_id / "motion_data.json"
    assert got.is_file() and f"MOTION_DATA\t{got}" in dl.stdout
    assert got.read_bytes() == Path(done["outputs"]["MOTION_DATA"]).read_bytes()

    # apply the job onto a Mixamo-named rig on "another machine" (empty journal: downloaded again)
    rig = tmp_path / "rig.blend"
    proc = subprocess.run([sys.executable, "-c", MIXAMO_BLEND, str(rig), str(ROOT)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    other = {**env, "MOVE_MOCAP_USER_DIR": str(tmp_path / "other-user")}
    out = tmp_path / "hero.blend"
    ap = run(["apply", job_id, *common, "--blend", str(rig), "--target", "Hero", "--save", str(out),
              "--root-motion", "OBJECT", "--root-rotation", "--report", str(tmp_path / "a.json")], other, tmp_path)
    assert ap.returncode == 0, ap.stderr
    item = report(tmp_path / "a.json")["items"][0]
    assert item["kind"] == "adopted" and item["job_id"] == job_id and item["armature"] == "Hero"
    blend = inspect_blend(out, tmp_path)
    hero = blend["armatures"]["Hero"]
    assert hero["action"] == item["action"] and hero["max_span"] > 0.05
    assert "mixamorig:Hips" in hero["bones_keyed"] and "mixamorig:LeftUpLeg" in hero["bones_keyed"]
    assert {"location", "rotation_euler"} <= set(hero["object_keyed"])  # root motion and turn on the object
    assert set(blend["armatures"]) == {"Hero"}  # the Move armature is not kept
    assert server_counts(local_server) == {"file": 1, "take": 1, "job": 1}
    assert_no_secrets(local_server, out.read_bytes())
    # onto a rig that is not in the file: bad usage
    ap = run(["apply", job_id, *common, "--blend", str(rig), "--target", "Villain"], other, tmp_path)
    assert ap.returncode == 2 and "Villain" in ap.stderr and "Hero" in ap.stderr

    # a Move One share code: a new armature; a used code fails
    outputs = local_server.graphql("query($j: ID!) { getJob(jobId: $j) { outputs { key file { id } } } }",
                                   {"j": job_id})["data"]["getJob"]["outputs"]
    code = local_server.graphql("mutation($f: String!) { generateShareCode(fileId: $f) { code } }",
                                {"f": outputs[0]["file"]["id"]})["data"]["generateShareCode"]["code"]
    sc = run(["share-code", code, *common, "--save", str(tmp_path / "shared.blend"),
              "--report", str(tmp_path / "s.json")], env, tmp_path)
    assert sc.returncode == 0, sc.stderr
    rep = report(tmp_path / "s.json")
    assert rep["items"][0]["kind"] == "share" and rep["items"][0]["outcome"] == "applied"
    assert code not in json.dumps(rep) and code not in sc.stderr  # the code is a one-time capability
    blend = inspect_blend(tmp_path / "shared.blend", tmp_path)
    assert [a["max_span"] > 0.05 for a in blend["armatures"].values()] == [True]
    again = run(["share-code", code, *common], env, tmp_path)
    assert again.returncode == 1 and "Download failed" in again.stderr


# ------------------------------------------------------------------------------------------------ the add-on


def _load_script() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("mocap_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)  # the module level imports nothing from Blender
    finally:
        del sys.modules[spec.name]
    return module


def test_arguments_after_double_dash_inside_blender_and_exit_code_rules() -> None:
    m = _load_script()
    blender = ["/opt/blender/blender", "-b", "shot.blend", "--python", "scripts/mocap.py", "--", "list", "--local"]
    assert m.script_argv(blender) == ["list", "--local"]
    assert m.script_argv(["/opt/blender/blender", "-b", "--python", "scripts/mocap.py"]) == []
    assert m.script_argv([str(SCRIPT), "status", "job-1"]) == ["status", "job-1"]
    assert m.script_argv([str(SCRIPT), "--", "status", "job-1"]) == ["status", "job-1"]
    from move_mocap.cli import errors
    from move_mocap.cli.items import Item, exit_code_for

    ok, bad = Item("a", "a", outcome="applied"), Item("b", "b", outcome="failed")
    skipped = Item("c", "c", outcome="skipped")
    assert exit_code_for([ok, skipped]) == 0
    assert exit_code_for([ok, bad]) == 3
    assert exit_code_for([bad]) == 1 and exit_code_for([]) == 1
    assert errors.EXIT_USAGE == 2 and len({errors.EXIT_OK, errors.EXIT_FAILURE, errors.EXIT_USAGE,
                                           errors.EXIT_PARTIAL}) == 4
    assert (m.EXIT_FAILURE, m.EXIT_USAGE) == (errors.EXIT_FAILURE, errors.EXIT_USAGE)  # the wrapper's own


def test_installed_extension_is_found_and_repo_can_be_forced(tmp_path: Path, local_server, env,
                                                              demo_video) -> None:
    # an extension installed in Blender's user_default repository (a copy of this checkout)
    res = tmp_path / "blender-user"
    ext = res / "extensions" / "user_default" / "move_mocap"
    shutil.copytree(ROOT / "move_mocap", ext, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "blender_manifest.toml", ext)
    installed_env = {**env, "BLENDER_USER_RESOURCES": str(res)}
    proc = run(["process", str(demo_video), *fast(local_server), "--report", str(tmp_path / "r.json")],
               installed_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    rep = report(tmp_path / "r.json")
    assert rep["addon"] == {"package": "bl_ext.user_default.move_mocap", "source": "installed"}
    assert rep["items"][0]["outcome"] == "applied"
    # --addon repo: this checkout instead, the same journal (the installed copy is set aside)
    li = run(["list", "--local", "--json", "--addon", "repo"], installed_env, tmp_path)
    assert li.returncode == 0, li.stderr
    doc = json.loads(li.stdout)
    assert doc["addon"] == {"package": "move_mocap", "source": "repo"}
    assert [r["job_id"] for r in doc["journal"]] == [rep["items"][0]["job_id"]]
    # --addon installed where none is installed: bad usage
    empty = {**env, "BLENDER_USER_RESOURCES": str(tmp_path / "empty-user")}
    none = run(["list", "--local", "--addon", "installed"], empty, tmp_path)
    assert none.returncode == 2 and "no move_mocap extension is installed" in none.stderr
