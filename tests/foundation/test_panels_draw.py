"""Every ``draw()`` of the add-on runs in each state a user can reach, against Blender's own RNA.

Background Blender cannot draw, so a typo in a panel (a property or operator that does not exist, an icon
Blender does not have, a keyword ``UILayout`` does not take) would break the panel for every user while every
other test passes. ``tests/ui_draw.py`` records each layout call and checks it; these tests drive the states:
no footage, single and multi-camera, every submission state, history with items, local engine off and on,
retarget with a detected mapping, the preferences and the import operator's sidebar.
"""

from __future__ import annotations

import socket
import sys

import bpy
import pytest

from tests.ui_draw import DrawLog, addon_classes, draw_class, draw_panels


def _draw_panels(context=None) -> DrawLog:
    log = draw_panels(context)
    assert len(addon_classes(bpy.types.Panel)) >= 6
    return log


def _assert_clean(log: DrawLog) -> None:
    assert not log.problems, "\n".join(log.problems)


@pytest.fixture
def fresh(addon):
    """A scene with the add-on's defaults, no submissions shown, an empty history; the add-on's folders made
    and its settings read once (as the first poll() does), so each draw is checked for touching nothing."""
    from move_mocap.capture.network import network_problem
    from move_mocap.capture.runtime import RUNTIME
    from move_mocap.engine_control.engine import problem as engine_problem

    bpy.ops.wm.read_homefile(use_empty=True)
    views, notice = dict(RUNTIME.views), RUNTIME.notice
    RUNTIME.views.clear()
    RUNTIME.notice = ""
    bpy.context.window_manager.move_mocap_history.items.clear()
    network_problem(bpy.context)
    engine_problem(bpy.context)
    yield bpy.context
    RUNTIME.views.clear()
    RUNTIME.views.update(views)
    RUNTIME.notice = notice
    bpy.context.window_manager.move_mocap_history.items.clear()


def test_every_panel_and_list_is_found(addon) -> None:
    names = {c.__name__ for c in addon_classes(bpy.types.Panel)} | \
        {c.__name__ for c in addon_classes(bpy.types.UIList)}
    for name in ("MOVE_MOCAP_PT_main", "MOVE_MOCAP_PT_options", "MOVE_MOCAP_PT_history", "MOVE_MOCAP_PT_share",
                 "MOVE_MOCAP_PT_retarget", "MOVE_MOCAP_PT_engine", "MOVE_MOCAP_UL_footage",
                 "MOVE_MOCAP_UL_history", "MOVE_MOCAP_UL_retarget_slots"):
        assert name in names
        assert getattr(bpy.types, name, None) is not None, f"{name} is not registered"


def test_recorder_catches_broken_names(fresh) -> None:
    """The checker itself: each kind of mistake a draw can make is reported."""

    class Broken:
        def draw(self, context):
            p = context.scene.move_mocap
            self.layout.prop(p, "camera_mod")
            self.layout.operator("move_mocap.proces")
            self.layout.label(text="x", icon="NO_SUCH_ICON")
            self.layout.row(alignn=True)
            self.layout.template_list("MOVE_MOCAP_UL_nope", "", p, "footage", p, "footage_index")
            op = self.layout.operator("move_mocap.apply")
            op.submision_id = "x"
            op.use_scene_target = "yes"
            self.layout.use_property_splitt = True
            self.layout.prop_search(p, "take_name", bpy.data, "objectz")

    log = DrawLog()
    draw_class(log, Broken, bpy.context)
    text = "\n".join(log.problems)
    for needle in ("'camera_mod'", "'move_mocap.proces'", "NO_SUCH_ICON", "'alignn'", "MOVE_MOCAP_UL_nope",
                   "'submision_id'", "use_scene_target takes a bool", "use_property_splitt", "'objectz'"):
        assert needle in text, f"{needle} not reported:\n{text}"
    assert len(log.problems) == 9


