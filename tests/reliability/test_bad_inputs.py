"""Bad inputs (docs/bad_inputs.md, one test per row): each gets a message naming the problem and the fix, and
nothing the user had is lost (no submission journaled when refused before upload; ids, downloads and actions
kept otherwise; Retry finishes without a duplicate on the server)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from tests.pipeline.helpers import counts, factory, make_pipeline, spec_for
from tests.workflow.conftest import add_footage, armatures

# --------------------------------------------------------------------------------------------- helpers


def _refused(bpy, runtime, server, capfd, expected: str) -> str:
    """Process is refused before anything is sent; returns the message."""
    with pytest.raises(RuntimeError, match=expected) as info:
        bpy.ops.move_mocap.process()
    assert runtime.RUNTIME.journal().all() == []  # nothing journaled
    assert server.fault_report()["requests"].get("upload", 0) == 0  # nothing sent
    return str(info.value)


def _set_video(bpy, path: Path) -> None:
    props = bpy.context.scene.move_mocap
    props.footage.clear()
    add_footage(bpy, path)


def _finish(pipeline, sid, timeout=120):
    return pipeline.wait(sid, timeout=timeout)


# ------------------------------------------------------------------------------------------ footage


def test_missing_video(wired, demo_video, tmp_path, capfd) -> None:
    bpy, runtime, server = wired
    gone = tmp_path / "gone.mp4"
    shutil.copyfile(demo_video, gone)
    add_footage(bpy, gone)
    gone.unlink()
    _refused(bpy, runtime, server, capfd, r"gone\.mp4: file not found at .*add the video again")


def test_zero_byte_video(wired, tmp_path, capfd) -> None:
    bpy, runtime, server = wired
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    add_footage(bpy, empty)
    _refused(bpy, runtime, server, capfd, r"empty\.mp4 is empty \(0 bytes\); copy or export the video again")


def test_non_video_named_mp4(wired, tmp_path, capfd) -> None:
    bpy, runtime, server = wired
    notes = tmp_path / "notes.mp4"
    notes.write_text("shot list: take 1, take 2\n")
    add_footage(bpy, notes)
    _refused(bpy, runtime, server, capfd, r"notes\.mp4 is not an MP4/MOV video \(its content is text\)")
    png = tmp_path / "frame.mov"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    _set_video(bpy, png)
    _refused(bpy, runtime, server, capfd, r"frame\.mov is not an MP4/MOV video \(its content is a PNG image\)")


def test_truncated_video(wired, demo_video, tmp_path, capfd) -> None:
    bpy, runtime, server = wired
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(demo_video.read_bytes()[: demo_video.stat().st_size * 2 // 3])
    add_footage(bpy, cut)
    _refused(bpy, runtime, server, capfd, r"cut\.mp4 is truncated: .*copy or export the video again")
    # an independent decoder agrees: the original decodes every frame its index declares, the cut one not
    av = pytest.importorskip("av")

    def frames(path: Path) -> tuple[int, int]:
        with av.open(str(path)) as container:
            declared = container.streams.video[0].frames
            decoded = 0
            try:
                for _ in container.decode(video=0):
                    decoded += 1
            except av.error.FFmpegError:
                pass
            return decoded, declared

    decoded, declared = frames(demo_video)
    assert decoded == declared > 0
    decoded, declared = frames(cut)
    assert decoded < declared


def test_unsupported_extension(wired, demo_video, tmp_path, capfd) -> None:
    bpy, runtime, server = wired
    mkv = tmp_path / "clip.mkv"
    shutil.copyfile(demo_video, mkv)
    add_footage(bpy, mkv)
    _refused(bpy, runtime, server, capfd, r"clip\.mkv: \.mkv is not a format Move accepts .*convert it to MP4")


def test_path_with_spaces_and_non_ascii(wired, demo_video, tmp_path) -> None:
    bpy, runtime, server = wired
    folder = tmp_path / "my clips" / "été 跳"
    folder.mkdir(parents=True)
    video = folder / "Sprünge – take 1.mp4"
    shutil.copyfile(demo_video, video)
    add_footage(bpy, video)
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    (row,) = runtime.RUNTIME.journal().all()
    assert row.state.value == "done" and row.applied_to
    assert counts(server, row.id) == {"file": 1, "take": 1, "job": 1, "volume": 0}


def test_video_over_the_servers_size_limit(local_server_factory, demo_video, tmp_path) -> None:
    server = local_server_factory(max_upload_bytes=1_000_000)
    pipeline = make_pipeline(server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row = _finish(pipeline, sid)
    assert row.state.value == "failed" and row.error_kind == "upload" and row.error_stage == "uploaded"
    assert "larger than the server accepts (its limit: 1,000,000 bytes)" in row.error_message
    assert "trim it" in row.error_message and "shorter or smaller video" in row.error_hint
    assert counts(server, sid)["file"] == 0 and demo_video.stat().st_size > 1_000_000


# ---------------------------------------------------------------------------------- key, network


def test_missing_api_key(wired, demo_video, monkeypatch) -> None:
    bpy, _runtime, server = wired
    from move_mocap.capture.network import network_problem
    from move_mocap.core.api.client import MoveClient

    monkeypatch.delenv("MOVE_API_KEY")
    add_footage(bpy, demo_video)
    assert not bpy.ops.move_mocap.process.poll()
    assert "No API key: set it in Preferences > Add-ons > Move Mocap" in (network_problem(bpy.context) or "")
    with pytest.raises(Exception, match="No Move API key is set: paste your key"):
        MoveClient(None, endpoint=server.url).get_client()


def test_wrong_api_key(local_server, demo_video, tmp_path) -> None:
    from move_mocap.core.api.client import MoveClient
    from move_mocap.core.pipeline import Journal, Pipeline
    from tests.pipeline.helpers import fast_config

    wrong = "wrong-key-0123456789"
    pipeline = Pipeline(Journal(tmp_path / "j.sqlite3"),
                        lambda sleep=None: MoveClient(wrong, endpoint=local_server.url, **({"sleep": sleep} if sleep else {})),
                        fast_config(local_server.url, tmp_path / "dl"))
    row = _finish(pipeline, pipeline.submit(spec_for(demo_video)))
    assert row.state.value == "failed" and row.error_stage == "files"
    assert "the API key was refused (HTTP 401)" in row.error_message and wrong not in row.error_message
    assert "Check the API key in Preferences" in row.error_hint


def test_revoked_api_key_while_the_job_runs(local_server, demo_video, tmp_path) -> None:
    import threading

    job_created, revoked = threading.Event(), threading.Event()

    def checkpoint(_sid: str, point: str) -> None:  # the worker pauses once the job exists
        if point == "job":
            job_created.set()
            revoked.wait(60)

    pipeline = make_pipeline(local_server, tmp_path, checkpoint=checkpoint)
    sid = pipeline.submit(spec_for(demo_video))
    assert job_created.wait(60)
    local_server.api_key = "rotated-" + local_server.api_key  # the old key is revoked
    local_server.restart()
    revoked.set()
    row = _finish(pipeline, sid)
    assert row.state.value == "failed" and row.error_stage == "processed", row.error_message
    assert "API key was refused" in row.error_message and "Check the API key" in row.error_hint
    assert row.job_id and row.take_id  # nothing lost: the ids are kept
    pipeline.client_factory = factory(local_server)  # the user pastes the new key and presses Retry
    assert pipeline.retry(sid)
    row = _finish(pipeline, sid)
    assert row.state.value == "ready", row.error_message
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}


def test_offline_mode(wired, demo_video) -> None:
    bpy, _runtime, _server = wired
    from move_mocap.capture.network import network_problem
    from move_mocap.preferences import get_preferences

    if bpy.app.online_access:
        pytest.skip("this Blender allows online access")
    add_footage(bpy, demo_video)
    get_preferences().endpoint = "https://api.move.ai/ugc/graphql"
    assert not bpy.ops.move_mocap.process.poll()
    problem = network_problem(bpy.context) or ""
    assert "Online access is off: enable Preferences > System > Network > Allow Online Access" in problem \
        or "--offline-mode" in problem


def test_endpoint_down_then_back(local_server, demo_video, tmp_path) -> None:
    pipeline = make_pipeline(local_server, tmp_path)
    local_server.stop()
    sid = pipeline.submit(spec_for(demo_video))
    row = _finish(pipeline, sid)
    assert row.state.value == "failed" and row.error_stage == "files"
    assert "could not connect" in row.error_message and "check the network connection" in row.error_message
    assert "check the connection and press Retry" in row.error_hint
    local_server.start()
    assert pipeline.retry(sid)
    row = _finish(pipeline, sid)
    assert row.state.value == "ready" and counts(local_server, sid)["take"] == 1


# ------------------------------------------------------------------------------------------- rigs


def _rig(bpy, name: str, bones: list[tuple[str, tuple, tuple, str | None]]):
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    made = {}
    for bname, head, tail, parent in bones:
        b = arm.edit_bones.new(bname)
        b.head, b.tail = head, tail
        if parent:
            b.parent = made[parent]
        made[bname] = b
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def test_no_armature_selected(wired, demo_video, capfd) -> None:
    bpy, runtime, _server = wired
    add_footage(bpy, demo_video)
    bpy.context.view_layer.objects.active = None
    capfd.readouterr()
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    out = "".join(capfd.readouterr())
    assert "No armature selected: the motion goes on a new armature" in out
    (row,) = runtime.RUNTIME.journal().all()
    assert row.state.value == "done" and [a.name for a in armatures(bpy)] == [row.applied_to]


def test_active_object_is_not_an_armature(wired, demo_video, capfd) -> None:
    bpy, runtime, _server = wired
    mesh = bpy.data.meshes.new("Cube")
    cube = bpy.data.objects.new("Cube", mesh)
    bpy.context.scene.collection.objects.link(cube)
    bpy.context.view_layer.objects.active = cube
    add_footage(bpy, demo_video)
    capfd.readouterr()
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    out = "".join(capfd.readouterr())
    assert "The active object 'Cube' is a mesh, not an armature: the motion goes on a new armature" in out
    assert cube.animation_data is None  # untouched
    (row,) = runtime.RUNTIME.journal().all()
    assert row.state.value == "done" and bpy.data.objects[row.applied_to].type == "ARMATURE"


def _process_with(bpy, runtime, video, on_job) -> None:
    """Process the footage; ``on_job()`` runs on the main thread when the job exists (as a user would act)."""
    from move_mocap.core.pipeline import StageChanged

    def hook(event) -> None:
        if isinstance(event, StageChanged) and event.stage == "job":
            on_job()

    add_footage(bpy, video)
    runtime.RUNTIME.on_event = hook
    try:
        assert bpy.ops.move_mocap.process() == {"FINISHED"}
    finally:
        runtime.RUNTIME.on_event = None


def test_target_renamed_while_its_job_runs(wired, demo_video) -> None:
    bpy, runtime, _server = wired
    rig = _make_target(bpy, runtime, demo_video)
    before = rig.animation_data.action

    def rename() -> None:
        rig.name = "Hero_renamed"

    _process_with(bpy, runtime, demo_video, rename)
    row = runtime.RUNTIME.journal().all()[0]
    assert row.state.value == "done" and row.applied_to == "Hero_renamed"
    assert rig.animation_data.action != before and before.name in bpy.data.actions  # old action kept


def test_target_deleted_while_its_job_runs(wired, demo_video, capfd) -> None:
    bpy, runtime, _server = wired
    rig = _make_target(bpy, runtime, demo_video)

    def delete() -> None:
        bpy.data.objects.remove(rig)

    capfd.readouterr()
    _process_with(bpy, runtime, demo_video, delete)
    out = "".join(capfd.readouterr())
    assert "A Move result is ready but the armature 'Hero' it was submitted for is no longer in this file" in out
    assert "the result is kept: apply it from the History onto another armature" in out
    row = runtime.RUNTIME.journal().all()[0]
    assert row.state.value == "ready" and all(Path(p).is_file() for p in row.outputs.values())
    assert armatures(bpy) == []
    assert bpy.ops.move_mocap.apply(submission_id=row.id) == {"FINISHED"}  # the kept result, on a new armature
    assert runtime.RUNTIME.journal().require(row.id).state.value == "done" and len(armatures(bpy)) == 1


def _make_target(bpy, runtime, video):
    """A real armature (the add-on's own output of a first run), named Hero and made the active object."""
    add_footage(bpy, video)
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    rig = armatures(bpy)[0]
    rig.name = "Hero"
    bpy.context.view_layer.objects.active = rig
    bpy.context.scene.move_mocap.footage.clear()
    return rig


def test_rig_with_bones_that_cannot_be_mapped(wired, demo_video) -> None:
    bpy, runtime, _server = wired
    rig = _rig(bpy, "Crane", [("mast", (0, 0, 0), (0, 0, 5), None), ("jib", (0, 0, 5), (4, 0, 5), "mast")])
    keep = bpy.data.actions.new("crane_swing")
    rig.animation_data_create().action = keep
    add_footage(bpy, demo_video)
    with pytest.raises(RuntimeError, match=r"Retargeting onto 'Crane' failed: .*") as info:
        bpy.ops.move_mocap.process()
    message = str(info.value)
    assert "Apply failed" in message and "Pick an armature" in message
    (row,) = runtime.RUNTIME.journal().all()
    assert row.state.value == "failed" and row.error_kind == "apply"
    assert all(Path(p).is_file() for p in row.outputs.values())  # the result is kept
    assert rig.animation_data.action == keep and len(armatures(bpy)) == 1  # the rig as it was


def test_linked_rig_is_refused_before_submitting(wired, demo_video, tmp_path) -> None:
    bpy, runtime, server = wired
    _rig(bpy, "LibRig", [("hips", (0, 0, 1), (0, 0, 1.2), None)])
    lib = tmp_path / "library.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(lib))
    bpy.ops.wm.read_homefile(use_empty=True)
    with bpy.data.libraries.load(str(lib), link=True) as (_src, dst):
        dst.objects = ["LibRig"]
    linked = dst.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    bpy.context.view_layer.objects.active = linked
    assert linked.library is not None
    add_footage(bpy, demo_video)
    with pytest.raises(RuntimeError, match=r"'LibRig' is linked from .*library\.blend.*make a library override"):
        bpy.ops.move_mocap.process()
    assert runtime.RUNTIME.journal().all() == []
    assert server.fault_report()["requests"].get("upload", 0) == 0


# ---------------------------------------------------------------------------------- download folder


def test_download_folder_that_cannot_be_written(wired, demo_video, tmp_path) -> None:
    bpy, runtime, _server = wired
    from move_mocap.preferences import get_preferences

    add_footage(bpy, demo_video)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    get_preferences().download_dir = str(blocker / "downloads")
    with pytest.raises(RuntimeError, match=r"download folder .* cannot be created \(Not a directory\); choose "
                                           r"another Download Folder in Preferences"):
        bpy.ops.move_mocap.process()
    assert runtime.RUNTIME.journal().all() == []
    if os.geteuid() != 0:  # root writes anywhere: the permission case needs an ordinary user
        ro = tmp_path / "read-only"
        ro.mkdir()
        ro.chmod(0o500)
        get_preferences().download_dir = str(ro)
        with pytest.raises(RuntimeError, match=r"download folder .* is not writable \(Permission denied\)"):
            bpy.ops.move_mocap.process()


def test_full_download_folder(local_server, demo_video, tmp_path, monkeypatch) -> None:
    from move_mocap.core.api import transfers

    real_open = open

    class Full:
        def __init__(self, fh) -> None:
            self.fh = fh

        def write(self, data) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.fh.close()

    def full_open(path, mode="r", *a, **kw):
        fh = real_open(path, mode, *a, **kw)
        return Full(fh) if str(path).endswith(".part") and ("w" in mode or "a" in mode) else fh

    monkeypatch.setattr(transfers, "open", full_open, raising=False)
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row = _finish(pipeline, sid)
    assert row.state.value == "failed" and row.error_stage == "downloaded"
    assert "No space left on device; free disk space or choose another folder" in row.error_message
    leftovers = [p.name for p in (tmp_path / "downloads").rglob("*") if p.is_file()]
    assert leftovers == []  # no partial file
    monkeypatch.undo()
    assert pipeline.retry(sid)
    row = _finish(pipeline, sid)
    assert row.state.value == "ready" and counts(local_server, sid)["job"] == 1


# ----------------------------------------------------------------------------------- server answers


@pytest.mark.parametrize(("variant", "expected"), [
    ("bad_json", r"the answer is not JSON .*check that the endpoint URL points at a Move GraphQL API"),
    ("wrong_type", r"does not match the Move API \(Job\): id: .*update move_mocap if the API has changed"),
    ("unknown_enum", r"does not match the Move API \(Job\): progress\.state: .*update move_mocap"),
])
def test_malformed_server_answers(local_server, demo_video, tmp_path, variant, expected) -> None:
    import re

    local_server.set_faults([{"route": "graphql", "kind": "malformed", "variant": variant, "count": -1,
                              "operation": "getJob"}])
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row = _finish(pipeline, sid)
    assert row.state.value == "failed" and row.error_stage == "processed", row.error_message
    assert re.search(expected, row.error_message), row.error_message
    assert row.job_id  # kept: Retry goes on polling the same job
    local_server.clear_faults()
    assert pipeline.retry(sid)
    row = _finish(pipeline, sid)
    assert row.state.value == "ready" and counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}


def test_malformed_answer_to_a_create_is_reconciled(local_server, demo_video, tmp_path) -> None:
    """The job was created but its answer is unreadable: Retry finds it by its tag instead of a second job."""
    local_server.set_faults([{"route": "graphql", "kind": "malformed", "variant": "wrong_type", "count": 1,
                              "operation": "createSingleCamJob"}])
    pipeline = make_pipeline(local_server, tmp_path)
    sid = pipeline.submit(spec_for(demo_video))
    row = _finish(pipeline, sid)
    assert row.state.value == "failed" and row.error_stage == "job" and "does not match the Move API" in row.error_message
    assert pipeline.retry(sid)
    row = _finish(pipeline, sid)
    assert row.state.value == "ready"
    assert counts(local_server, sid) == {"file": 1, "take": 1, "job": 1, "volume": 0}
