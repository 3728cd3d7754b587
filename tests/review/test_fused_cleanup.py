"""Clean-ups at retarget time run on the retarget's own values before its one write: the same result as the
operators on the written action (foot lock, then smoothing: key for key, to float precision), on a real
retarget of a CMU take onto the Rigify rig generated from Blender's metarig; the clean-ups measurably did
their work (planted-foot slide by Blender's own evaluation, jitter); one action written (the raw take only
when asked for), and A/B still switches to the rig's previous action."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from move_mocap.core.cleanup import contacts as C  # noqa: E402
from move_mocap.core.cleanup import smoothing as SM  # noqa: E402
from move_mocap.core.cleanup.footlock import slide  # noqa: E402
from move_mocap.core.retarget.options import RetargetOptions  # noqa: E402
from move_mocap.retarget import action_io  # noqa: E402
from move_mocap.retarget.apply import RETARGET_TAG, retarget_with_report  # noqa: E402
from move_mocap.review import rig_io  # noqa: E402
from move_mocap.review.legs import CLEANED_FROM, CONTACTS_PROP, foot_lock, smooth  # noqa: E402

from .helpers import deform_foot, evaluated_heads  # noqa: E402

FRAMES = dict(frame_start=1, frame_end=330)


def _values(action, obj) -> dict[tuple[str, int], np.ndarray]:
    return {k: v.co.astype(np.float64) for k, v in action_io.read_channels(action, obj).items()}


def _stashed(obj) -> list[str]:
    return [s.action.name for t in obj.animation_data.nla_tracks for s in t.strips if s.action is not None]


def test_fused_cleanup_matches_the_operators(world) -> None:
    source, target = world.obj("cmu_01_03"), world.targets["rigify"]
    world.select_pair(source, target)
    idle = bpy.data.actions.new("Idle")
    target.animation_data_create()
    action_io.assign_action(target, idle)

    # The operators' path: the raw retarget written, then foot lock and smoothing each on the written action.
    raw = retarget_with_report(source, target, RetargetOptions(action_name="raw", **FRAMES)).action
    lock = foot_lock(target)
    smoothed = smooth(target, 0.6)
    by_ops = smoothed.action
    assert by_ops.name == "raw_footlock_smooth"

    # The fused path: one retarget call, one action written (the raw take kept only when asked: not here).
    actions_before = set(bpy.data.actions.keys())
    action_io.assign_action(target, idle)
    report = retarget_with_report(source, target, RetargetOptions(action_name="fused", foot_lock=True, smooth=0.6,
                                                                  **FRAMES))
    fused = report.action
    assert set(bpy.data.actions.keys()) - actions_before == {"fused"}
    assert action_io.object_action(target) == fused and fused.name == "fused"
    assert fused.get(RETARGET_TAG) == raw.get(RETARGET_TAG) == source.animation_data.action.name
    assert fused.get(CLEANED_FROM) is None and "Idle" in _stashed(target)
    assert {"foot_lock", "smooth"} <= set(report.timings)
    assert "Foot lock: fused" in report.summary and "Smooth: fused" in report.summary

    # Key for key what the operators wrote (the operators read float32 keys back; the fused path does not).
    ops_keys, fused_keys = _values(by_ops, target), _values(fused, target)
    assert ops_keys.keys() == fused_keys.keys()
    worst = max(float(np.abs(fused_keys[ch] - ops_keys[ch]).max()) for ch in ops_keys)
    print(f"largest key difference fused vs operators: {worst:.2e}")
    assert worst < 2e-5, worst
    np.testing.assert_array_equal(np.array(fused[CONTACTS_PROP]), np.array(by_ops[CONTACTS_PROP]))
    # Its reports carry the operators' figures.
    assert lock.message().replace("raw_footlock", "fused") in report.summary, (report.summary, lock.message())
    assert smoothed.message().replace("raw_footlock_smooth", "fused") in report.summary, smoothed.message()

    # The clean-ups did their work: planted feet stop sliding (Blender's own evaluation of the deforming
    # feet), jitter falls.
    mask = C.decode_stored(fused[CONTACTS_PROP])
    assert mask.shape == (330, 2) and 0.1 < mask.mean() < 0.95
    take = rig_io.load(target)
    feet = [deform_foot(target, take.slots[f"foot.{s}"]) for s in ("L", "R")]
    after = evaluated_heads(target, feet, take.frames)
    bones = sorted(take.basis_rot)
    jitter_after = SM.jitter([take.pose().rot[b] for b in bones])
    action_io.assign_action(target, raw)
    before = evaluated_heads(target, feet, take.frames)
    raw_take = rig_io.load(target)
    jitter_before = SM.jitter([raw_take.pose().rot[b] for b in bones])
    for k, bone in enumerate(feet):
        s_before, s_after = (1000 * slide(h[bone], mask[:, k]) for h in (before, after))
        print(f"{bone}: slide {s_before:.2f} -> {s_after:.3f} mm/frame")
        assert s_after <= 1.0 and s_after < 0.5 * s_before, (bone, s_before, s_after)
    print(f"jitter {jitter_before:.4f} -> {jitter_after:.4f} deg/frame^2")
    assert jitter_after < 0.8 * jitter_before, (jitter_before, jitter_after)



def test_both_paths_key_the_ik_controls_as_the_take(world) -> None:
    """A take written with linear keys: the IK controls' keys the foot lock adds are linear on both paths (the
    operator's new curves take the take's interpolation, as the retarget-time clean-up writes them), so the two
    agree between frames too."""
    source, target = world.obj("cmu_01_03"), world.targets["rigify"]
    world.select_pair(source, target)
    frames = dict(frame_start=1, frame_end=90, interpolation="LINEAR")
    retarget_with_report(source, target, RetargetOptions(action_name="linear raw", **frames))
    by_ops = foot_lock(target).action
    fused = retarget_with_report(source, target, RetargetOptions(action_name="linear fused", foot_lock=True,
                                                                 **frames)).action
    ik = 'pose.bones["foot_ik.L"].location'
    kinds = {}
    for action in (by_ops, fused):
        curves = [fc for fc in action_io.action_fcurves(action, target) if fc.data_path == ik]
        assert len(curves) == 3, action.name
        kinds[action.name] = {kp.interpolation for fc in curves for kp in fc.keyframe_points}
    assert all(k == {"LINEAR"} for k in kinds.values()), kinds

def test_keep_raw_take_and_ab(world) -> None:
    """Keep Raw Take writes the take before the clean-ups too (in the NLA, the cleaned one made from it); A/B
    switches between the capture and the rig's previous action with or without it."""
    source, target = world.obj("cmu_01_01"), world.targets["rigify"]
    world.select_pair(source, target)
    idle = bpy.data.actions.new("Idle")
    target.animation_data_create()
    action_io.assign_action(target, idle)
    report = retarget_with_report(source, target, RetargetOptions(action_name="take", foot_lock=True, keep_raw=True,
                                                                  frame_start=1, frame_end=120))
    final = report.action
    raw = bpy.data.actions["take_raw"]
    assert final.name == "take" and final[CLEANED_FROM] == "take_raw" and raw.get(RETARGET_TAG)
    assert {"Idle", "take_raw"} <= set(_stashed(target))
    raw_keys, final_keys = _values(raw, target), _values(final, target)
    legs = 'pose.bones["thigh_fk.L"].rotation_quaternion'
    assert any(np.abs(final_keys[(legs, i)] - raw_keys[(legs, i)]).max() > 1e-3 for i in range(4)), "not locked"
    assert 'pose.bones["foot_ik.L"].location' not in {p for p, _ in raw_keys}  # the IK keys are the lock's
    bpy.context.view_layer.objects.active = target
    assert bpy.ops.move_mocap.ab_toggle() == {"FINISHED"}
    assert action_io.object_action(target) == idle
    assert bpy.ops.move_mocap.ab_toggle() == {"FINISHED"}
    assert action_io.object_action(target) == final

    # Without it, the previous action is still the A/B partner (only the capture is written).
    action_io.assign_action(target, idle)
    plain = retarget_with_report(source, target, RetargetOptions(action_name="take2", smooth=0.5, frame_start=1,
                                                                 frame_end=120)).action
    assert "take2_raw" not in bpy.data.actions and plain.get(CLEANED_FROM) is None
    assert bpy.ops.move_mocap.ab_toggle() == {"FINISHED"}
    assert action_io.object_action(target) == idle


