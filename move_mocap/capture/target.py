"""Which armature a capture goes on (bpy layer): the panel's choice or the active armature, and finding the
armature a submission was aimed at again after a rename (a uuid kept on the object as an ID property).
Reads the scene's settings (:mod:`.props`); no drawing, no network."""

from __future__ import annotations

from typing import Any

import bpy

from .props import scene_props


def resolve_target(context: bpy.types.Context) -> bpy.types.Object | None:
    """The chosen armature, else the active object if it is an armature, else None (a new armature)."""
    props = scene_props(context)
    if props.target is not None:
        return props.target  # type: ignore[no-any-return]
    active = context.active_object
    if active is not None and active.type == "ARMATURE":
        return active
    return None


TARGET_TAG = "move_mocap_target"
"""ID property on a target armature: a uuid that finds it again after a rename (saved with the .blend)."""


def _tag(obj: Any) -> Any:
    return obj.get(TARGET_TAG)  # ID properties (the stubs type bpy_struct.get as returning nothing)


def tag_target(obj: bpy.types.Object) -> str:
    """The target's persistent tag (set on first use)."""
    uid = _tag(obj)
    if not isinstance(uid, str) or not uid:
        import uuid

        uid = uuid.uuid4().hex
        obj[TARGET_TAG] = uid
    return uid


def find_target(name: str, uid: str = "") -> bpy.types.Object | None:
    """The armature a submission was aimed at: by ``name``, else (renamed) by its tag ``uid``; None if gone."""
    obj = bpy.data.objects.get(name) if name else None
    named = obj if obj is not None and obj.type == "ARMATURE" else None
    if named is not None and (not uid or _tag(named) == uid):
        return named
    if uid:
        for cand in bpy.data.objects:
            if cand.type == "ARMATURE" and _tag(cand) == uid:
                return cand
    return named
