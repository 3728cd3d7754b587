"""Several actors in one result, through the panel: the people a job found listed under its progress row and in
History (how long each is visible, where each is best seen, who was only seen), each actor mapped to a rig or to a
new armature, all applied by one operator (one undo step), a rig picked twice refused, each actor arriving as
itself.

The result is Move's real MOTION_DATA sample with a second actor beside the first (Move's own key for it,
``mocap_data_actor_2``; the same person walking 1.5 m to the side), and the job metadata's ``people`` in the
local engine's shape, kept beside the outputs as the pipeline keeps it."""

from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import require_move_api
from tests.engine.conftest import requires_mediapipe  # noqa: F401  (the gate of every test running BlazePose)
from tests.ui_draw import DrawLog, draw_panels

SHIFT = 1.5  # metres along X between the two actors


def _two_actor_motion_data(path) -> None:
    data = json.loads(require_move_api("motion_data_excerpt.json").read_text())
    second = copy.deepcopy(data["mocap_data"])
    for frame in second:
        for joint in frame["joint_data"].values():
            if "position" in joint:
                joint["position"][0] += SHIFT
    data["mocap_data_actor_2"] = second
    path.write_text(json.dumps(data))


def _seen(person: int, frames: int, best: int) -> dict:
    return {"person": person, "frames_visible": frames, "seconds_visible": frames / 30, "fraction_visible": 0.5,
            "first_frame": 0, "last_frame": frames - 1, "best_frame": best, "best_time_s": best / 30}


@pytest.fixture
def two_actors(addon, tmp_path, monkeypatch):
    """A finished (downloaded, ready) two-actor result in a fresh journal; its views and actors loaded."""
    import bpy

    from move_mocap.capture.runtime import RUNTIME
    from move_mocap.core import people
    from move_mocap.core.pipeline import State, SubmissionSpec
    from move_mocap.core.pipeline.model import Footage, Kind, Stage
    from move_mocap.preferences import get_preferences

    RUNTIME.shutdown()
    monkeypatch.setenv("MOVE_MOCAP_USER_DIR", str(tmp_path / "user"))
    prefs = get_preferences()
    saved = prefs.download_dir
    prefs.download_dir = str(tmp_path / "downloads")
    bpy.ops.wm.read_homefile(use_empty=True)
    out = tmp_path / "downloads" / "job-two"
    out.mkdir(parents=True)
    _two_actor_motion_data(out / "motion_data.json")
    meta = {"people": {"asked": 2, "captured": 2, "seen": [
        {"person": 1, "frames_seen_by_two_views": 60, "per_view": [_seen(1, 80, 12), _seen(2, 70, 40)]},
        {"person": 2, "frames_seen_by_two_views": 45, "per_view": [None, _seen(1, 50, 7)]},
        {"person": 3, "frames_seen_by_two_views": 5, "per_view": [_seen(3, 9, 2), None]}]}}
    people.save(people.parse(meta), out)
    journal = RUNTIME.get_pipeline().journal
    spec = SubmissionSpec(footage=(Footage("cam01.mp4"), Footage("cam02.mp4")), multi_camera=True, model="M2",
                          number_of_actors=2, outputs=("MOTION_DATA",), name="two people")
    sid = journal.create(spec, endpoint="http://127.0.0.1:1/ugc/graphql", output_dir=str(tmp_path / "downloads"),
                         kind=Kind.ADOPTED, job_id="job-two")
    journal.set_outputs(sid, {"MOTION_DATA": str(out / "motion_data.json")})
    journal.set_stage(sid, Stage.DOWNLOADED, state=State.READY.value)
    RUNTIME.reload_views()
    yield bpy, RUNTIME, sid
    RUNTIME.shutdown()
    prefs.download_dir = saved


def _draw(bpy) -> DrawLog:
    log = draw_panels(bpy.context)
    assert not log.problems, "\n".join(log.problems)
    return log


def _hips_x(obj) -> float:
    import bpy

    bpy.context.scene.frame_set(int(obj.animation_data.action.frame_range[0]))
    hips = next(b for b in obj.pose.bones if b.name.endswith("Hips") or b.name == "hips")
    return float((obj.matrix_world @ hips.head).x)


