"""Retarget maths, bpy-free: quaternions (:mod:`.quat`), rest poses and forward kinematics
(:mod:`.skeleton`), the canonical humanoid, naming profiles and auto-mapping (:mod:`.mapping`), the
solver that turns a source take into target pose channels (:mod:`.solver`), and the line a user reads after
a retarget with its floor warnings (:mod:`.report`). The Blender side lives in
``move_mocap/retarget/`` (``apply`` for the function API, ``ops``, ``settings`` and ``panel``)."""
