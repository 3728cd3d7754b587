"""Where the add-on's panels show: the "Move" tab of the 3D View's sidebar. :class:`MoveSidebarPanel` holds the
header every panel repeats (space, region, tab); each panel module defines its own panels with it. Nothing else
here: no drawing, no data."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the stubs type these names as Panel's own (literal choices); Blender needs a plain mixin
    from bpy.types import Panel as _Base
else:
    _Base = object


class MoveSidebarPanel(_Base):
    """Mixin of every panel of the add-on (before ``bpy.types.Panel`` in the bases)."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Move"
