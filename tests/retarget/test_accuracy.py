"""Accuracy on real capture: CMU 01_01 and 01_03 (120 fps) retargeted onto a Rigify rig (FK controls), a
Mixamo-named rig, a UE5-named rig and rigs built to Auto-Rig Pro's (controls driving deforming bones through
constraints) and Character Creator's conventions, all with A-pose rests and their own bone rolls. Checked with
Blender's own depsgraph evaluation, frame by frame, independent of the engine's numpy kinematics: the
world-space direction of every limb segment (joint to next joint) must match the source's, the feet must not
sink below the floor the source stands on (as high above it as they stand at rest), and the head must stay with the hips (the trunk keeps its length
as the source's does: the upper body travels with the hips)."""

from __future__ import annotations

import numpy as np
import pytest

from .accuracy import segment_errors

PROFILES = {"rigify": "rigify_fk", "mixamo": "mixamo", "ue5": "unreal", "arp": "auto_rig_pro",
            "cc": "character_creator"}

bpy = pytest.importorskip("bpy")

from move_mocap.retarget.apply import RetargetOptions, retarget_with_report  # noqa: E402


def _trunk_lengths(obj: bpy.types.Object, hips: str, head: str, frames: list[int]) -> np.ndarray:
    """World distance from the hips bone's head to the head bone's head per frame, over the rest one."""
    mw = obj.matrix_world
    bones = obj.data.bones
    rest = (mw @ bones[head].head_local - mw @ bones[hips].head_local).length
    out = []
    for f in frames:
        bpy.context.scene.frame_set(f)
        out.append((mw @ obj.pose.bones[head].head - mw @ obj.pose.bones[hips].head).length / rest)
    return np.array(out)


def _rest_lowest(obj: bpy.types.Object, slots: dict[str, str]) -> float:
    """Height of the lowest foot point (heads and tails of feet and toes) above the object's origin at rest."""
    mw = obj.matrix_world
    bones = [obj.data.bones[slots[f"{p}.{s}"]] for p in ("foot", "toe") for s in ("L", "R")]
    return min(min((mw @ b.head_local).z, (mw @ b.tail_local).z) for b in bones) - mw.translation.z


@pytest.mark.parametrize("target_name", list(PROFILES))
@pytest.mark.parametrize("take", ["cmu_01_03", "cmu_01_01"])
def test_limb_directions_follow_source(world, take: str, target_name: str, blender_version) -> None:
    source = world.obj(take)
    target = world.targets[target_name]
    world.keep_only(source, target)  # fewer objects to evaluate per frame in the check
    report = retarget_with_report(source, target, RetargetOptions())
    assert report.mapping.target_profile == PROFILES[target_name]
    assert report.probed == (target_name in ("rigify", "arp"))  # rigs driven through constraints are probed
    assert report.mapping.source_profile == "cmu_bvh"
    lo, hi = (round(v) for v in report.action.frame_range)
    src_lo, src_hi = (round(v) for v in source.animation_data.action.frame_range)
    assert (lo, hi) == (src_lo, src_hi)
    frames = list(range(lo, hi + 1))
    errs, feet_t, feet_s = segment_errors(source, target, report.mapping.source, report.mapping.target, frames, frames)
    assert len(errs) == 10, sorted(errs)  # upper arm, forearm, thigh, shin, foot on both sides
    allv = np.concatenate(list(errs.values()))
    mean, worst = float(allv.mean()), float(allv.max())
    print(f"\nBlender {blender_version} {take} -> {target_name}: {len(frames)} frames, "
          f"mean {mean:.5f} deg, max {worst:.5f} deg, lowest foot {feet_t.min():.4f} (source floor {feet_s.min():.4f})")
    assert mean <= 1.0
    assert worst <= 5.0
    # The floor the source's feet touch (CMU's ground, its world's zero height) is scaled like the hips, about
    # the ground plane each object stands on (its origin's height); the target's lowest foot point stands on it
    # as high as at rest, never lower.
    origin_s, origin_t = source.matrix_world[2][3], target.matrix_world[2][3]
    floor = origin_t + report.scale * (0.0 - origin_s) + _rest_lowest(target, report.mapping.target)
    assert feet_t.min() >= floor - 1e-3, "target feet sink below the floor"
    # And they reach it as the source does: contacts stay contacts, scaled by the leg-length ratio.
    lift_t = np.median(feet_t - floor)
    lift_s = np.median(feet_s - feet_s.min()) * report.scale
    print(f"median lowest foot above floor: target {lift_t:.4f}, source x scale {lift_s:.4f}")
    assert abs(lift_t - lift_s) < 0.04
    # The head stays with the hips: the trunk bends as the source's does, it does not fold or come apart
    # (spines of other bone counts and rest curves shorten by a few percent more or less than the source's).
    some = frames[::10]
    m_s, m_t = report.mapping.source, report.mapping.target
    trunk_s = _trunk_lengths(source, m_s["hips"], m_s["head"], some)
    trunk_t = _trunk_lengths(target, m_t["hips"], m_t["head"], some)
    print(f"trunk length / rest: target {trunk_t.min():.3f}..{trunk_t.max():.3f}, "
          f"source {trunk_s.min():.3f}..{trunk_s.max():.3f}")
    assert np.abs(trunk_t - trunk_s).max() < 0.15


DEFORM_PAIRS = {
    "rigify": {"upper_arm.L": ("DEF-upper_arm.L", "DEF-forearm.L"), "shin.R": ("DEF-shin.R", "DEF-foot.R"),
               "forearm.R": ("DEF-forearm.R", "DEF-hand.R"), "thigh.L": ("DEF-thigh.L", "DEF-shin.L")},
    "arp": {"upper_arm.L": ("arm_stretch.l", "forearm_stretch.l"), "shin.R": ("leg_stretch.r", "foot.r"),
            "forearm.R": ("forearm_stretch.r", "hand.r"), "thigh.L": ("thigh_stretch.l", "leg_stretch.l")},
}


@pytest.mark.parametrize("target_name", ["rigify", "arp"])
def test_deform_bones_follow_controls(world, target_name: str) -> None:
    """The new action switches the rig's limbs to FK (Rigify's IK_FK, Auto-Rig Pro's ik_fk_switch; both rigs
    are in IK at rest), so the deforming bones follow the retargeted FK controls."""
    source = world.obj("cmu_01_03")
    target = world.targets[target_name]
    report = retarget_with_report(source, target, RetargetOptions(frame_start=100, frame_end=400))
    pairs = DEFORM_PAIRS[target_name]
    segs = {s: (s.replace("upper_arm", "forearm").replace("forearm.R", "hand.R").replace("shin", "foot")
                .replace("thigh", "shin")) for s in pairs}
    src_slots = report.mapping.source
    deform = dict(src_slots)
    tgt = {}
    for slot, (a, b) in pairs.items():
        tgt[slot], tgt[segs[slot]] = a, b
    frames = list(range(100, 401, 3))
    errs, _, _ = segment_errors(source, target, deform, tgt, frames, frames, segments=segs)
    assert len(errs) == 4
    allv = np.concatenate(list(errs.values()))
    assert allv.mean() <= 1.0 and allv.max() <= 5.0, {k: float(v.max()) for k, v in errs.items()}
