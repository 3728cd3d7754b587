"""The bpy-free core of move_mocap: API client, transfers, pipeline, journal and retarget maths.

Nothing in this package (or below it) may import ``bpy``; the tests import every module here with
``bpy`` blocked to prove it.
"""
