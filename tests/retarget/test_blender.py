"""Retarget behaviour in real Blender: non-destructive result, undo, fingers, root motion modes, frame range
and rate, mapping detection per profile (and by geometry once names are unknown), presets through the
operators, a linked rig with a library override, and the bulk F-curve layer on this Blender version."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from .accuracy import segment_errors

bpy = pytest.importorskip("bpy")

from move_mocap.core.retarget.mapping import FINGER_SLOTS, BoneMapping  # noqa: E402
from move_mocap.retarget import action_io  # noqa: E402
from move_mocap.retarget.apply import RetargetOptions, detect_mapping, retarget, retarget_with_report  # noqa: E402
from move_mocap.retarget.ops import _pair_problem  # noqa: E402


def _rest(obj):
    return {b.name: np.array(b.matrix_local) for b in obj.data.bones}


def _channels(action, obj=None):
    return {k: v.co.copy() for k, v in action_io.read_channels(action, obj).items()}


def _hips_world(obj, bone, frames):
    out = []
    for f in frames:
        bpy.context.scene.frame_set(f)
        out.append(np.array(obj.matrix_world @ obj.pose.bones[bone].head))
    return np.array(out)


def _key_idle(obj, bone):
    """A hand-made action on the target, as an animator would have."""
    obj.animation_data_create()
    pb = obj.pose.bones[bone]
    pb.rotation_mode = "QUATERNION"
    for f, a in ((1, 0.0), (20, 0.5)):
        pb.rotation_quaternion = (math.cos(a), math.sin(a), 0, 0)
        pb.keyframe_insert("rotation_quaternion", frame=f)
    obj.animation_data.action.name = "Idle"
    pb.rotation_quaternion = (1, 0, 0, 0)
    return obj.animation_data.action


@pytest.mark.parametrize("target_name", ["rigify", "ue5"])
def test_non_destructive(world, target_name) -> None:
    source = world.obj("cmu_01_01")
    target = world.targets[target_name]
    idle = _key_idle(target, "head")
    other = bpy.data.actions.new("Other")
    other.use_fake_user = True
    before = {a.name: _channels(a, target if a == idle else None) for a in (idle, source.animation_data.action)}
    rest = _rest(target)
    matrix = np.array(target.matrix_world)
    loc, rot, scale = tuple(target.location), tuple(target.rotation_euler), tuple(target.scale)
    pose_before = {pb.name: (tuple(pb.location), tuple(pb.rotation_quaternion), tuple(pb.scale)) for pb in target.pose.bones}
    n_actions = len(bpy.data.actions)

    action = retarget(source, target, RetargetOptions(frame_end=200, action_name="Walk on target"))
    assert action.name == "Walk on target"
    assert target.animation_data.action == action
    assert len(bpy.data.actions) == n_actions + 1
    # Other actions untouched; the previous one kept in a muted NLA track.
    after = {a.name: _channels(a, target if a == idle else None) for a in (idle, source.animation_data.action)}
    for name, chans in before.items():
        assert chans.keys() == after[name].keys()
        for k in chans:
            assert np.array_equal(chans[k], after[name][k]), (name, k)
    assert len(other.layers if action_io.is_slotted() else other.fcurves) == 0
    stashed = [s.action for t in target.animation_data.nla_tracks for s in t.strips]
    assert idle in stashed and all(t.mute for t in target.animation_data.nla_tracks)
    # Rest pose, rolls and object transform unchanged; static pose values restored after probing.
    for name, m in _rest(target).items():
        assert np.array_equal(m, rest[name]), name
    assert np.array_equal(np.array(target.matrix_world), matrix)
    assert (tuple(target.location), tuple(target.rotation_euler), tuple(target.scale)) == (loc, rot, scale)
    if target_name == "rigify":
        for pb in target.pose.bones:
            assert (tuple(pb.location), tuple(pb.rotation_quaternion), tuple(pb.scale)) == pose_before[pb.name], pb.name
        # FK switch keyed in the new action, not written into the rig.
        paths = {fc.data_path for fc in action_io.action_fcurves(action, target)}
        assert 'pose.bones["upper_arm_parent.L"]["IK_FK"]' in paths
        assert target.pose.bones["upper_arm_parent.L"]["IK_FK"] == 0.0
    # A second run makes a second action and keeps the first one.
    again = retarget(source, target, RetargetOptions(frame_end=50))
    assert again != action and action.name in bpy.data.actions
    assert action in [s.action for t in target.animation_data.nla_tracks for s in t.strips]


def test_operator_runs_and_is_one_undo_step(world) -> None:
    """The operator is REGISTER + UNDO and does all its work in one execute(): one undo step. In the bpy
    module (background) undoing right after *any* operator that creates an action crashes Blender (its own
    nla.bake too), so the undo itself is checked on the same work pushed as one step from Python."""
    from move_mocap.retarget.ops import MOVE_MOCAP_OT_retarget

    assert {"REGISTER", "UNDO"} <= set(MOVE_MOCAP_OT_retarget.bl_options)
    source, target = world.obj("cmu_01_01"), world.targets["mixamo"]
    world.select_pair(source, target)
    assert bpy.ops.move_mocap.retarget.poll()
    result = bpy.ops.move_mocap.retarget(action_name="by operator", use_frame_range=True, frame_start=1, frame_end=120)
    assert result == {"FINISHED"}
    assert target.animation_data.action.name == "by operator"
    assert tuple(target.animation_data.action.frame_range) == (1.0, 120.0)

    idle = _key_idle(target, "mixamorig:Head")
    bpy.ops.ed.undo_push(message="opened")  # the undo stack needs a step before the one we return to
    bpy.ops.ed.undo_push(message="before retarget")
    names = set(bpy.data.actions.keys())
    retarget(source, target, RetargetOptions(action_name="undo me", frame_end=120))
    bpy.ops.ed.undo_push(message="Retarget")
    assert "undo me" in bpy.data.actions
    bpy.ops.ed.undo()
    assert set(bpy.data.actions.keys()) == names
    target = bpy.data.objects["mixamo_rig"]
    assert target.animation_data.action.name == idle.name == "Idle"
    assert not any(s.action for t in target.animation_data.nla_tracks for s in t.strips if s.action.name == "Idle")


def test_poll_explains_what_is_missing(world) -> None:
    source, target = world.obj("cmu_01_01"), world.targets["ue5"]
    mesh = bpy.data.objects.new("not an armature", bpy.data.meshes.new("m"))
    with bpy.context.temp_override(active_object=None, selected_objects=[]):
        assert "active" in _pair_problem(bpy.context)
    with bpy.context.temp_override(active_object=mesh, selected_objects=[mesh]):
        assert "active" in _pair_problem(bpy.context)
    with bpy.context.temp_override(active_object=target, selected_objects=[target]):
        assert "source" in _pair_problem(bpy.context)
    still = bpy.data.objects.new("still", bpy.data.armatures.new("still"))
    with bpy.context.temp_override(active_object=target, selected_objects=[target, still]):
        assert "no action" in _pair_problem(bpy.context)
    with bpy.context.temp_override(active_object=target, selected_objects=[target, source]):
        assert _pair_problem(bpy.context) is None


def test_fingers_on_and_off(world) -> None:
    source, target = world.obj("cmu_01_03"), world.targets["ue5"]
    on = retarget(source, target, RetargetOptions(frame_end=30))
    off = retarget(source, target, RetargetOptions(frame_end=30, fingers=False))
    fingers = {b for s, b in detect_mapping(target).slots.items() if s in FINGER_SLOTS}

    def bones(action):
        return {fc.data_path.split('"')[1] for fc in action_io.action_fcurves(action, target) if '"' in fc.data_path}

    assert bones(on) & fingers == {"thumb_01_l", "thumb_01_r", "index_01_l", "index_01_r"}  # CMU's two finger joints
    assert not bones(off) & fingers
    assert bones(on) - fingers == bones(off)


@pytest.mark.parametrize("target_name,root_bone", [("ue5", "root"), ("rigify", "root")])
def test_root_motion_modes(world, target_name, root_bone) -> None:
    source, target = world.obj("cmu_01_01"), world.targets[target_name]
    world.keep_only(source, target)
    hips = detect_mapping(target).slots["hips"]
    frames = list(range(1, 600, 40))
    results = {}
    for mode in ("HIPS", "OBJECT", "BONE", "IN_PLACE"):
        report = retarget_with_report(source, target, RetargetOptions(frame_end=600, root_motion=mode, root_bone=root_bone))
        paths = {fc.data_path for fc in action_io.action_fcurves(report.action, target)}
        assert ("location" in paths) == (mode == "OBJECT")
        assert (f'pose.bones["{root_bone}"].location' in paths) == (mode == "BONE")
        results[mode] = _hips_world(target, hips, frames)
        bpy.context.scene.frame_set(1)
        if mode != "OBJECT":
            assert np.allclose(np.array(target.matrix_world.translation), target.location)
    travelled = np.linalg.norm(results["HIPS"][-1, :2] - results["HIPS"][0, :2])
    assert travelled > 1.0  # 01_01 walks
    assert np.allclose(results["OBJECT"], results["HIPS"], atol=1e-4)
    assert np.allclose(results["BONE"], results["HIPS"], atol=1e-4)
    assert np.allclose(results["IN_PLACE"][:, :2], results["IN_PLACE"][0, :2], atol=1e-4)
    assert np.allclose(results["IN_PLACE"][:, 2], results["HIPS"][:, 2], atol=1e-4)
    # The pelvis (between the hip joints) travels the source's path scaled by the leg-length ratio.
    retarget(source, target, RetargetOptions(frame_end=600))
    t_slots, s_slots = detect_mapping(target).slots, detect_mapping(source).slots
    t_path = (_hips_world(target, t_slots["thigh.L"], frames) + _hips_world(target, t_slots["thigh.R"], frames)) / 2
    s_path = (_hips_world(source, s_slots["thigh.L"], frames) + _hips_world(source, s_slots["thigh.R"], frames)) / 2
    assert np.allclose(t_path[:, :2] - t_path[0, :2], report.scale * (s_path[:, :2] - s_path[0, :2]), atol=1e-3)


def _world_mats(obj, bones, frames):
    out = []
    for f in frames:
        bpy.context.scene.frame_set(f)
        out.append([np.array(obj.matrix_world @ obj.pose.bones[b].matrix) for b in bones])
    return np.array(out)  # (F, B, 4, 4)


def _heading(vectors):
    """Unwrapped angle about world Z of horizontal directions (F, 3), relative to the first, in degrees."""
    a = np.unwrap(np.arctan2(vectors[:, 1], vectors[:, 0]))
    return np.degrees(a - a[0])


@pytest.mark.parametrize("target_name,mode", [("ue5", "OBJECT"), ("mixamo", "OBJECT"), ("ue5", "BONE"),
                                              ("rigify", "BONE")])
def test_root_rotation(world, target_name, mode) -> None:
    """With Root Rotation the object or root bone turns with the hips' heading, and the character's pose in
    the world is the same as with the motion on the hips."""
    source, target = world.obj("cmu_01_01"), world.targets[target_name]
    world.keep_only(source, target)
    slots = detect_mapping(target).slots
    bones = [slots[s] for s in ("hips", "head", "upper_arm.L", "forearm.R", "thigh.L", "shin.R", "foot.L")]
    frames = list(range(1, 1200, 37))
    retarget(source, target, RetargetOptions(frame_end=1200))
    ref = _world_mats(target, bones, frames)
    base_rot = np.array(target.matrix_world.to_3x3().normalized())
    ref_loc = np.array(target.matrix_world.translation)
    report = retarget_with_report(source, target, RetargetOptions(frame_end=1200, root_motion=mode,
                                                                 root_rotation=True, root_bone="root"))
    assert not [w for w in report.warnings if "root" in w], report.warnings
    paths = {fc.data_path for fc in action_io.action_fcurves(report.action, target)}
    if mode == "OBJECT":
        assert {"location", "rotation_euler" if target.rotation_mode == "XYZ" else "rotation_quaternion"} <= paths
    else:
        assert any(p.startswith('pose.bones["root"].rotation') for p in paths), sorted(paths)[:8]
    got = _world_mats(target, bones, frames)
    scale = float(np.linalg.norm(ref[0, 0, :3, :3], axis=0).mean())  # world size of a bone unit
    assert np.abs(got[..., :3, 3] - ref[..., :3, 3]).max() < 1e-4 * max(scale, 1.0)
    r_ref = ref[..., :3, :3] / np.linalg.norm(ref[..., :3, :3], axis=-2, keepdims=True)
    r_got = got[..., :3, :3] / np.linalg.norm(got[..., :3, :3], axis=-2, keepdims=True)
    cos = np.clip((np.einsum("...ij,...ij->...", r_ref, r_got) - 1) / 2, -1, 1)
    assert np.degrees(np.arccos(cos)).max() < 0.05
    # The root's heading follows the hips' (measured here from the hip joints, independently).
    lateral = _hips_world(target, slots["thigh.L"], frames) - _hips_world(target, slots["thigh.R"], frames)
    hips_turn = _heading(lateral)
    root_x = []
    for f in frames:
        bpy.context.scene.frame_set(f)
        m = target.matrix_world if mode == "OBJECT" else target.matrix_world @ target.pose.bones["root"].matrix
        root_x.append(np.array(m.to_3x3().normalized()) @ np.linalg.inv(base_rot) @ np.array([1.0, 0.0, 0.0]))
    root_turn = _heading(np.array(root_x))
    assert np.abs(hips_turn).max() > 60, "01_01 turns around"
    assert np.median(np.abs(root_turn - hips_turn)) < 8, (root_turn.round(1), hips_turn.round(1))
    # Run again without Root Rotation: the root keeps its heading, and nothing piles up from the first run
    # (the object starts where it stood before either run).
    start_loc = ref_loc
    retarget(source, target, RetargetOptions(frame_end=1200, root_motion=mode, root_bone="root"))
    bpy.context.scene.frame_set(1)
    assert np.allclose(np.array(target.matrix_world.translation), start_loc, atol=1e-5)
    bpy.context.scene.frame_set(900)
    if mode == "OBJECT":
        assert np.allclose(np.array(target.matrix_world.to_3x3().normalized()), base_rot, atol=1e-5)
    else:
        rest = np.array(target.data.bones["root"].matrix_local.to_3x3())
        assert np.allclose(np.array(target.pose.bones["root"].matrix.to_3x3()), rest, atol=1e-5)


def test_target_side_mapping_detects_the_source_side(world) -> None:
    """A mapping of the target's bones only (the panel's, applied to a new Move result): the source side is
    detected, and only the given target bones are keyed."""
    source, target = world.obj("cmu_01_03"), world.targets["mixamo"]
    full = detect_mapping(target).slots
    some = {s: full[s] for s in ("hips", "upper_arm.L", "forearm.L", "thigh.R")}
    report = retarget_with_report(source, target, RetargetOptions(frame_end=30, mapping=BoneMapping(target=some)))
    keyed = {fc.data_path.split('"')[1] for fc in action_io.action_fcurves(report.action, target) if '"' in fc.data_path}
    assert keyed == set(some.values())
    assert report.mapping.source_profile == "cmu_bvh" and set(some) <= set(report.mapping.source)


def test_bones_no_longer_keyed_do_not_keep_a_stale_pose(world) -> None:
    """Replacing an action leaves the channels the new one does not key at whatever was last evaluated;
    the retarget settles them: to rest after an earlier retarget (a bone dropped from the mapping), to the
    replaced action's first frame after an animator's action."""
    source, target = world.obj("cmu_01_03"), world.targets["ue5"]
    full = detect_mapping(target).slots
    retarget(source, target, RetargetOptions(frame_start=200, frame_end=260))
    bpy.context.scene.frame_set(250)
    dropped = target.pose.bones[full["forearm.L"]]
    assert not np.allclose(dropped.rotation_quaternion, (1, 0, 0, 0), atol=1e-3)  # posed by the first action
    fewer = {s: b for s, b in full.items() if s != "forearm.L"}
    retarget(source, target, RetargetOptions(frame_start=200, frame_end=260, mapping=BoneMapping(target=fewer)))
    bpy.context.scene.frame_set(250)
    assert np.allclose(dropped.rotation_quaternion, (1, 0, 0, 0), atol=1e-6)
    # After an animator's action: its first-frame value, not the last frame evaluated (frame 20's).
    target.animation_data.action = None
    head = target.pose.bones["head"]
    for f, a in ((1, 0.3), (20, 0.6)):
        head.rotation_quaternion = (math.cos(a), math.sin(a), 0, 0)
        head.keyframe_insert("rotation_quaternion", frame=f)
    bpy.context.scene.frame_set(20)
    no_head = {s: b for s, b in full.items() if b != "head"}
    retarget(source, target, RetargetOptions(frame_start=1, frame_end=30, mapping=BoneMapping(target=no_head)))
    assert np.allclose(head.rotation_quaternion, (math.cos(0.3), math.sin(0.3), 0, 0), atol=1e-5)


def test_frame_range_and_rate(world) -> None:
    source, target = world.obj("cmu_01_03"), world.targets["mixamo"]
    world.keep_only(source, target)
    action = retarget(source, target, RetargetOptions(frame_start=100, frame_end=300, source_fps=120, target_fps=30,
                                                      frame_offset=1))
    assert tuple(action.frame_range) == (1.0, 51.0)
    for fc in action_io.action_fcurves(action, target):
        assert len(fc.keyframe_points) in (1, 51)
    m = detect_mapping(source).slots, detect_mapping(target).slots
    out = list(range(1, 52))
    errs, _, _ = segment_errors(source, target, m[0], m[1], [100 + 4 * (f - 1) for f in out], out)
    allv = np.concatenate(list(errs.values()))
    assert allv.max() < 0.05
    # Against the wrong source frames the error is large: the check is sensitive.
    errs, _, _ = segment_errors(source, target, m[0], m[1], [100 + (f - 1) for f in out], out)
    assert np.concatenate(list(errs.values())).max() > 5


def test_detect_each_profile_and_geometry_fallback(world) -> None:
    expect = {
        "rigify_rig": ("rigify_fk", {"hips": "torso", "upper_arm.L": "upper_arm_fk.L", "thigh.R": "thigh_fk.R",
                                     "spine_1": "chest", "index_2.L": "f_index.02.L", "root": "root"}),
        "metarig": ("rigify_metarig", {"hips": "spine", "spine_3": "spine.003", "head": "spine.006", "toe.L": "toe.L"}),
        "mixamo_rig": ("mixamo", {"hips": "mixamorig:Hips", "spine_3": "mixamorig:Spine2",
                                  "pinky_3.R": "mixamorig:RightHandPinky3", "toe.L": "mixamorig:LeftToeBase"}),
        "ue5_rig": ("unreal", {"hips": "pelvis", "spine_5": "spine_05", "neck_2": "neck_02", "toe.R": "ball_r",
                               "root": "root"}),
        "cmu_01_03": ("cmu_bvh", {"hips": "Hips", "spine_1": "LowerBack", "thumb_1.L": "LThumb"}),
    }
    for name, (profile, slots) in expect.items():
        det = detect_mapping(bpy.data.objects[name])
        assert det.profile == profile, name
        for slot, bone in slots.items():
            assert det.slots.get(slot) == bone, (name, slot)
    rig = bpy.data.objects["rigify_rig"]
    assert detect_mapping(rig, profile="rigify_def").slots["forearm.L"] == "DEF-forearm.L"
    # Unknown names: hierarchy and geometry find the same bones.
    for name in ("mixamo_rig", "ue5_rig", "cmu_01_03"):  # (the metarig's face and heel bones defeat geometry)
        obj = bpy.data.objects[name]
        truth = detect_mapping(obj).slots
        ids = {b.name: f"b{i:03d}" for i, b in enumerate(obj.data.bones)}
        for b in obj.data.bones:
            b.name = ids[b.name]
        det = detect_mapping(obj)
        assert det.profile == "" or len(det.by_geometry) == len(det.slots), name
        body = [s for s in truth if (s not in FINGER_SLOTS and s != "root") or (name != "cmu_01_03" and s in FINGER_SLOTS)]
        wrong = {s: (det.slots.get(s), ids[truth[s]]) for s in body if det.slots.get(s) != ids[truth[s]]}
        if name == "cmu_01_03":  # CMU's hand holds two stubs, not five fingers: no finger slots by geometry
            wrong = {s: v for s, v in wrong.items() if s not in FINGER_SLOTS}
        assert not wrong, (name, wrong)


def test_move_names_and_renamed_source(world) -> None:
    """A Move-convention armature (``_1:`` names, T-pose from local_engine.motion) drives the UE5 rig; so
    does the CMU source with every bone renamed (mapping found by geometry)."""
    from local_engine.outputs.blender_export import build_rest_armature

    obj = build_rest_armature(bpy, "move_actor")
    det = detect_mapping(obj)
    assert det.profile == "move" and det.slots["ring_2.R"] == "_1:RightHandRing2"
    # Animate it with the CMU motion (retargeted), then retarget that onto UE5: fingers and body follow.
    retarget(world.obj("cmu_01_03"), obj, RetargetOptions(frame_start=1, frame_end=60))
    pb = obj.pose.bones["_1:LeftHandIndex2"]
    pb.rotation_mode = "QUATERNION"
    fc_path = f'pose.bones["{pb.name}"].rotation_quaternion'
    act = obj.animation_data.action
    curves = [action_io.action_fcurves(act, obj)]
    assert curves
    target = world.targets["ue5"]
    report = retarget_with_report(obj, target, RetargetOptions())
    assert report.mapping.source_profile == "move"
    frames = list(range(1, 61, 5))
    errs, _, _ = segment_errors(obj, target, report.mapping.source, report.mapping.target, frames, frames)
    assert np.concatenate(list(errs.values())).max() < 0.05
    del fc_path

    src = world.obj("cmu_01_01")
    for i, b in enumerate(src.data.bones):
        b.name = f"joint{i}"
    report = retarget_with_report(src, world.targets["mixamo"], RetargetOptions(frame_end=100))
    assert report.mapping.source["upper_arm.L"] == src.data.bones[report.mapping.source["upper_arm.L"]].name
    errs, _, _ = segment_errors(src, world.targets["mixamo"], report.mapping.source, report.mapping.target,
                                list(range(1, 100, 9)), list(range(1, 100, 9)))
    assert len(errs) == 10 and np.concatenate(list(errs.values())).max() < 0.05


def test_preset_round_trip_through_operators(world, tmp_path: Path) -> None:
    source, target = world.obj("cmu_01_01"), world.targets["mixamo"]
    world.select_pair(source, target)
    assert bpy.ops.move_mocap.retarget_detect() == {"FINISHED"}
    settings = bpy.context.scene.move_mocap_retarget
    item = next(i for i in settings.slots if i.slot == "forearm.L")
    item.target_bone = ""  # the user unmaps the left forearm
    path = tmp_path / "mapping.json"
    assert bpy.ops.move_mocap.retarget_preset_save(filepath=str(path)) == {"FINISHED"}
    saved = BoneMapping.load(path)
    assert "forearm.L" not in saved.target and saved.target["forearm.R"] == "mixamorig:RightForeArm"
    settings.slots.clear()
    assert bpy.ops.move_mocap.retarget_preset_load(filepath=str(path)) == {"FINISHED"}
    from move_mocap.retarget.settings import mapping_from_settings

    assert mapping_from_settings(settings) == saved
    assert bpy.ops.move_mocap.retarget(use_mapping=True, use_frame_range=True, frame_start=1, frame_end=20) == {"FINISHED"}
    target = bpy.data.objects["mixamo_rig"]
    bones = {fc.data_path.split('"')[1] for fc in action_io.action_fcurves(target.animation_data.action, target)}
    assert "mixamorig:LeftForeArm" not in bones and "mixamorig:RightForeArm" in bones


def test_linked_rig_with_library_override(world, tmp_path: Path) -> None:
    # A character library holding the Mixamo-named rig.
    lib_path = tmp_path / "character.blend"
    rig = world.targets["mixamo"]
    coll = bpy.data.collections.new("Character")
    bpy.context.scene.collection.children.link(coll)
    coll.objects.link(rig)
    bpy.context.scene.collection.objects.unlink(rig)
    bpy.data.libraries.write(str(lib_path), {coll}, fake_user=True)
    # The shot: the CMU take, and the character linked and overridden.
    source_name = "cmu_01_01"
    for o in list(bpy.data.objects):
        if o.name != source_name:
            bpy.data.objects.remove(o)
    with bpy.data.libraries.load(str(lib_path), link=True) as (_src, dst):
        dst.collections = ["Character"]
    linked = dst.collections[0]
    override = linked.override_hierarchy_create(bpy.context.scene, bpy.context.view_layer, do_fully_editable=True)
    if override is None:
        override = next(c for c in bpy.data.collections if c.override_library)
    target = next(o for o in override.all_objects if o.type == "ARMATURE")
    assert target.override_library is not None and target.data.library is not None
    source = bpy.data.objects[source_name]
    report = retarget_with_report(source, target, RetargetOptions(frame_end=240))
    assert target.animation_data.action == report.action and report.action.library is None
    frames = list(range(1, 240, 7))
    errs, _, _ = segment_errors(source, target, report.mapping.source, report.mapping.target, frames, frames)
    assert len(errs) == 10 and np.concatenate(list(errs.values())).max() < 0.05


def test_action_io_round_trip_and_sampling(world) -> None:
    obj = world.targets["ue5"]
    rng = np.random.default_rng(0)
    frames = np.arange(1, 101, dtype=np.float64)
    channels = {('pose.bones["head"].location', k): (frames, rng.normal(size=100)) for k in range(3)}
    action = action_io.new_action("io test", obj, channels, {'pose.bones["head"].location': "head"})
    back = action_io.read_channels(action, obj)
    assert back.keys() == channels.keys()
    for k, (f, v) in channels.items():
        assert np.allclose(back[k].co[:, 0], f) and np.allclose(back[k].co[:, 1], v, atol=1e-6)
        assert back[k].fcurve.group.name == "head"
    action_io.assign_action(obj, action)
    assert obj.animation_data.action == action
    # Sparse keys with Bezier, linear and constant segments: numpy sampling equals Blender's evaluation.
    fc = action_io.action_fcurves(action, obj)[0]
    fc.keyframe_points.clear()
    for f, v, ipo in ((1, 0.0, "BEZIER"), (7, 2.0, "LINEAR"), (12, -1.0, "CONSTANT"), (20, 3.0, "BEZIER"),
                      (31, 0.5, "BEZIER"), (40, 1.0, "BEZIER")):
        kp = fc.keyframe_points.insert(f, v)
        kp.interpolation = ipo
    fc.keyframe_points[3].handle_right_type = "FREE"
    fc.keyframe_points[3].handle_right = (30.0, 9.0)  # overlong handle: Blender clamps it
    fc.update()
    keys = action_io.read_keys(fc)
    at = np.linspace(-2, 45, 331)
    ours = action_io.sample_keys(keys, at)
    blender = np.array([fc.evaluate(x) for x in at])
    assert np.allclose(ours, blender, atol=2e-4), np.abs(ours - blender).max()


def test_add_on_registers_retarget_under_move_panel() -> None:
    """Through the add-on's own registration (a fresh process): the Retarget panel is a sub-panel of the
    main Move panel, its operators and scene settings exist, and unregistering removes them."""
    import subprocess
    import sys

    code = (
        "import bpy, move_mocap\n"
        "move_mocap.register()\n"
        "assert bpy.types.MOVE_MOCAP_PT_retarget.bl_parent_id == 'MOVE_MOCAP_PT_main'\n"
        "assert bpy.types.MOVE_MOCAP_PT_retarget.bl_category == 'Move'\n"
        "assert hasattr(bpy.types, 'MOVE_MOCAP_OT_retarget') and hasattr(bpy.types.Scene, 'move_mocap_retarget')\n"
        "assert bpy.ops.move_mocap.retarget.idname() == 'MOVE_MOCAP_OT_retarget'\n"
        "move_mocap.unregister()\n"
        "assert not hasattr(bpy.types, 'MOVE_MOCAP_PT_retarget')\n"
        "print('registered ok')\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert "registered ok" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
