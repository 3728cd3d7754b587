"""Foot locking on the user's rig, measured by Blender's own evaluation of the deforming feet (constraints
included): CMU takes retargeted onto the Rigify rig and the Mixamo-named rig (object rotated and scaled as
an FBX import gives it); slide during contacts before/after, knee angle change, no pop at the blends, the
upper body untouched, a new action (the old one kept and unchanged), one operator call."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from move_mocap.core.cleanup import contacts as C  # noqa: E402
from move_mocap.core.cleanup.footlock import slide  # noqa: E402
from move_mocap.retarget import action_io  # noqa: E402
from move_mocap.review import rig_io  # noqa: E402

from .helpers import deform_foot, evaluated_heads, retargeted  # noqa: E402


def _keys(action, obj):
    return {k: v.co.copy() for k, v in action_io.read_channels(action, obj).items()}


@pytest.mark.parametrize("target_name,source", [("rigify", "cmu_01_01"), ("mixamo", "cmu_01_03")])
def test_foot_lock_plants_feet(world, target_name, source) -> None:
    tgt, raw = retargeted(world, target_name, source, (1, 330))
    before_keys = _keys(raw, tgt)
    assert bpy.ops.move_mocap.foot_lock(contacts="DETECT") == {"FINISHED"}
    new = action_io.object_action(tgt)
    assert new is not None and new != raw and new.name.endswith("_footlock")
    assert raw.name in bpy.data.actions and _keys(raw, tgt).keys() == before_keys.keys()
    assert all(np.array_equal(v, before_keys[k]) for k, v in _keys(raw, tgt).items()), "the old action changed"
    assert any(s.action == raw for t in tgt.animation_data.nla_tracks for s in t.strips), "old action not kept"
    mask = C.decode_stored(new["move_foot_contacts"])
    assert mask.shape == (330, 2) and 0.1 < mask.mean() < 0.95, mask.mean()

    take = rig_io.load(tgt)
    feet = [deform_foot(tgt, take.slots[f"foot.{s}"]) for s in ("L", "R")]
    frames = take.frames
    after = evaluated_heads(tgt, feet, frames)
    action_io.assign_action(tgt, raw)
    before = evaluated_heads(tgt, feet, frames)
    action_io.assign_action(tgt, new)
    for k, bone in enumerate(feet):
        s_before = 1000 * slide(before[bone], mask[:, k])
        s_after = 1000 * slide(after[bone], mask[:, k])
        print(f"{target_name} {source} {bone}: slide {s_before:.2f} -> {s_after:.3f} mm/frame")
        assert s_after <= 1.0, (bone, s_after)
        assert s_after < 0.5 * s_before, (bone, s_before, s_after)
        # Away from contacts and their blends the foot is where the capture put it.
        far = ~np.convolve(mask[:, k], np.ones(2 * 20 + 1), "same").astype(bool)
        if far.any():
            assert np.abs(after[bone][far] - before[bone][far]).max() < 1e-4

    # The upper body and arms are untouched: their channels are the raw action's, key for key.
    legs = {take.slots[f"{p}.{s}"] for p in ("thigh", "shin", "foot") for s in ("L", "R")}
    ik = {b for pair in take.ik.values() for b in pair if b}
    new_keys = _keys(new, tgt)
    for (path, i), co in before_keys.items():
        bone = path.split('"')[1] if path.startswith("pose.bones") else None
        if bone not in legs | ik:
            np.testing.assert_array_equal(new_keys[(path, i)], co, err_msg=path)


def test_foot_lock_report_figures(world) -> None:
    """The report's figures: slide before/after, knee change and no added pop at the blends (> 5 deg/frame)."""
    from move_mocap.review.legs import foot_lock

    tgt, _raw = retargeted(world, "rigify", "cmu_01_03", (1, 330))
    report = foot_lock(tgt, "DETECT")
    print(report.message(), f"added step {report.max_step_deg:.2f} deg/frame")
    assert report.slide_after_mm <= 1.0 < report.slide_before_mm
    assert 0.0 < report.knee_change_deg < 45.0
    assert report.max_step_deg <= 5.0
    # Rigify's leg IK controls are keyed onto the locked legs.
    keyed = {fc.data_path for fc in action_io.action_fcurves(report.action, tgt)}
    assert 'pose.bones["foot_ik.L"].location' in keyed and 'pose.bones["foot_ik.R"].rotation_quaternion' in keyed


