"""A/B and side-by-side comparison of a capture on the user's rig (bpy layer, no operators here).

- The A/B pair: the retarget assigns the new capture and keeps the rig's previous action in a muted NLA
  track (``action_io.stash_action``). The pair is stored on the actions' custom properties the first time
  it is toggled: ``move_mocap_previous`` on the capture (clean-ups copy it along with the action), and
  ``move_mocap_capture`` on the previous action, so toggling back finds the capture even after renames
  of other actions.
- The source armature: an import with "keep source" leaves the imported armature in the scene; it is the
  armature whose active action is the one the capture was retargeted from (``move_mocap_retarget`` on the
  capture, set by the retarget engine).
"""

from __future__ import annotations

from typing import Any

import bpy

from ..retarget import action_io
from ..retarget.apply import RETARGET_TAG
from .legs import CLEANED_FROM

PREVIOUS = "move_mocap_previous"  # on a capture: the action the rig had before it
CAPTURE = "move_mocap_capture"  # on that previous action: the capture to toggle back to


def is_capture(action: Any) -> bool:
    return action is not None and (action.get(RETARGET_TAG) is not None or action.get(CLEANED_FROM) is not None)


def _stashed(obj: bpy.types.Object) -> list[bpy.types.Action]:
    ad = obj.animation_data
    if ad is None:
        return []
    return [s.action for t in ad.nla_tracks for s in t.strips if s.action is not None]


def partner(obj: bpy.types.Object) -> tuple[bpy.types.Action | None, str]:
    """The action the A/B toggle would switch to and why not (empty when there is one)."""
    action: Any = action_io.object_action(obj)
    if action is None:
        return None, "The active armature has no action"
    if action.get(CAPTURE) and bpy.data.actions.get(action[CAPTURE]) is not None:
        return bpy.data.actions[action[CAPTURE]], ""
    if not is_capture(action):
        return None, "The active action is not a capture (apply or retarget one first)"
    name = action.get(PREVIOUS)
    if name and bpy.data.actions.get(name) is not None:
        return bpy.data.actions[name], ""
    for candidate in reversed(_stashed(obj)):
        if candidate != action and not is_capture(candidate):
            return candidate, ""
    return None, "The rig had no action before this capture (nothing to compare with)"


def toggle(obj: bpy.types.Object) -> tuple[bpy.types.Action, bpy.types.Action]:
    """Switch the rig between the capture and its previous action; returns (now active, the other)."""
    current: Any = action_io.object_action(obj)
    other: Any
    other, problem = partner(obj)
    if other is None or current is None:
        raise ValueError(problem)
    if is_capture(current):
        current[PREVIOUS] = other.name
        other[CAPTURE] = current.name
    action_io.stash_action(obj, current)
    action_io.assign_action(obj, other)
    return other, current


def source_armature(obj: bpy.types.Object) -> tuple[bpy.types.Object | None, str]:
    """The imported armature the active capture came from, if the import kept it."""
    action: Any = action_io.object_action(obj)
    if not is_capture(action):
        return None, "The active action is not a capture"
    assert action is not None
    tag = action.get(RETARGET_TAG)
    if not tag:
        return None, "This capture was not retargeted from an imported armature"
    for o in bpy.data.objects:
        if o.type == "ARMATURE" and o != obj and action_io.object_action(o) is not None \
                and action_io.object_action(o).name == tag:  # type: ignore[union-attr]
            return o, ""
    return None, ("The imported armature was not kept (import again with 'Keep Source' to compare it with "
                  "the rig)")


def toggle_source(obj: bpy.types.Object, offset: float, view_layer: Any) -> bool:
    """Show (True) or hide the source armature, shown ``offset`` beside the rig (its delta location, so its
    own animation is untouched)."""
    src, problem = source_armature(obj)
    if src is None:
        raise ValueError(problem)
    show = src.hide_get(view_layer=view_layer) or src.hide_viewport
    src.hide_viewport = False
    src.hide_set(not show, view_layer=view_layer)
    if show:
        src.delta_location = (offset, 0.0, 0.0)
    return bool(show)