def test_recorder_catches_file_access_in_draw_and_poll(fresh, tmp_path) -> None:
    """A draw or a poll (the panel's, or a drawn button's operator's) that reads, stats, lists or makes files on
    a redraw is reported."""
    from pathlib import Path

    from tests.ui_draw import poll_panel

    class Looks:
        @classmethod
        def poll(cls, context):
            return Path(tmp_path / "in-poll").exists()  # one stat

        def draw(self, context):
            (tmp_path / "made").mkdir()
            list(Path(tmp_path).iterdir())
            Path(tmp_path / "made").is_dir()

    class ButtonPollReads(bpy.types.Operator):
        bl_idname = "move_mocap.test_poll_reads"
        bl_label = "Reads"

        @classmethod
        def poll(cls, context):
            (tmp_path / "settings.json").write_text("{}")
            return True

    log = DrawLog()
    assert not poll_panel(log, Looks, fresh)
    draw_class(log, Looks, fresh)
    bpy.utils.register_class(ButtonPollReads)
    try:
        class Button:
            def draw(self, context):
                self.layout.operator("move_mocap.test_poll_reads")
        draw_class(log, Button, fresh)
    finally:
        bpy.utils.unregister_class(ButtonPollReads)
    text = "\n".join(log.problems)
    for needle in ("os.stat(" + str(tmp_path / "in-poll"), "os.mkdir", "os.stat(" + str(tmp_path / "made"),
                   "opens a file (" + str(tmp_path / "settings.json")):
        assert needle in text, f"{needle} not reported:\n{text}"
    assert f"os.listdir({tmp_path})" in text or f"os.scandir({tmp_path})" in text, text  # 3.11 / 3.13 iterdir


def test_no_footage_single_camera(fresh) -> None:
    log = _draw_panels()
    _assert_clean(log)
    assert "move_mocap.process" in log.operators
    assert "No armature: a new one is created" in log.labels
    assert "MOVE_MOCAP_UL_footage" in log.lists


def test_multi_camera_with_calibration_footage(fresh) -> None:
    p = fresh.scene.move_mocap
    p.camera_mode = "MULTI"
    p.use_take_for_calibration = False
    for i in range(3):
        item = p.footage.add()
        item.filepath = f"//cam{i + 1:02d}.mp4"
        item.device_label = f"cam{i + 1:02d}"
    p.calibration.add().filepath = "//volume.mp4"
    p.footage_index = 1
    log = _draw_panels()
    _assert_clean(log)
    assert {"device_label", "lens", "human_height", "area_type", "number_of_actors", "model_multi"} <= set(log.props)
    assert log.lists.count("MOVE_MOCAP_UL_footage") == 2


def test_multi_camera_lenses_sync_and_volumes(fresh) -> None:
    """Lenses offered from the server's list (else a free field), the clap window, a volume reused: finished,
    still running, failed with its reason, not listed; the listing under way and its error."""
    p = fresh.scene.move_mocap
    p.camera_mode = "MULTI"
    for i in range(2):
        p.footage.add().filepath = f"//cam{i + 1:02d}.mp4"
    choices = fresh.window_manager.move_mocap_choices
    choices.lenses.clear()
    choices.volumes.clear()
    try:
        log = _draw_panels()
        _assert_clean(log)
        assert "lens" in log.props and "lenses" not in log.props  # no list yet: a free field
        for lens in ("iphone-main-wide", "blackmagic-ursa-4k-24mm"):
            choices.lenses.add().name = lens
        p.sync_method = "CLAP"
        log = _draw_panels()
        _assert_clean(log)
        assert {"lens", "lenses", "clap_start", "clap_end", "human_height", "use_take_for_calibration"} \
            <= set(log.props)
        for vid, state, reason in (("vol-ok", "FINISHED", ""), ("vol-run", "RUNNING", ""),
                                   ("vol-bad", "FAILED", "Too few frames were seen by two cameras at once: film "
                                                         "the person walking through the whole area")):
            item = choices.volumes.add()
            item.name, item.state, item.reason, item.title, item.human_height = vid, state, reason, vid, 1.7
        p.volume_source = "EXISTING"
        seen = {}
        for vid in ("", "vol-ok", "vol-run", "vol-bad", "vol-gone"):
            p.volume_id = vid
            log = _draw_panels()
            _assert_clean(log)
            assert "volumes" in log.props and "human_height" not in log.props
            seen[vid] = log.labels
        assert "vol-ok: finished, 1.70 m person" in seen["vol-ok"]
        assert "Not finished yet: Process waits for it" in seen["vol-run"]
        assert "Too few frames were seen by two cameras at once: film the" in seen["vol-bad"]
        assert "Calibrate a new volume instead" in seen["vol-bad"]
        assert "Not in the server's list (press the refresh button)" in seen["vol-gone"]
        choices.state, choices.error = "loaded", "lenses: the server does not list camera settings"
        assert "lenses: the server does not list camera settings" in _draw_panels().labels
        choices.state = "loading"
        assert "Loading lenses and volumes from the server..." in _draw_panels().labels
    finally:
        choices.state, choices.error = "", ""
        choices.lenses.clear()
        choices.volumes.clear()


