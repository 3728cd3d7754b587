"""move_mocap: Move AI markerless motion capture for Blender.

This file only registers and unregisters. The bpy layer is imported lazily so that the bpy-free
core (``move_mocap.core``) can be imported and tested on plain CPython.
"""


def register() -> None:
    from . import registration

    registration.register()


def unregister() -> None:
    from . import registration

    registration.unregister()
