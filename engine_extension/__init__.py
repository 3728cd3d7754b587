"""Move Mocap Local Engine: carries the local engine (``local_engine/``) and the wheels it runs on, for the
Move Mocap add-on to start as a separate process with Blender's own Python (see docs/local_engine_packaging.md).

It registers nothing and imports none of its wheels into Blender: enabling it only makes Blender install
the wheels listed in its manifest. The add-on finds it by its package name.
"""

ENGINE_PACKAGE = "local_engine"


def register() -> None:
    pass


def unregister() -> None:
    pass