def test_actors_of_a_finished_result(fresh) -> None:
    """A finished result that found several people: each actor with its rig picker, who was only seen, the
    job's note, the two apply buttons; drawn under the progress row and under History's selected item."""
    from move_mocap.capture.runtime import RUNTIME, View

    RUNTIME.views["s-two"] = View("s-two", "two people", "downloaded", "ready", 1.0, "Ready to apply",
                                  job_id="job-two")
    found = fresh.window_manager.move_mocap_actors.items
    for person, actor in ((1, 1), (2, 2), (3, 0)):
        item = found.add()
        item.submission_id, item.person, item.actor = "s-two", person, actor
        item.summary = f"visible {person}.0 s, best seen at frame {10 * person}"
        item.use, item.note = actor > 0, "3 actors were asked for; 2 people were seen by two cameras or more"
    hist = fresh.window_manager.move_mocap_history
    entry = hist.items.add()
    entry.submission_id, entry.job_id, entry.title, entry.state, entry.downloaded = "s-two", "job-two", "two", \
        "ready", True
    try:
        for use_second in (True, False):
            found[1].use = use_second
            log = _draw_panels()
            _assert_clean(log)
            assert log.labels.count("People found: 3 (2 captured)") == 2  # the progress row and History
            assert "Person 3: seen, not captured" in log.labels
            assert "visible 2.0 s, best seen at frame 20" in log.labels
            assert {"use", "target"} <= set(log.props)
            assert ("move_mocap.apply_actors", "New Rig per Actor", False) in log.buttons
    finally:
        found.clear()


def test_every_submission_state(fresh) -> None:
    from move_mocap.capture.runtime import RUNTIME, View
    from move_mocap.core.pipeline.model import State

    armature = bpy.data.objects.new("Hero", bpy.data.armatures.new("Hero"))
    fresh.scene.collection.objects.link(armature)
    fresh.view_layer.objects.active = armature
    RUNTIME.notice = "The local engine stopped"
    RUNTIME.notice_level = "WARNING"
    for i, state in enumerate(State):
        RUNTIME.views[f"s{i}"] = View(
            f"s{i}", f"take {state.value}", "job", state.value, 0.4, f"{state.value} text",
            job_id=f"job-{i}" if i % 2 else "", error_message="The server said no. " * 8 if i % 2 else "",
            error_hint="Check the endpoint and try again." if i % 2 else "")
    assert len(RUNTIME.visible_views()) >= len(State) - 1
    log = _draw_panels()
    _assert_clean(log)
    assert {"move_mocap.cancel", "move_mocap.retry", "move_mocap.apply", "move_mocap.dismiss",
            "move_mocap.copy_job_id", "move_mocap.open_output_folder"} <= set(log.operators)
    assert "Using the active armature: Hero" in log.labels
    assert "The local engine stopped" in log.labels


def test_history_with_items(fresh) -> None:
    hist = fresh.window_manager.move_mocap_history
    for i, state in enumerate(("done", "ready", "failed", "cancelled", "running", "not_started", "odd")):
        item = hist.items.add()
        item.job_id = f"job-{i}" if i % 3 else ""
        item.submission_id = f"sub-{i}"
        item.title, item.state, item.detail = f"take {i}", state, "2026-11-29"
        item.local, item.downloaded = bool(i % 2), bool(i % 3)
    hist.error = "History could not be loaded: the server did not answer"
    for index in range(len(hist.items)):
        hist.index = index
        log = _draw_panels()
        _assert_clean(log)
    assert "move_mocap.refresh_history" in log.operators
    assert "MOVE_MOCAP_UL_history" in log.lists


