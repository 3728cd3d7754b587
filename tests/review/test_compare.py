"""Smoothing (jitter before/after, planted feet kept, fast motion kept), the A/B toggle, the source armature
beside the rig and the footage camera on real footage (Sports2D demo video), in real Blender."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from move_mocap.core.cleanup import contacts as C  # noqa: E402
from move_mocap.core.cleanup.footlock import slide  # noqa: E402
from move_mocap.retarget import action_io  # noqa: E402
from move_mocap.review import rig_io  # noqa: E402

from .helpers import evaluated_heads, retargeted  # noqa: E402


def test_smooth_reduces_jitter_and_keeps_feet(world) -> None:
    tgt, _raw = retargeted(world, "mixamo", "cmu_01_03", (1, 300))
    assert bpy.ops.move_mocap.foot_lock(contacts="DETECT") == {"FINISHED"}
    locked = action_io.object_action(tgt)
    from move_mocap.review.legs import smooth

    report = smooth(tgt, 0.6)
    print(report.message())
    assert report.action != locked and report.action.name.endswith("_smooth")
    assert report.jitter_after < 0.8 * report.jitter_before
    mask = C.decode_stored(report.action["move_foot_contacts"])
    take = rig_io.load(tgt)
    foot = take.slots["foot.L"]
    heads = evaluated_heads(tgt, [foot], take.frames)[foot]
    assert 1000 * slide(heads, mask[:, 0]) <= 1.0
    # Fast motion keeps its peaks: the hand's fastest frame stays within 15% of the raw speed.
    hand = take.slots["hand.R"]
    after = evaluated_heads(tgt, [hand], take.frames)[hand]
    action_io.assign_action(tgt, locked)
    before = evaluated_heads(tgt, [hand], take.frames)[hand]
    vb = np.linalg.norm(np.diff(before, axis=0), axis=1).max()
    va = np.linalg.norm(np.diff(after, axis=0), axis=1).max()
    assert 0.85 * vb < va <= 1.05 * vb, (vb, va)


def test_ab_toggle_and_source(world) -> None:
    tgt = world.targets["rigify"]
    tgt.animation_data_create()
    idle = bpy.data.actions.new("Idle")
    action_io.assign_action(tgt, idle)
    # Before any capture: nothing to compare with.
    bpy.context.view_layer.objects.active = tgt
    assert not bpy.ops.move_mocap.ab_toggle.poll()
    _, capture = retargeted(world, "rigify", "cmu_01_01", (1, 60))
    assert bpy.ops.move_mocap.ab_toggle() == {"FINISHED"}
    assert action_io.object_action(tgt) == idle and capture["move_mocap_previous"] == "Idle"
    assert bpy.ops.move_mocap.ab_toggle() == {"FINISHED"}
    assert action_io.object_action(tgt) == capture
    # The source armature (kept in this scene) is found from the capture and shown beside the rig.
    src = world.obj("cmu_01_01")
    src.hide_set(True)
    assert bpy.ops.move_mocap.source_toggle(offset=1.5) == {"FINISHED"}
    assert not src.hide_get() and tuple(src.delta_location) == pytest.approx((1.5, 0, 0))
    assert bpy.ops.move_mocap.source_toggle() == {"FINISHED"}
    assert src.hide_get()
    bpy.data.objects.remove(src)
    assert not bpy.ops.move_mocap.source_toggle.poll()


def test_footage_camera(world, demo_video) -> None:
    tgt, capture = retargeted(world, "mixamo", "cmu_01_01", (1, 90))
    bpy.context.scene.render.fps = 120
    assert bpy.ops.move_mocap.footage_camera(filepath=str(demo_video)) == {"FINISHED"}
    cam = bpy.context.scene.camera
    assert cam is not None and cam.type == "CAMERA" and cam.data.lens == 35.0
    bg = cam.data.background_images[0]
    assert bg.source == "MOVIE_CLIP" and bg.clip is not None and cam.data.show_background_images
    assert bg.clip.frame_start == int(action_io.frame_range(capture, tgt)[0])
    assert bpy.context.scene.render.fps / bpy.context.scene.render.fps_base == pytest.approx(bg.clip.fps, rel=1e-3)
    # The camera looks at the subject's hips from the front (the rig faces -Y), at hips height.
    bpy.context.scene.frame_set(1)
    hips = tgt.matrix_world @ tgt.pose.bones["mixamorig:Hips"].head
    to_hips = (hips - cam.location).normalized()
    view = cam.matrix_world.to_3x3() @ __import__("mathutils").Vector((0, 0, -1))
    assert view.dot(to_hips) > 0.999 and abs(cam.location.z - hips.z) < 0.05 and cam.location.y < hips.y
    assert bpy.ops.move_mocap.footage_camera() == {"FINISHED"}  # toggle off
    assert bpy.context.scene.camera != cam and not cam.data.show_background_images
    assert bpy.ops.move_mocap.footage_camera() == {"FINISHED"}  # and on again
    assert bpy.context.scene.camera == cam and cam.data.show_background_images
