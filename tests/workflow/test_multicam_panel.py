"""Multi-camera through the panel against the real local server (replay solver: its volumes finish at once):
the lenses offered come from the server's listCameraSettings (listed on a worker, kept on the window manager),
the lens of each camera and the clap window reach createMultiCamTake, and a finished volume is reused (no second
volume, no calibration upload); the panel draws each of these states (the others: tests/foundation)."""

from __future__ import annotations

import pytest

from tests.pipeline.helpers import counts, server_objects
from tests.ui_draw import DrawLog, draw_panels
from tests.workflow.conftest import add_footage


def _draw(bpy) -> DrawLog:
    log = draw_panels(bpy.context)
    assert not log.problems, "\n".join(log.problems)
    return log


def _two_cameras(bpy, video):
    props = add_footage(bpy, video, clip=(0.0, 1.0))
    props.camera_mode = "MULTI"
    assert bpy.ops.move_mocap.footage_add(filepath=str(video)) == {"FINISHED"}
    for i, item in enumerate(props.footage):
        item.device_label = f"cam{i + 1:02d}"
    return props


def test_lenses_sync_and_volume_reuse(wired, demo_video) -> None:
    from local_engine.schema import CAMERA_LENSES  # what the server offers, from the server's own code

    bpy, runtime, server = wired
    props = _two_cameras(bpy, demo_video)
    # Switching to Multi-Camera started the listing on a worker; the operator's blocking path waits for it.
    assert bpy.context.window_manager.move_mocap_choices.state == "loading"
    assert bpy.ops.move_mocap.load_capture_choices() == {"FINISHED"}
    choices = bpy.context.window_manager.move_mocap_choices
    assert choices.state == "loaded" and not choices.error, choices.error
    assert sorted(c.name for c in choices.lenses) == sorted(CAMERA_LENSES)
    log = _draw(bpy)
    assert "lens" in log.props and "sync_method" in log.props and "volume_source" in log.props

    props.footage[0].lens, props.footage[1].lens = CAMERA_LENSES[0], CAMERA_LENSES[1]
    props.sync_method, props.clap_start, props.clap_end = "CLAP", 0.2, 0.9
    assert {"clap_start", "clap_end"} <= set(_draw(bpy).props)
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    first = runtime.RUNTIME.journal().all()[0]
    assert first.state.value == "done", (first.error_message, server.log())
    objs = server_objects(server, first.id)
    assert counts(server, first.id) == {"file": 2, "take": 1, "job": 1, "volume": 1}
    take = objs["take"][0]
    assert take["syncMethod"] == {"clapWindow": {"startTime": 0.2, "endTime": 0.9}}, take.get("syncMethod")
    assert [s.get("cameraSettings") for s in take["sources"]] == [{"lens": lens} for lens in CAMERA_LENSES[:2]]
    volume_id = objs["volume"][0]["id"]

    # Reuse that volume: listed as finished, chosen by id; Process makes no volume and uploads only the take.
    assert bpy.ops.move_mocap.load_capture_choices() == {"FINISHED"}
    listed = choices.volumes.get(volume_id)
    assert listed is not None and listed.state == "FINISHED", [(v.name, v.state) for v in choices.volumes]
    props.volume_source = "EXISTING"
    assert not bpy.ops.move_mocap.process.poll()  # no volume picked yet: the poll says so
    props.volume_id = volume_id
    log = _draw(bpy)
    assert any(label.endswith(": finished") or ": finished," in label for label in log.labels), log.labels
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    second = next(r for r in runtime.RUNTIME.journal().all() if r.id != first.id)
    assert second.state.value == "done", second.error_message
    assert second.volume_id == volume_id
    assert counts(server, second.id) == {"file": 2, "take": 1, "job": 1, "volume": 0}
    assert server_objects(server, second.id)["take"][0]["volumeId"] == volume_id


