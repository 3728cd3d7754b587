"""Builds a Move-skeleton armature from a solved MOTION_DATA pose and keys it in bulk (bpy layer).

The maths (parsing, pose solving, local channels) is in ``move_mocap.core.motion_data``; this module only
creates the armature (T-pose rest, Z up, metres, ``_<actor>:`` bone names) and writes the action through
:mod:`..retarget.action_io`. It must not modify anything but what it creates.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from ..core.motion_data import MovePose, local_channels
from ..core.move_skeleton import bone_name
from ..retarget import action_io


def build_armature(pose: MovePose, name: str) -> tuple[Any, Any]:
    """A new armature object in the scene's collection, posed by a new action holding every frame of ``pose``."""
    context: Any = bpy.context
    arm: Any = bpy.data.armatures.new(name)
    obj: Any = bpy.data.objects.new(name, arm)
    context.scene.collection.objects.link(obj)
    view_layer = context.view_layer
    previous = view_layer.objects.active
    view_layer.objects.active = obj
    names = [bone_name(b, pose.actor) for b in pose.bones]
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        edit: list[Any] = []
        for b, n in enumerate(names):
            eb = arm.edit_bones.new(n)
            eb.head = pose.rest_heads[b].tolist()
            eb.tail = pose.rest_tails[b].tolist()
            eb.roll = 0.0
            p = pose.parents[b]
            if p >= 0:
                eb.parent = edit[p]
            edit.append(eb)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous if previous is not None else obj

    rest = np.array([np.array(arm.bones[n].matrix_local.to_3x3()) for n in names], dtype=np.float64)
    quats, loc = local_channels(pose, rest)
    keyed = pose.keyed()  # one key per frame (samples rounding alike: the first)
    quats, loc = quats[keyed], loc[keyed]
    frames = pose.frames[keyed].astype(np.float64)
    channels: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    groups: dict[str, str] = {}
    root = pose.parents.index(-1)
    for b, n in enumerate(names):
        obj.pose.bones[n].rotation_mode = "QUATERNION"
        path = f'pose.bones["{n}"].rotation_quaternion'
        for i in range(4):
            channels[(path, i)] = (frames, quats[:, b, i])
        groups[path] = n
        if b == root:
            lpath = f'pose.bones["{n}"].location'
            for i in range(3):
                channels[(lpath, i)] = (frames, loc[:, i])
            groups[lpath] = n
    action = action_io.new_action(name, obj, channels, groups)
    action_io.assign_action(obj, action)
    return obj, action