def test_retarget_with_a_detected_mapping(fresh, cmu_bvh) -> None:
    from tests.retarget.rigs import build_named_rig, import_bvh

    source = import_bvh(str(cmu_bvh), "CMU")
    target = build_named_rig("mixamo", "Hero")
    for obj in fresh.scene.objects:
        obj.select_set(obj in (source, target))
    fresh.view_layer.objects.active = target
    assert bpy.ops.move_mocap.retarget_detect() == {"FINISHED"}
    settings = fresh.scene.move_mocap_retarget
    assert len(settings.slots) > 20
    for show_fingers in (False, True):
        settings.show_fingers = show_fingers
        for root_motion in ("HIPS", "OBJECT", "BONE", "IN_PLACE"):
            settings.root_motion = root_motion
            log = _draw_panels()
            _assert_clean(log)
    assert "MOVE_MOCAP_UL_retarget_slots" in log.lists
    assert "move_mocap.retarget" in log.operators


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_engine_off_and_on(fresh, cmu_bvh, monkeypatch) -> None:
    from move_mocap.engine_control import engine as engine_ops
    from move_mocap.preferences import get_preferences

    monkeypatch.delenv("MOVE_API_KEY", raising=False)
    log = _draw_panels()
    _assert_clean(log)
    assert "Local engine stopped" in log.labels
    prefs = get_preferences()
    saved = {k: getattr(prefs, k) for k in ("endpoint", "engine_python", "engine_root", "engine_port",
                                            "engine_solver", "engine_motion", "backend")}
    try:
        prefs.engine_python, prefs.engine_root, prefs.engine_port = sys.executable, "", _free_port()
        prefs.engine_solver, prefs.engine_motion = "replay", str(cmu_bvh)
        prefs.backend = "LOCAL"  # before it starts: Process would start it
        log = _draw_panels()
        _assert_clean(log)
        assert "Starts when you press Process" in log.labels, log.labels
        # Options the local engine cannot honour are greyed out with the reason.
        assert any("does not render preview videos" in label for label in log.labels), log.labels
        assert bpy.ops.move_mocap.engine_start() == {"FINISHED"}
        log = _draw_panels()
        _assert_clean(log)
        assert any("running" in label for label in log.labels), log.labels
    finally:
        engine_ops.stop_engine()
        for k, v in saved.items():
            setattr(prefs, k, v)


@pytest.mark.parametrize("solver", ["mediapipe", "replay"])
@pytest.mark.parametrize("key_from_env", [False, True])
def test_preferences(fresh, monkeypatch, solver, key_from_env) -> None:
    from move_mocap.preferences import MOVE_MOCAP_AddonPreferences, get_preferences

    if key_from_env:
        monkeypatch.setenv("MOVE_API_KEY", "mv-draw-test")
    else:
        monkeypatch.delenv("MOVE_API_KEY", raising=False)
    prefs = get_preferences()
    saved = (prefs.engine_solver, prefs.endpoint)
    try:
        prefs.engine_solver = solver
        prefs.endpoint = "ftp://nowhere" if key_from_env else saved[1]
        log = DrawLog()
        draw_class(log, MOVE_MOCAP_AddonPreferences, fresh, data=prefs)
        _assert_clean(log)
        assert ("engine_motion" in log.props) == (solver == "replay")
        assert "move_mocap.check_api_key" in log.operators
    finally:
        prefs.engine_solver, prefs.endpoint = saved


def test_import_operator_sidebar(fresh) -> None:
    from move_mocap.importers.ops import MOVE_MOCAP_OT_import_output

    rna = bpy.ops.move_mocap.import_output.get_rna_type()
    values = {p.identifier: p.default for p in rna.properties if p.identifier != "rna_type"
              and p.type != "POINTER" and getattr(p, "array_length", 0) == 0}
    for target, root in (("", "HIPS"), ("Hero", "OBJECT")):
        values.update(target=target, retarget_root_motion=root)
        log = DrawLog()
        draw_class(log, MOVE_MOCAP_OT_import_output, fresh, **values)
        _assert_clean(log)
        assert {"kind", "target", "retarget_root_motion"} <= set(log.props)