def _animation_state(obj) -> tuple:
    """What a retarget may change on a rig: its action, its NLA (tracks, strips and their actions), every
    action in the file, and the object's and its pose bones' current transforms."""
    ad = obj.animation_data
    tracks = tuple((t.name, t.mute, tuple((s.name, s.action.name if s.action else None) for s in t.strips))
                   for t in ad.nla_tracks) if ad else ()
    poses = tuple((pb.name, tuple(pb.location), tuple(pb.rotation_quaternion), tuple(pb.scale))
                  for pb in obj.pose.bones)
    return (ad.action.name if ad and ad.action else None, tracks, tuple(sorted(bpy.data.actions.keys())),
            tuple(obj.location), tuple(obj.scale), poses)


def test_a_failing_clean_up_writes_nothing(world) -> None:
    """A clean-up that fails at retarget time leaves the rig as it was: an upper-body character (its legs
    removed: hips, spine, arms, head) retargets, but Foot Lock and Smoothing need both legs. With either on,
    the retarget raises naming the clean-up, the problem and the option to turn off; the rig's action, its
    NLA and the file's actions are unchanged (no raw take, no stashed previous action); so does the
    Retarget button, which reports the same message."""
    source, target = world.obj("cmu_01_01"), world.targets["mixamo"]
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    target.select_set(True)
    bpy.context.view_layer.objects.active = target
    bpy.ops.object.mode_set(mode="EDIT")
    edit = target.data.edit_bones
    for b in [b for b in edit if any(k in b.name for k in ("Leg", "Foot", "Toe"))]:
        edit.remove(b)
    bpy.ops.object.mode_set(mode="OBJECT")
    world.select_pair(source, target)
    frames = dict(frame_start=1, frame_end=60)
    # The rig itself retargets (the previous action is stashed: an NLA track to keep unchanged below).
    retarget_with_report(source, target, RetargetOptions(action_name="Idle", **frames))
    retarget_with_report(source, target, RetargetOptions(action_name="upper body", **frames))
    # A channel the previous action keys and the new one does not (a bone's scale): the retarget settles it
    # (to rest, the previous action being a retarget) before the clean-ups run; a failure puts it back.
    head = target.pose.bones[0]
    head.scale = (1.5, 1.5, 1.5)
    head.keyframe_insert("scale", frame=1)
    bpy.context.scene.frame_set(bpy.context.scene.frame_current)  # the pose as the rig's action evaluates it
    before = _animation_state(target)
    assert before[0] == "upper body" and before[1], before

    cases = [(dict(foot_lock=True, smooth=0.5, keep_raw=True), "Foot lock and smoothing at retarget time",
              "Foot Lock and Smoothing"),
             (dict(foot_lock=True), "Foot lock at retarget time", "Foot Lock"),
             (dict(smooth=0.5), "Smoothing at retarget time", "Smoothing")]
    for options, stage, fix in cases:
        with pytest.raises(ValueError) as failed:
            retarget_with_report(source, target, RetargetOptions(action_name="cleaned", **frames, **options))
        message = str(failed.value)
        assert message.startswith(stage) and "leg could not be found" in message, message
        assert f"Nothing was written (the rig keeps its action); retarget with {fix} off" in message, message
        assert _animation_state(target) == before

    settings = bpy.context.scene.move_mocap_retarget
    settings.foot_lock, settings.use_mapping = True, False
    try:
        with pytest.raises(RuntimeError, match=r"Foot lock at retarget time.*retarget with Foot Lock off"):
            bpy.ops.move_mocap.retarget(use_panel_settings=True, action_name="from panel", use_frame_range=True,
                                        frame_start=1, frame_end=60)
    finally:
        settings.foot_lock = False
    bpy.context.scene.frame_set(bpy.context.scene.frame_current)  # the pose as the action evaluates it, as before
    assert _animation_state(target) == before