def test_actors_listed_mapped_and_applied_in_one_step(two_actors) -> None:
    from move_mocap.capture.props import actors

    bpy, runtime, sid = two_actors
    found = actors(bpy.context, sid)
    assert [(a.person, a.actor, a.use) for a in found] == [(1, 1, True), (2, 2, True), (3, 0, False)]
    assert found[0].summary == "visible 2.0 s, best seen at frame 12 of camera 1"
    assert found[1].summary == "visible 1.5 s, best seen at frame 7 of camera 2"
    log = _draw(bpy)
    assert "People found: 3 (2 captured)" in log.labels
    assert "Person 3: seen, not captured" in log.labels
    assert [b for b in log.buttons if b[0] == "move_mocap.apply_actors"] == [
        ("move_mocap.apply_actors", "Apply Actors", False), ("move_mocap.apply_actors", "New Rig per Actor", False)]
    # a multi-camera result captures its number of actors: no "capture this person instead" (nor for a result
    # without a take of ours, as this adopted one)
    assert not any(a.can_capture for a in found)
    assert "move_mocap.capture_person" not in log.operators
    assert not any(text.startswith("Capture: a new job") for text in log.labels)

    # History shows the same list for the selected result.
    runtime.sync_history()
    hist = bpy.context.window_manager.move_mocap_history
    assert [i.submission_id for i in hist.items] == [sid]
    hist.index = 0
    assert _draw(bpy).labels.count("People found: 3 (2 captured)") == 2

    # Actor 1 onto the user's rig, actor 2 onto a new armature; a rig picked twice is refused first.
    from tests.retarget.rigs import build_named_rig

    hero = build_named_rig("mixamo", "Hero")
    found[0].target = found[1].target = hero
    with pytest.raises(RuntimeError, match="Several actors go to Hero"):
        bpy.ops.move_mocap.apply_actors(submission_id=sid)
    found[1].target = None
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.move_mocap.apply_actors(submission_id=sid) == {"FINISHED"}
    new = [bpy.data.objects[n] for n in {o.name for o in bpy.data.objects} - before]
    assert [o.name for o in new] == ["two people_actor2"], [o.name for o in new]
    second = new[0]
    assert hero.animation_data.action is not None and second.animation_data.action is not None
    assert found[1].target == second  # Apply Again reuses the actor's new rig
    # Each actor is itself: the second walks SHIFT metres to the side of the first (rigs of other sizes: the
    # retargeted hips keep the offset scaled by the leg ratio, so compare the imported sides' own rigs).
    assert bpy.ops.move_mocap.apply_actors(submission_id=sid, new_rigs=True) == {"FINISHED"}
    one, two = bpy.data.objects["two people_actor1"], bpy.data.objects["two people_actor2.001"]
    assert abs((_hips_x(two) - _hips_x(one)) - SHIFT) < 0.05, (_hips_x(one), _hips_x(two))


def test_one_undo_step_restores_the_scene(two_actors) -> None:
    """Both actors applied, then one undo: the rigs and actions are as before. (In the bpy module undoing right
    after an operator that creates actions can crash Blender, see tests/retarget/test_blender.py; the operator's
    whole work is one apply_actors call, pushed as one step here.)"""
    from move_mocap.capture.ops import MOVE_MOCAP_OT_apply_actors
    from move_mocap.capture.props import actors

    bpy, _runtime, sid = two_actors
    assert {"REGISTER", "UNDO"} <= set(MOVE_MOCAP_OT_apply_actors.bl_options)
    bpy.ops.ed.undo_push(message="opened")
    bpy.ops.ed.undo_push(message="before apply")
    objects, actions = set(bpy.data.objects.keys()), set(bpy.data.actions.keys())

    class Op:  # the operator's own execute, as Blender runs it, then one undo step pushed for it
        submission_id, new_rigs = sid, True
        _plan = MOVE_MOCAP_OT_apply_actors._plan
        messages: list = []

        def report(self, kind, text):
            self.messages.append((kind, text))

    assert MOVE_MOCAP_OT_apply_actors.execute(Op(), bpy.context) == {"FINISHED"}
    assert len(set(bpy.data.objects.keys()) - objects) == 2
    bpy.ops.ed.undo_push(message="Apply Actors")
    bpy.ops.ed.undo()
    assert set(bpy.data.objects.keys()) == objects and set(bpy.data.actions.keys()) == actions
    assert all(a.target is None for a in actors(bpy.context, sid))  # no actor points at the undone rigs


