"""Retarget maths, bpy-free: quaternions (:mod:`.quat`), rest poses and forward kinematics
(:mod:`.skeleton`), the canonical humanoid, naming profiles and auto-mapping (:mod:`.mapping`), and the
solver that turns a source take into target pose channels (:mod:`.solver`). The Blender side lives in
``move_mocap/retarget/`` (``apply`` for the function API, ``ops``, ``settings`` and ``panel``)."""