def test_review_panel_states(fresh) -> None:
    """The Review sub-panel on an armature with a captured action (retarget tagged): without and with the
    action it had before, without and with the imported source armature kept, without and with a footage
    camera; each state drawn, its buttons saying what they will do and their polls agreeing."""
    from move_mocap.retarget import action_io
    from move_mocap.retarget.apply import RETARGET_TAG
    from move_mocap.review.footage import FOR_RIG

    scene, view_layer = fresh.scene, fresh.view_layer
    rig = bpy.data.objects.new("Hero", bpy.data.armatures.new("Hero"))
    scene.collection.objects.link(rig)
    view_layer.objects.active = rig
    capture = bpy.data.actions.new("Hero_take")
    capture[RETARGET_TAG] = "take"
    action_io.assign_action(rig, capture)

    def state() -> dict[str, tuple[str, bool]]:
        log = _draw_panels()
        _assert_clean(log)
        assert {"move_mocap.foot_lock", "move_mocap.smooth"} <= set(log.operators)
        return {op: (text, depress) for op, text, depress in log.buttons if op in (
            "move_mocap.ab_toggle", "move_mocap.source_toggle", "move_mocap.footage_camera")}

    # The capture alone: nothing to compare with yet.
    drawn = state()
    assert drawn["move_mocap.ab_toggle"] == ("A/B: Showing Capture", False)
    assert drawn["move_mocap.source_toggle"] == ("Show Source Armature", False)
    assert drawn["move_mocap.footage_camera"] == ("", False)
    assert bpy.ops.move_mocap.foot_lock.poll() and bpy.ops.move_mocap.footage_camera.poll()
    assert not bpy.ops.move_mocap.ab_toggle.poll() and not bpy.ops.move_mocap.source_toggle.poll()

    # The rig's previous action kept (stashed, as the retarget does): A/B works and flips the label.
    before = bpy.data.actions.new("Hero_before")
    action_io.stash_action(rig, before)
    assert bpy.ops.move_mocap.ab_toggle.poll()
    assert bpy.ops.move_mocap.ab_toggle() == {"FINISHED"}
    assert action_io.object_action(rig) == before
    assert state()["move_mocap.ab_toggle"] == ("A/B: Showing Before", False)
    assert bpy.ops.move_mocap.ab_toggle() == {"FINISHED"}
    assert action_io.object_action(rig) == capture

    # The imported source armature kept (its action is the one the capture came from), hidden then shown.
    source = bpy.data.objects.new("move_actor", bpy.data.armatures.new("move_actor"))
    scene.collection.objects.link(source)
    action_io.assign_action(source, bpy.data.actions.new("take"))
    source.hide_set(True, view_layer=view_layer)
    assert bpy.ops.move_mocap.source_toggle.poll()
    assert state()["move_mocap.source_toggle"] == ("Show Source Armature", False)
    assert bpy.ops.move_mocap.source_toggle() == {"FINISHED"}
    assert state()["move_mocap.source_toggle"] == ("Hide Source Armature", False)

    # A footage camera for this rig, the scene's camera: drawn pressed; another rig's camera is not.
    other = bpy.data.objects.new("OtherCam", bpy.data.cameras.new("OtherCam"))
    other[FOR_RIG] = "Someone"
    scene.collection.objects.link(other)
    scene.camera = other
    assert state()["move_mocap.footage_camera"] == ("", False)
    cam = bpy.data.objects.new("HeroCam", bpy.data.cameras.new("HeroCam"))
    cam[FOR_RIG] = rig.name
    scene.collection.objects.link(cam)
    scene.camera = cam
    drawn = state()
    assert drawn["move_mocap.footage_camera"] == ("", True)
    assert drawn["move_mocap.ab_toggle"] == ("A/B: Showing Capture", False)

    # Not an armature: a hint, the buttons still drawn (their polls say what is missing).
    view_layer.objects.active = cam
    log = _draw_panels()
    _assert_clean(log)
    assert "Select the rig with the capture" in log.labels
    assert not bpy.ops.move_mocap.foot_lock.poll()
