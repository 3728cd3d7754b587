"""Reviewing and cleaning up a capture on the user's rig (bpy layer): foot locking, smoothing, A/B with the
previous action, the source armature beside the rig, and the footage camera; the "Review" panel.

Registered as one entry of :mod:`..registration`: ``CLASSES`` (operators, settings, panel) and the scene
property. The maths is in :mod:`..core.cleanup` (no bpy there)."""

from __future__ import annotations

from . import ops, panel

CLASSES = (*ops.CLASSES, *panel.CLASSES)


def register_extra() -> None:
    panel.register_extra()


def unregister_extra() -> None:
    panel.unregister_extra()
