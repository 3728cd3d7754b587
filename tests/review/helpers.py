"""Shared steps of the review tests: a CMU take retargeted onto a test rig, and feet measured by Blender's
own evaluation (constraints, drivers, deforming bones), independent of the clean-up's numpy model."""

from __future__ import annotations

import bpy
import numpy as np

from move_mocap.retarget.apply import RetargetOptions, retarget_with_report


def retargeted(world, target_name: str, source: str = "cmu_01_01", frames: tuple[int, int] | None = (1, 600)):
    src = world.obj(source)
    tgt = world.targets[target_name]
    opts = RetargetOptions(frame_start=frames[0], frame_end=frames[1]) if frames else RetargetOptions()
    report = retarget_with_report(src, tgt, opts)
    bpy.context.view_layer.objects.active = tgt
    return tgt, report.action


def deform_foot(obj, mapped: str) -> str:
    """The bone the mesh follows for a mapped foot control (Rigify: DEF-foot.L for foot_fk.L)."""
    bones = obj.pose.bones
    if mapped.endswith(("_fk.L", "_fk.R")):
        name = "DEF-" + mapped.replace("_fk", "")
        if name in bones:
            return name
    return mapped


def evaluated_heads(obj, bones: list[str], frames) -> dict[str, np.ndarray]:
    """World-space heads of ``bones`` at ``frames``, as Blender evaluates the rig."""
    out: dict[str, list] = {b: [] for b in bones}
    scene = bpy.context.scene
    for f in frames:
        scene.frame_set(int(f))
        mw = obj.matrix_world
        for b in bones:
            out[b].append(np.array(mw @ obj.pose.bones[b].head))
    return {b: np.array(v) for b, v in out.items()}
