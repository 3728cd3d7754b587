"""Retarget engine tests: bpy-free core, behaviour in real Blender, accuracy on real CMU capture."""