def test_a_failing_write_writes_nothing(world, monkeypatch) -> None:
    """A failure while the retarget writes (the new action after the raw take, or assigning it) leaves the
    rig as it was: no stashed previous action, no raw take, no new action; a rig that had no animation data
    still has none."""
    from move_mocap.retarget import apply

    source, target = world.obj("cmu_01_01"), world.targets["mixamo"]
    world.select_pair(source, target)
    frames = dict(frame_start=1, frame_end=30)
    real_new = action_io.new_action

    def fail_second(name, *args, **kwargs):
        if not name.endswith("_raw"):
            raise RuntimeError("no room for the keys")
        return real_new(name, *args, **kwargs)

    def fail_assign(*args, **kwargs):
        raise RuntimeError("cannot assign")

    target.animation_data_clear()
    for patch in ((apply.action_io, "new_action", fail_second), (apply.action_io, "assign_action", fail_assign)):
        with monkeypatch.context() as m:
            m.setattr(*patch)
            before = _animation_state(target)
            with pytest.raises(RuntimeError):
                retarget_with_report(source, target, RetargetOptions(action_name="x", foot_lock=True, keep_raw=True,
                                                                     **frames))
        assert target.animation_data is None and _animation_state(target) == before
    retarget_with_report(source, target, RetargetOptions(action_name="Idle", **frames))
    before = _animation_state(target)
    for patch in ((apply.action_io, "new_action", fail_second), (apply.action_io, "assign_action", fail_assign)):
        with monkeypatch.context() as m:
            m.setattr(*patch)
            with pytest.raises(RuntimeError):
                retarget_with_report(source, target, RetargetOptions(action_name="x", foot_lock=True, keep_raw=True,
                                                                     **frames))
        assert _animation_state(target) == before, patch[1]


