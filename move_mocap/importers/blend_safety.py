"""Nothing that can run survives an append from a downloaded .blend (bpy layer).

Appending armature data and actions also appends every ID they reference, notably through ID properties
(on the IDs and on their bones): text blocks (scripts, possibly registered to run as modules when the file
is opened), objects and other data with driver expressions, node groups. ``strip_appended`` deletes the ID
properties that point at other IDs, clears drivers on what is kept, and removes every other ID the append
created, whatever its type, so the user's file gains an armature and an action and nothing more.
Must not touch the network or import ``local_engine``.
"""

from __future__ import annotations

from typing import Any

import bpy

# Collections that are Blender's own UI state, never appended from a data file's references.
_SKIP = {"window_managers", "screens", "workspaces"}


def id_collections() -> list[str]:
    """Names of every ``bpy.data`` collection of IDs."""
    out = []
    for name in dir(bpy.data):
        if name.startswith("_") or name in _SKIP:
            continue
        coll = getattr(bpy.data, name, None)
        if isinstance(coll, bpy.types.bpy_prop_collection) and hasattr(coll, "remove"):
            out.append(name)
    return out


def snapshot() -> dict[str, set[int]]:
    """Pointers of every ID now in ``bpy.data``, per collection."""
    return {name: {x.as_pointer() for x in getattr(bpy.data, name)} for name in id_collections()}


def _holds_id(value: Any) -> bool:
    if isinstance(value, bpy.types.ID):
        return True
    if hasattr(value, "keys") and hasattr(value, "values"):  # IDPropertyGroup
        return any(_holds_id(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_id(v) for v in value)
    return False


def drop_id_properties(owner: Any) -> int:
    """Delete ``owner``'s custom properties that point at an ID (directly or nested); returns how many."""
    dropped = 0
    for key in list(owner.keys()):
        try:
            value = owner[key]
        except KeyError:
            continue
        if _holds_id(value):
            del owner[key]
            dropped += 1
    return dropped


def _clean_kept(idblock: Any) -> None:
    drop_id_properties(idblock)
    for bone in getattr(idblock, "bones", ()):
        drop_id_properties(bone)
    ad = getattr(idblock, "animation_data", None)
    if ad is not None and (len(ad.drivers) or ad.action is not None):
        idblock.animation_data_clear()  # drivers (possibly Python expressions) never come in


def strip_appended(before: dict[str, set[int]], keep: list[Any]) -> list[str]:
    """Make the IDs appended since ``before`` inert: ``keep`` (armature data, actions) loses ID-pointing
    properties and drivers; every other new ID is removed. Returns "collection:name" of what was removed."""
    kept = {x.as_pointer() for x in keep}
    for idblock in keep:
        _clean_kept(idblock)
    doomed = []
    for name in id_collections():
        known = before.get(name, set())
        doomed += [(name, x) for x in getattr(bpy.data, name) if x.as_pointer() not in known
                   and x.as_pointer() not in kept]
    removed = [f"{name}:{x.name}" for name, x in doomed]
    ids = [x for name, x in doomed if name != "scenes" or len(bpy.data.scenes) > 1]
    if ids:
        bpy.data.batch_remove(ids)
    return removed
