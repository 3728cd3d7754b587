"""Importers for every Move output (MAIN_FBX, MAIN_BLEND, MOTION_DATA, BVH, GLB): one operator,
``move_mocap.import_output``, and one Python function, :func:`import_output`, that the pipeline and the
headless script call. The bpy layer; format parsing that needs no bpy lives in ``move_mocap.core``.
Nothing here touches the network or runs code from the files it reads."""

from __future__ import annotations

from typing import Any


def import_output(*args: Any, **kwargs: Any) -> Any:
    """See :func:`move_mocap.importers.api.import_output` (imported lazily: it needs bpy)."""
    from .load import import_output as _impl

    return _impl(*args, **kwargs)
