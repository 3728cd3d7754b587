"""``move_mocap.import_output`` in real Blender: every format against its source data, new actions only,
nothing but an armature and an action from a .blend, atomic failures, the operator."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")


@pytest.fixture
def api(addon):
    from move_mocap.importers import load as module

    _clear()
    yield module
    _clear()


def _clear() -> None:
    for coll in (bpy.data.objects, bpy.data.armatures, bpy.data.actions, bpy.data.meshes, bpy.data.materials):
        for x in list(coll):
            coll.remove(x)


_UI_ID_TYPES = ("WINDOWMANAGER", "SCREEN", "WORKSPACE")  # the UI's own, rebuilt by file loads


def _ids() -> dict[int, str]:
    """Every distinct ID in the file (pointer -> ID type), UI data aside.

    Counted per ID, not per ``bpy.data`` collection: Blender 5.2 adds ``bpy.data.all_ids``, a read-only view over
    every other collection, so summing collection lengths would count each new ID twice there."""
    out: dict[int, str] = {}
    for name in dir(bpy.data):
        coll = getattr(bpy.data, name, None)
        if isinstance(coll, bpy.types.bpy_prop_collection):
            for item in coll:
                if isinstance(item, bpy.types.ID) and item.id_type not in _UI_ID_TYPES:
                    out[item.as_pointer()] = item.id_type
    return out


def _counts() -> dict[str, int]:
    """How many IDs of each type the file holds (``{"OBJECT": 3, "ACTION": 1, ...}``)."""
    out: dict[str, int] = {}
    for id_type in _ids().values():
        out[id_type] = out.get(id_type, 0) + 1
    return out


def _added(before: dict[str, int]) -> dict[str, int]:
    after = _counts()
    return {k: after.get(k, 0) - before.get(k, 0) for k in after.keys() | before.keys()
            if after.get(k, 0) != before.get(k, 0)}


def _heads(obj, names: list[str], frames) -> np.ndarray:
    """(F, B, 3) world positions of bone heads, evaluated by Blender's depsgraph."""
    scene = bpy.context.scene
    out = []
    for f in frames:
        scene.frame_set(int(f))
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        out.append([list(ev.matrix_world @ ev.pose.bones[n].head) for n in names])
    return np.array(out)


def _move_names(motion) -> list[str]:
    return [f"_1:{b}" for b in motion.bones]


# -- MOTION_DATA ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("zipped", [False, True])
def test_motion_data_joint_positions(api, motion_sample: Path, motion_sample_zip: Path, zipped: bool):
    import json

    from move_mocap.core.move_skeleton import MOTION_DATA_JOINTS, MOVE_BONE_NAMES

    path = motion_sample_zip if zipped else motion_sample
    result = api.import_output(path)
    assert result.kind == "MOTION_DATA"
    assert result.armature.name == path.stem and result.action.name == path.stem
    assert sorted(b.name for b in result.armature.data.bones) == sorted(f"_1:{n}" for n in MOVE_BONE_NAMES)
    frames = json.loads(motion_sample.read_text())["mocap_data"]
    assert (result.frame_start, result.frame_end) == (0, len(frames) - 1)
    joints = list(MOTION_DATA_JOINTS)
    got = _heads(result.armature, [f"_1:{MOTION_DATA_JOINTS[j]}" for j in joints], range(len(frames)))
    want = np.array([[fr["joint_data"][j]["position"] for j in joints] for fr in frames])
    err = np.linalg.norm(got - want, axis=-1)
    assert err.max() < 0.005, dict(zip(joints, err.max(0).round(4)))
    assert result.foot_contacts == [(True, False)] * len(frames)
    assert list(result.action["move_foot_contacts"]) == [1] * len(frames)
    # rest: a T-pose, Z up, metres (arms along X, legs down, about human size)
    bones = result.armature.data.bones
    arm = bones["_1:LeftArm"].tail_local - bones["_1:LeftArm"].head_local
    leg = bones["_1:LeftUpLeg"].tail_local - bones["_1:LeftUpLeg"].head_local
    assert arm.normalized().x > 0.999 and leg.normalized().z < -0.999
    assert 0.3 < leg.length < 0.5 and 0.8 < bones["_1:Hips"].head_local.z < 1.1


# -- Move-convention files from the local engine's writers -------------------------------------------------