def test_source_contacts_come_along(world) -> None:
    """Foot contacts stored on the source action (as the MOTION_DATA import stores them) come along onto the
    new action at its frames (a sub-range here) and foot lock uses them; a malformed property is left out with
    a warning, and foot lock detects contacts instead."""
    source, target = world.obj("cmu_01_01"), world.targets["mixamo"]
    world.select_pair(source, target)
    lo = int(action_io.frame_range(source.animation_data.action, source)[0])
    stored = np.zeros((200, 2), dtype=bool)
    stored[30:90, 0] = stored[60:150, 1] = True
    source.animation_data.action[CONTACTS_PROP] = C.encode_stored(stored)
    report = retarget_with_report(source, target, RetargetOptions(action_name="sub", frame_start=lo + 20,
                                                                  frame_end=lo + 119))
    np.testing.assert_array_equal(C.decode_stored(report.action[CONTACTS_PROP]), stored[20:120])
    locked = retarget_with_report(source, target, RetargetOptions(action_name="locked", foot_lock=True,
                                                                  frame_start=lo + 20, frame_end=lo + 119))
    assert "(stored contacts" in locked.summary, locked.summary
    kept = C.decode_stored(locked.action[CONTACTS_PROP])
    assert kept.any() and not (kept & ~stored[20:120]).any()

    source.animation_data.action[CONTACTS_PROP] = "left, right"
    bad = retarget_with_report(source, target, RetargetOptions(action_name="bad", foot_lock=True,
                                                               frame_start=lo + 20, frame_end=lo + 119))
    assert any("not a list of ints" in w and "detected" in w for w in bad.warnings), bad.warnings
    assert "(detected contacts" in bad.summary, bad.summary

    # Stored contacts that do not cover the frames read are unknown there, not "never planted": detected.
    source.animation_data.action[CONTACTS_PROP] = C.encode_stored(stored[:100])
    short = retarget_with_report(source, target, RetargetOptions(action_name="short", foot_lock=True,
                                                                 frame_start=lo + 20, frame_end=lo + 119))
    assert any("not all the frames retargeted" in w for w in short.warnings), short.warnings
    assert "(detected contacts" in short.summary, short.summary


HOSTILE = {"inf": [1.0, float("inf")], "1e300": [1e300, 0.0], "string": "3333", "negative": [0, -1, -2, 3],
           "oversized": [1] * (C.MAX_STORED + 1)}


def test_hostile_stored_contacts_are_left_out(world) -> None:
    """A stored property a downloaded .blend may hold (floats, inf, 1e300, a string, negatives, an oversized
    array) is left out with a warning naming the problem, on the Apply path and on the Lock Feet path, which
    then detect contacts; nothing crashes."""
    source, target = world.obj("cmu_01_01"), world.targets["mixamo"]
    world.select_pair(source, target)
    lo = int(action_io.frame_range(source.animation_data.action, source)[0])
    opts = dict(frame_start=lo, frame_end=lo + 59)
    taken = retarget_with_report(source, target, RetargetOptions(action_name="plain", **opts)).action
    for name, value in HOSTILE.items():
        source.animation_data.action[CONTACTS_PROP] = value
        report = retarget_with_report(source, target, RetargetOptions(action_name=f"apply_{name}", **opts))
        assert CONTACTS_PROP not in report.action, name
        assert any(CONTACTS_PROP in w and "detected" in w for w in report.warnings), (name, report.warnings)
        if name in ("inf", "string", "negative"):
            action_io.assign_action(target, taken)
            taken[CONTACTS_PROP] = value
            lock = foot_lock(target, name=f"lock_{name}")
            assert lock.contacts_from == "detected", name
            assert any(CONTACTS_PROP in w and "detected" in w for w in lock.warnings), (name, lock.warnings)
    del source.animation_data.action[CONTACTS_PROP]


def test_pose_evaluates_the_legs_heads_only(world) -> None:
    """A clean-up's pose evaluates every bone's orientation but only the heads it uses (the legs', the IK
    controls' and those they follow): the same values as the whole evaluation, on Rigify's probed model."""
    from move_mocap.core.cleanup.rig_pose import evaluate

    source, target = world.obj("cmu_01_03"), world.targets["rigify"]
    retarget_with_report(source, target, RetargetOptions(action_name="take", frame_start=1, frame_end=90))
    take = rig_io.load(target)
    part = take.pose()
    whole = evaluate(take.model, take.basis_rot, take.basis_loc, len(take.frames), take.used)
    wanted = {take.slots[f"{p}.{s}"] for p in ("thigh", "shin", "foot", "toe") for s in "LR"}
    wanted |= {b for pair in take.ik.values() for b in pair if b}
    assert take.heads is not None and wanted <= set(part.head) < set(whole.head), sorted(part.head)
    assert part.rot.keys() == whole.rot.keys()
    for b, r in whole.rot.items():
        np.testing.assert_array_equal(part.rot[b], r, err_msg=b)
    for b, h in part.head.items():
        np.testing.assert_array_equal(h, whole.head[b], err_msg=b)
