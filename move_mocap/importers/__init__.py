"""Importing downloaded Move outputs (bpy layer): the kinds ``core.outputs`` marks importable (FBX, .blend,
MOTION_DATA, BVH, GLB). One Python function, :func:`import_output` (:mod:`.load`), which the apply path
(``capture.runtime.Runtime.apply_now``: Process, History and the CLI) calls, and one operator,
``move_mocap.import_output`` (:mod:`.ops`, File > Import). Which kind a file is: :mod:`.formats`; a safe
.blend append: :mod:`.blend_safety`; an armature from MOTION_DATA: :mod:`.motion_data_build`. Format parsing
that needs no bpy lives in ``move_mocap.core``. Nothing here touches the network or runs code from the files
it reads."""

from __future__ import annotations

from typing import Any


def import_output(*args: Any, **kwargs: Any) -> Any:
    """See :func:`move_mocap.importers.load.import_output` (imported lazily: it needs bpy)."""
    from .load import import_output as _impl

    return _impl(*args, **kwargs)