def test_calibration_file_as_the_volume(wired, pose2sim_single, tmp_path) -> None:
    """The cameras' own calibration (Pose2Sim's .toml) in the panel's volume box: Process refuses a file that
    is not one, before anything is sent; with the file, Process uploads it as one more source of the volume, and the engine's volume is made from it."""
    bpy, runtime, server = wired
    videos = sorted((pose2sim_single / "videos").glob("cam0*.mp4"))
    props = add_footage(bpy, videos[0], clip=(0.0, 1.0))
    props.camera_mode = "MULTI"
    assert bpy.ops.move_mocap.footage_add(filepath=str(videos[1])) == {"FINISHED"}
    for i, item in enumerate(props.footage):
        item.device_label = f"cam{i + 1:02d}"
    not_one = tmp_path / "notes.txt"
    not_one.write_text("hello")
    props.calibration_file = str(not_one)
    assert "calibration_file" in _draw(bpy).props
    with pytest.raises(RuntimeError, match=r"notes\.txt is neither a Pose2Sim calibration"):
        bpy.ops.move_mocap.process()
    assert not runtime.RUNTIME.journal().all()
    props.calibration_file = str(pose2sim_single / "calibration" / "Calib_qualisys.toml")
    assert bpy.ops.move_mocap.process() == {"FINISHED"}
    row = runtime.RUNTIME.journal().all()[0]
    assert row.state.value == "done", (row.error_message, server.log())
    objs = server_objects(server, row.id)
    assert counts(server, row.id) == {"file": 3, "take": 1, "job": 1, "volume": 1}
    volume = objs["volume"][0]
    assert [s["deviceLabel"] for s in volume["sources"]] == ["cam01", "cam02", "calibration"]
    cal = volume["calibration"]  # the engine's own record of the volume
    assert volume["state"] == "FINISHED" and cal["method"] == "file", volume
    assert [c["label"] for c in cal["cameras"]] == ["cam01", "cam02"]


def test_calibration_file_refused_for_moves_cloud(wired, pose2sim_single) -> None:
    """Move's cloud cannot read a calibration file: with the cloud as the server the field is greyed out with
    the reason, Process is disabled saying why, and the panel's submission (``build_spec``) is refused by the
    pipeline before anything is journaled or sent; the local engine takes the same file."""
    from move_mocap.capture.network import calibration_file_refused
    from move_mocap.capture.ops import build_spec
    from move_mocap.core.endpoints import DEFAULT_ENDPOINT
    from move_mocap.preferences import get_preferences, settings

    bpy, runtime, _server = wired
    videos = sorted((pose2sim_single / "videos").glob("cam0*.mp4"))
    props = add_footage(bpy, videos[0], clip=(0.0, 1.0))
    props.camera_mode = "MULTI"
    assert bpy.ops.move_mocap.footage_add(filepath=str(videos[1])) == {"FINISHED"}
    props.calibration_file = str(pose2sim_single / "calibration" / "Calib_qualisys.toml")
    assert calibration_file_refused(bpy.context) is None  # the local server: it reads the file
    assert not any("local engine on this computer only" in t for t in _draw(bpy).labels)

    get_preferences(bpy.context).endpoint = DEFAULT_ENDPOINT  # Move's cloud (wired puts the local one back)
    settings(bpy.context)  # the preferences changed: read once, as the first redraw after the change does
    log = _draw(bpy)
    assert "calibration_file" in log.props
    assert "Calibration file: read by the local engine on this computer only" in log.labels, log.labels
    assert "Clear it, or Process On This Computer" in log.labels
    assert not bpy.ops.move_mocap.process.poll()
    with pytest.raises(RuntimeError, match="read only by the local engine on this computer"):
        bpy.ops.move_mocap.process()
    spec = build_spec(bpy.context)
    assert spec.calibration_file and spec.validate() is None  # the file itself is fine: the server is not
    pipeline = runtime.RUNTIME.get_pipeline(bpy.context)
    for submit in (pipeline.submit, pipeline.submit_once):
        with pytest.raises(ValueError, match=r"Move's cloud cannot read it.*Process On This Computer"):
            submit(spec)
    assert not runtime.RUNTIME.journal().all()
    # without the file, the cloud is fine for the rest of the take (Process then waits only on the network rules)
    props.calibration_file = ""
    assert not any("Clear it" in t for t in _draw(bpy).labels)
    assert pipeline.submit_once(build_spec(bpy.context), start=False)[1]