@pytest.mark.usefixtures("requires_mediapipe")
def test_a_real_two_person_clip_lists_who_else_was_seen(addon, local_server_factory, demo_video, tmp_path,
                                                        monkeypatch) -> None:
    """The Sports2D demo's first 4 s (a man on his box, a woman walking across) processed by the local engine's
    mediapipe solver through Process: the job's own metadata ``people`` comes back through the pipeline, the
    panel lists the captured person as actor 1 and the other as only seen, with their figures and a thumbnail of
    each where best seen; Capture on the other person makes one new job on the same take, which the engine
    honours (the same people, the same numbers) and whose result is applied like any other."""
    import bpy

    from move_mocap.capture.props import actors
    from move_mocap.capture.runtime import RUNTIME
    from move_mocap.preferences import get_preferences
    from tests.workflow.conftest import add_footage

    server = local_server_factory(solver="mediapipe", motion=None)
    RUNTIME.shutdown()
    monkeypatch.setenv("MOVE_MOCAP_USER_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("MOVE_API_KEY", server.api_key)
    prefs = get_preferences()
    saved = (prefs.endpoint, prefs.download_dir)
    prefs.endpoint, prefs.download_dir = server.url, str(tmp_path / "downloads")
    RUNTIME.config_overrides = {"poll_initial": 0.2, "poll_factor": 1.3, "poll_max": 1.0}
    try:
        bpy.ops.wm.read_homefile(use_empty=True)
        add_footage(bpy, demo_video, clip=(0.0, 4.0))
        assert bpy.ops.move_mocap.process() == {"FINISHED"}
        (row,) = RUNTIME.journal().all()
        assert row.state.value == "done", (row.error_message, server.log())
        found = actors(bpy.context, row.id)
        assert [(a.person, a.actor) for a in found] == [(1, 1), (2, 0)], [(a.person, a.actor) for a in found]
        assert all(a.summary.startswith("visible ") and "best seen at frame" in a.summary for a in found)
        log = _draw(bpy)
        assert "People found: 2 (1 captured)" in log.labels and "Person 2: seen, not captured" in log.labels
        # each person's thumbnail: the footage's own frame where best seen, around the box the job gave
        assert all(a.thumbnail for a in found)
        _check_thumbnails(bpy, row, demo_video)

        # "Capture this other person instead": offered for the person only seen, with what it does and where
        assert [(a.person, a.can_capture) for a in found] == [(1, False), (2, True)]
        assert ("move_mocap.capture_person", "Capture", False) in log.buttons
        assert any(text.startswith("Capture: a new job on the same take") for text in log.labels)
        before = {o.name for o in bpy.data.objects}
        assert bpy.ops.move_mocap.capture_person(submission_id=row.id, person=2) == {"FINISHED"}
        rows = RUNTIME.journal().all()
        assert len(rows) == 2
        other = next(r for r in rows if r.id != row.id)
        assert other.state.value == "done", (other.error_message, server.log())
        assert (other.take_id, other.spec.person, other.title) == (row.take_id, 2, f"{row.title} person 2")
        assert other.job_id != row.job_id
        # the engine honoured it: person 2 is this result's actor, person 1 only seen; the same ids as before
        again = actors(bpy.context, other.id)
        assert [(a.person, a.actor) for a in again] == [(2, 1), (1, 0)], [(a.person, a.actor) for a in again]
        assert {a.person: a.summary for a in again} == {a.person: a.summary for a in found}
        # applied like any other result, onto the panel's target (the active armature: the first result's), as a
        # new action: the woman walks across the picture, the man stays on his box
        assert {o.name for o in bpy.data.objects} == before
        assert other.applied_to == row.applied_to and other.applied_action != row.applied_action
        rig = bpy.data.objects[row.applied_to]
        assert rig.animation_data.action.name == other.applied_action
        woman = _hips_travel(bpy, rig)
        rig.animation_data.action = bpy.data.actions[row.applied_action]
        assert woman > 1.0 > _hips_travel(bpy, rig), woman
        # asked again: the same submission, no second job
        assert bpy.ops.move_mocap.capture_person(submission_id=row.id, person=2) == {"FINISHED"}
        assert len(RUNTIME.journal().all()) == 2
        assert _jobs_on_take(server, row.take_id) == 2
    finally:
        RUNTIME.shutdown()
        RUNTIME.config_overrides = {}
        prefs.endpoint, prefs.download_dir = saved


def _hips_travel(bpy, obj) -> float:
    """The largest horizontal extent (m) the hips cover over the action."""
    start, end = (int(f) for f in obj.animation_data.action.frame_range)
    hips = next(b for b in obj.pose.bones if b.name.endswith("Hips") or b.name == "hips")
    points = []
    for f in range(start, end + 1, 5):
        bpy.context.scene.frame_set(f)
        points.append(tuple((obj.matrix_world @ hips.head)[:2]))
    import numpy as np

    return float(np.ptp(np.array(points), axis=0).max())


def _check_thumbnails(bpy, row, video) -> None:
    """Each person's icon is the square around their box in their best frame, as an independent decoder (PyAV)
    reads that frame: the icon matches its own frame's crop far better than the same crop a second earlier."""
    import av
    import numpy as np

    from move_mocap.capture import thumbnails
    from move_mocap.core import people
    from move_mocap.core.thumbnail import SIDE, thumbnail

    found = people.load(__import__("pathlib").Path(next(iter(row.outputs.values()))).parent)
    assert found is not None
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for person in found.persons:
        assert person.best_frame is not None and person.best_box is not None
        preview = thumbnails._collection()[f"{row.id}:{person.number}"]
        assert tuple(preview.image_size) == (SIDE, SIDE)
        icon = np.array(preview.image_pixels_float[:], np.float32).reshape(SIDE, SIDE, 4)[..., :3]

        def crop(k: int, box=person.best_box) -> np.ndarray:
            rgba = np.concatenate([frames[k][::-1] / 255.0, np.ones((*frames[k].shape[:2], 1))], axis=2)
            return thumbnail(rgba, box)[..., :3]

        own = float(np.abs(icon - crop(person.best_frame)).mean())
        other = float(np.abs(icon - crop(max(0, person.best_frame - 30))).mean())
        assert own < 0.03 and own < 0.5 * other, (person.number, own, other)


def _jobs_on_take(server, take_id: str) -> int:
    """How many jobs the server's own database holds for ``take_id``."""
    import sqlite3

    db = sqlite3.connect(f"file:{server.data_dir / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT data FROM objects WHERE kind='job'").fetchall()
    finally:
        db.close()
    return sum(1 for (data,) in rows if json.loads(data).get("takeId") == take_id)