@pytest.mark.parametrize("kind", ["MAIN_FBX", "MAIN_BLEND", "GLB", "MOTION_DATA"])
def test_move_outputs_match_source_motion(api, move_take, kind: str):
    from local_engine.kinematics import forward_kinematics

    motion, files = move_take
    path = files["MAIN_GLB" if kind == "GLB" else kind]
    result = api.import_output(path)
    assert result.kind == kind
    obj = result.armature
    names = _move_names(motion)
    assert {b.name for b in obj.data.bones} >= set(names)
    assert round(result.frame_end - result.frame_start) + 1 == motion.frame_count
    # metres, Z up, no 100x: the object is untransformed and bone lengths are Move's
    assert tuple(obj.scale) == pytest.approx((1, 1, 1)) and tuple(obj.rotation_euler) == pytest.approx((0, 0, 0), abs=1e-6)
    # (file formats keep joints, not bone lengths: compare the distances between joints)
    heads_rest = np.array([list(obj.data.bones[n].head_local) for n in names])
    pairs = [(b, p) for b, p in enumerate(motion.parents) if p >= 0]
    got_d = [np.linalg.norm(heads_rest[b] - heads_rest[p]) for b, p in pairs]
    want_d = [np.linalg.norm(motion.rest_heads[b] - motion.rest_heads[p]) for b, p in pairs]
    if kind != "MOTION_DATA":  # MOTION_DATA's skeleton is scaled to the data (no clavicle joint)
        np.testing.assert_allclose(got_d, want_d, atol=1e-4)
    heads, _ = forward_kinematics(motion)
    frames = [0, 17, 33, motion.frame_count - 1]
    got = _heads(obj, names, [result.frame_start + f for f in frames])
    if kind == "MOTION_DATA":  # only joints are in the file; the clavicle is rebuilt (within 1 cm)
        from move_mocap.core.move_skeleton import MOTION_DATA_JOINTS

        cols = [motion.bones.index(b) for b in MOTION_DATA_JOINTS.values()]
        assert np.abs(got[:, cols] - heads[frames][:, cols]).max() < 0.01
    else:
        assert np.abs(got - heads[frames]).max() < 1e-3


def test_fbx_rest_is_t_pose_z_up_metres(api, tmp_path: Path, move_take):
    """A Move-convention FBX whose rest is the T-pose (exported at a frame where the pose is the rest)."""
    from local_engine.outputs.blender_export import build_armature

    motion, _ = move_take
    _clear()
    obj = build_armature(bpy, motion, "Armature")
    for pb in obj.pose.bones:  # a rest-pose key before the baked range fixes the file's rest
        pb.rotation_quaternion = (1, 0, 0, 0)
        pb.location = (0, 0, 0)
        pb.keyframe_insert("rotation_quaternion", frame=-10)
        pb.keyframe_insert("location", frame=-10)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 0, motion.frame_count - 1
    scene.frame_set(-10)
    path = tmp_path / "tpose.fbx"
    bpy.ops.export_scene.fbx(filepath=str(path), object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=True,
                             bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
                             axis_forward="-Y", axis_up="Z", apply_unit_scale=True)
    scene.frame_set(0)
    _clear()
    result = api.import_output(path)
    bones = result.armature.data.bones
    mw = result.armature.matrix_world
    rest = np.array([list(mw @ bones[n].head_local) for n in _move_names(motion)])
    np.testing.assert_allclose(rest, motion.rest_heads, atol=1e-4)  # T-pose, Z up, metres
    assert (bones["_1:LeftForeArm"].head_local - bones["_1:LeftArm"].head_local).normalized().x > 0.999