def test_stored_contacts_are_used(world) -> None:
    """Contacts stored with the capture (as the MOTION_DATA import stores them) are what is locked."""
    from move_mocap.review.legs import foot_lock

    tgt, raw = retargeted(world, "mixamo", "cmu_01_01", (1, 200))
    stored = np.zeros((200, 2), dtype=bool)
    stored[20:80, 0] = True
    stored[100:160, 1] = True
    raw["move_foot_contacts"] = [int(a) | (int(b) << 1) for a, b in stored]
    report = foot_lock(tgt, "AUTO")
    assert report.contacts_from == "stored"
    assert report.contact_frames == {"L": 60, "R": 60}
    with pytest.raises(ValueError, match="no stored foot contacts"):
        del report.action["move_foot_contacts"]
        foot_lock(tgt, "STORED")


def test_poll_messages(world) -> None:
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    bpy.context.view_layer.objects.active = None
    assert not bpy.ops.move_mocap.foot_lock.poll()
    tgt = world.targets["mixamo"]
    bpy.context.view_layer.objects.active = tgt
    if tgt.animation_data:
        tgt.animation_data.action = None
    assert not bpy.ops.move_mocap.smooth.poll()
    from move_mocap.review.ops import rig_problem

    assert "no action" in rig_problem(bpy.context)


def test_foot_lock_and_smoothing_at_retarget_time(world) -> None:
    """The Retarget panel's Foot Lock and Smoothing run in the retarget's own call (so Process, Apply and the
    Retarget button clean up in the same undo step): the rig ends with the smoothed, locked capture (still a
    capture, its figures in the report), the only action written; the operator, pressed from the panel's
    button, reads the panel's settings itself (Keep Raw Take included)."""
    from move_mocap.core.cleanup import smoothing as SM
    from move_mocap.core.retarget.options import RetargetOptions
    from move_mocap.retarget.apply import RETARGET_TAG, retarget_with_report

    source, target = world.obj("cmu_01_01"), world.targets["mixamo"]
    world.select_pair(source, target)
    frames = dict(frame_start=1, frame_end=200)
    raw = retarget_with_report(source, target, RetargetOptions(action_name="plain", **frames))
    report = retarget_with_report(source, target, RetargetOptions(action_name="clean", foot_lock=True, smooth=0.6,
                                                                  **frames))
    final = action_io.object_action(target)
    assert final == report.action and final.name == "clean", final.name
    assert final.get(RETARGET_TAG) == raw.action.get(RETARGET_TAG) == source.animation_data.action.name
    assert not {"clean_raw", "clean_footlock", "clean_footlock_smooth"} & set(bpy.data.actions.keys())
    assert "Foot lock:" in report.summary and "Smooth:" in report.summary
    assert {"foot_lock", "smooth"} <= set(report.timings)
    action_io.assign_action(target, raw.action)
    take_raw = rig_io.load(target)
    action_io.assign_action(target, final)
    take_final = rig_io.load(target)
    bones = sorted(set(take_raw.basis_rot) & set(take_final.basis_rot))
    before = SM.jitter([take_raw.pose().rot[b] for b in bones])
    after = SM.jitter([take_final.pose().rot[b] for b in bones])
    print(f"jitter {before:.4f} -> {after:.4f} deg/frame^2")
    assert after < 0.8 * before, (before, after)

    settings = bpy.context.scene.move_mocap_retarget
    settings.foot_lock, settings.smooth, settings.keep_raw, settings.use_mapping = True, 0.3, True, False
    try:
        assert bpy.ops.move_mocap.retarget(use_panel_settings=True, action_name="from panel", use_frame_range=True,
                                           frame_start=1, frame_end=60) == {"FINISHED"}
        assert action_io.object_action(target).name == "from panel"
        assert "from panel_raw" in {s.action.name for t in target.animation_data.nla_tracks for s in t.strips}
        assert bpy.ops.move_mocap.retarget(action_name="scripted", use_frame_range=True, frame_start=1,
                                           frame_end=60) == {"FINISHED"}
        assert action_io.object_action(target).name == "scripted"  # a script gives its own options
        assert "scripted_raw" not in bpy.data.actions
    finally:
        settings.foot_lock, settings.smooth, settings.keep_raw = False, 0.0, False