def test_blend_appends_only_armature_and_action(api, move_take, tmp_path: Path):
    _, files = move_take
    # a .blend with extra data of every risky kind: texts (scripts), node groups, worlds, scenes, drivers
    src = tmp_path / "dirty.blend"
    bpy.ops.wm.open_mainfile(filepath=str(files["MAIN_BLEND"]))
    text = bpy.data.texts.new("evil.py")
    text.write("import sys; sys.exit('script ran')\n")
    text.use_module = True
    bpy.data.node_groups.new("Group", "ShaderNodeTree")
    bpy.data.worlds.new("World")
    bpy.data.scenes.new("Other")
    arm_obj = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    drv = arm_obj.data.driver_add("display_type" if hasattr(arm_obj.data, "display_type") else "pose_position")
    drv.driver.type = "SCRIPTED"
    drv.driver.expression = "__import__('os').getpid() and 0"
    bpy.ops.wm.save_as_mainfile(filepath=str(src), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    _clear()
    before, before_ids = _counts(), set(_ids())
    result = api.import_output(src)
    assert _added(before) == {"OBJECT": 1, "ARMATURE": 1, "ACTION": 1}
    new_ids = set(_ids()) - before_ids
    assert new_ids == {result.armature.as_pointer(), result.armature.data.as_pointer(), result.action.as_pointer()}
    assert result.armature.data.animation_data is None  # the driver did not come in
    assert result.armature.name == "dirty"


def test_bvh_cmu(api, cmu_bvh: Path):
    from local_engine.bvh import read_bvh

    bvh = read_bvh(cmu_bvh)
    result = api.import_output(cmu_bvh)
    assert result.kind == "BVH"
    assert sorted(b.name for b in result.armature.data.bones) == sorted(bvh.names)
    assert round(result.frame_end - result.frame_start) + 1 == bvh.frame_count
    frames = [0, 500, bvh.frame_count - 1]
    pos, _ = bvh.world(np.array(frames))
    axes = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # BVH Y up -> Blender Z up
    got = _heads(result.armature, bvh.names, [result.frame_start + f for f in frames])
    np.testing.assert_allclose(got, np.einsum("ij,fbj->fbi", axes, pos), atol=1e-3)


# -- actions, targets, errors, the operator ---------------------------------------------------------------

def test_importing_twice_never_overwrites(api, motion_sample: Path):
    from move_mocap.retarget import action_io

    first = api.import_output(motion_sample)
    keys = {k: v.co.copy() for k, v in action_io.read_channels(first.action, first.armature).items()}
    first_action_name = first.action.name
    second = api.import_output(motion_sample, action_name=first_action_name)
    assert second.action != first.action and second.action.name != first_action_name
    assert second.armature != first.armature
    assert first.armature.animation_data.action == first.action
    again = action_io.read_channels(first.action, first.armature)
    assert keys.keys() == again.keys() and all(np.array_equal(keys[k], again[k].co) for k in keys)


def test_onto_target_armature(api, move_take, motion_sample: Path):
    pytest.importorskip("move_mocap.retarget")
    _, files = move_take
    target = api.import_output(files["MAIN_FBX"]).armature
    target.animation_data.action = None
    before = _counts()
    result = api.import_output(motion_sample, target=target.name)
    assert result.armature == target and target.animation_data.action == result.action
    assert result.action.name == f"{target.name}_{motion_sample.stem}"
    # the temporary MOTION_DATA armature and its action are gone, nothing orphaned
    assert _added(before) == {"ACTION": 1}


def test_onto_target_with_clean_ups(api, move_take, motion_sample: Path):
    """Foot lock and smoothing at apply time write one action; with Keep Raw Take the take before them stays
    in the rig's NLA (the import's clean-up of what it created keeps it), nothing else is added."""
    pytest.importorskip("move_mocap.retarget")
    from move_mocap.core.retarget.options import RetargetOptions

    _, files = move_take
    target = api.import_output(files["MAIN_FBX"]).armature
    target.animation_data.action = None
    for keep_raw, added in ((False, {"ACTION": 1}), (True, {"ACTION": 2})):
        before = _counts()
        result = api.import_output(motion_sample, target=target.name, action_name=f"clean{int(keep_raw)}",
                                   retarget_options=RetargetOptions(foot_lock=True, smooth=0.4, keep_raw=keep_raw))
        assert target.animation_data.action == result.action and result.action.name == f"clean{int(keep_raw)}"
        assert _added(before) == added
        stashed = {st.action.name for tr in target.animation_data.nla_tracks for st in tr.strips if st.action}
        assert (f"clean{int(keep_raw)}_raw" in stashed) == keep_raw, stashed
        assert "Foot lock:" in result.retarget_summary and "Smooth:" in result.retarget_summary


def test_apply_foot_lock_uses_the_files_contacts(api, move_take):
    """Foot lock at Apply time locks the contacts the MOTION_DATA file carries (the local engine's, from its
    reaction forces), which the retarget carries onto the new action: the result is Apply without foot lock
    followed by Lock Feet (which reads them from that action), key for key, and not what detection gives. A
    take without contacts (BVH) falls back to detection; the report line says which."""
    pytest.importorskip("move_mocap.retarget")
    from move_mocap.core.cleanup import contacts as C
    from move_mocap.core.retarget.options import RetargetOptions
    from move_mocap.retarget import action_io
    from move_mocap.review.legs import foot_lock

    _, files = move_take
    target = api.import_output(files["MAIN_FBX"]).armature
    target.animation_data.action = None
    plain = api.import_output(files["MOTION_DATA"], target=target.name, action_name="plain")
    in_file = C.decode_stored(C.encode_stored(plain.foot_contacts))
    assert 0.2 < in_file.mean() < 0.8, in_file.mean()  # both feet planted and lifted in these 2 s
    assert list(plain.action[C.STORED_PROP]) == C.encode_stored(in_file)  # carried by the retarget
    detected = foot_lock(target, "DETECT")
    assert not np.array_equal(C.decode_stored(detected.action[C.STORED_PROP]), in_file)  # a test that can fail
    action_io.assign_action(target, plain.action)
    by_operator = foot_lock(target)  # Lock Feet on the written action
    assert by_operator.contacts_from == "stored"

    action_io.assign_action(target, plain.action)
    fused = api.import_output(files["MOTION_DATA"], target=target.name, action_name="fused",
                              retarget_options=RetargetOptions(foot_lock=True))
    assert "Foot lock: fused (stored contacts" in fused.retarget_summary, fused.retarget_summary
    want = {k: v.co for k, v in action_io.read_channels(by_operator.action, target).items()}
    got = {k: v.co for k, v in action_io.read_channels(fused.action, target).items()}
    assert got.keys() == want.keys()
    worst = max(float(np.abs(got[k] - want[k]).max()) for k in want)
    assert worst < 2e-5, worst
    locked = C.decode_stored(fused.action[C.STORED_PROP])
    np.testing.assert_array_equal(locked, C.decode_stored(by_operator.action[C.STORED_PROP]))
    # The file's contacts, less the frames where a planted foot drifted too far (re-planted runs split).
    assert locked.any(axis=0).all() and not (locked & ~in_file).any()

    bvh = api.import_output(files["ALL_BVH"], target=target.name, action_name="from_bvh",
                            retarget_options=RetargetOptions(foot_lock=True))
    assert "Foot lock: from_bvh (detected contacts" in bvh.retarget_summary, bvh.retarget_summary


def test_errors_name_problem_and_leave_nothing(api, tmp_path: Path, motion_sample: Path):
    empty = tmp_path / "empty.fbx"
    empty.write_bytes(b"")
    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello")
    fake_fbx = tmp_path / "fake.fbx"
    fake_fbx.write_text("hello")
    json_other = tmp_path / "other.json"
    json_other.write_text('{"mocap": 1}')
    nozip = tmp_path / "bad.zip"
    with zipfile.ZipFile(nozip, "w") as zf:
        zf.writestr("a.txt", "x")
    cases = [
        (tmp_path / "missing.fbx", {}, "does not exist"),
        (empty, {}, "is empty"),
        (garbage, {}, "unknown format"),
        (fake_fbx, {}, "unknown format"),
        (json_other, {}, "unknown format"),
        (nozip, {}, "unknown format"),
        (motion_sample, {"actor": 2}, "Actor 2 is not"),
        (motion_sample, {"target": "Nope"}, "does not exist"),
        (motion_sample, {"kind": "MAIN_FBX"}, "looks like MOTION_DATA"),
    ]
    before = _counts()
    for path, kwargs, message in cases:
        with pytest.raises(api.ImportOutputError, match=message):
            api.import_output(path, **kwargs)
        assert _counts() == before, path


def test_blend_without_armature(api, tmp_path: Path):
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.data.meshes.new("M")
    path = tmp_path / "mesh_only.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    _clear()
    before = _counts()
    with pytest.raises(api.ImportOutputError, match="holds no armature"):
        api.import_output(path)
    assert _counts() == before


def test_failure_after_loading_rolls_back(api, motion_sample: Path, monkeypatch):
    """An error after the armature was built removes everything the import created."""
    before = _counts()

    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(api.action_io, "frame_range", boom)
    with pytest.raises(api.ImportOutputError, match="disk full"):
        api.import_output(motion_sample)
    assert _counts() == before


def test_operator(api, motion_sample: Path):
    from move_mocap.importers.ops import MOVE_MOCAP_OT_import_output as op

    assert {"REGISTER", "UNDO"} <= set(op.bl_options)
    assert bpy.ops.move_mocap.import_output(filepath=str(motion_sample), set_scene_range=True) == {"FINISHED"}
    obj = bpy.data.objects[motion_sample.stem]
    assert obj.animation_data.action.name == motion_sample.stem
    assert (bpy.context.scene.frame_start, bpy.context.scene.frame_end) == (0, 3)
    before = _counts()
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.move_mocap.import_output(filepath=str(motion_sample.with_name("nope.json")))
    assert _counts() == before


def _file_contacts(frame: dict) -> tuple[bool, bool]:
    jd = frame["joint_data"]
    return tuple(float(np.sum(np.abs(jd[t]["reaction_forces"]))) > 1.0 for t in ("Left_toe", "Right_toe"))


def test_motion_data_contacts_on_their_own_frames(api, move_take, tmp_path: Path):
    """A MOTION_DATA file missing one sample (and one with two samples rounding to one frame): each sample's
    contacts are stored at the frame its own timestamp keys (not one row per sample, which would put every
    later contact a frame early); the gap frame takes the nearest sample's, the doubled frame the keyed one's."""
    import json

    from move_mocap.core.cleanup import contacts as C

    _, files = move_take
    data = json.loads(Path(files["MOTION_DATA"]).read_text())
    frames = data["mocap_data"]
    fps = 1.0 / (float(frames[1]["timestamp"]) - float(frames[0]["timestamp"]))
    per_sample = [_file_contacts(f) for f in frames]
    drop = next(i for i in range(10, len(frames) - 10) if per_sample[i] != per_sample[i + 1])  # an edge follows
    del frames[drop]
    frames[drop + 5]["timestamp"] = str(float(frames[drop + 5]["timestamp"]) - 0.6 / fps)  # rounds like its neighbour
    path = tmp_path / "dropped.json"
    path.write_text(json.dumps(data))
    result = api.import_output(path)
    stored = C.decode_stored(list(result.action[C.STORED_PROP]))
    keyed = [round(float(f["timestamp"]) * fps) for f in frames]
    lo = keyed[0]
    assert result.frame_start == lo and len(stored) == keyed[-1] - lo + 1 == len(frames) + 1  # two gaps, one double
    seen: set[int] = set()
    for f, frame in zip(keyed, frames, strict=True):
        if f in seen:
            continue  # the second sample at a frame is not keyed
        seen.add(f)
        assert tuple(stored[f - lo]) == _file_contacts(frame), f
    gap = keyed[drop - 1] + 1
    assert gap not in seen and tuple(stored[gap - lo]) == _file_contacts(frames[drop - 1])
    moved = keyed[drop + 4] + 1  # the doubled sample's own frame: a tie, the earlier (keyed) sample's
    assert moved not in seen and tuple(stored[moved - lo]) == _file_contacts(frames[drop + 4])
    # One row per sample (the defect) would differ from this right after the gap.
    rows = np.array([_file_contacts(f) for f in frames])
    assert not np.array_equal(rows[drop:], stored[drop:len(rows)])


def test_motion_data_without_reaction_forces_stores_no_contacts(api, move_take, tmp_path: Path):
    """A file with no reaction forces stores no contacts (not "never planted"), so Apply's foot lock detects."""
    import json

    from move_mocap.core.cleanup import contacts as C
    from move_mocap.core.retarget.options import RetargetOptions

    _, files = move_take
    data = json.loads(Path(files["MOTION_DATA"]).read_text())
    for frame in data["mocap_data"]:
        for rec in frame["joint_data"].values():
            rec.pop("reaction_forces", None)
    path = tmp_path / "no_forces.json"
    path.write_text(json.dumps(data))
    plain = api.import_output(path)
    assert plain.foot_contacts is None and C.STORED_PROP not in plain.action
    target = api.import_output(files["MAIN_FBX"]).armature
    target.animation_data.action = None
    fused = api.import_output(path, target=target.name, action_name="fused",
                              retarget_options=RetargetOptions(foot_lock=True))
    assert "Foot lock: fused (detected contacts" in fused.retarget_summary, fused.retarget_summary
