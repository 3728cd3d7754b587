"""Retargeting onto the user's rig (bpy layer): the retarget engine's Blender side (:mod:`.apply`), bulk reading
and writing of actions across Blender's action APIs (:mod:`.action_io`, also used by the importers and the
review tools), the Retarget panel's settings (:mod:`.settings`), its operators (:mod:`.ops`) and the panel
(:mod:`.panel`).

The maths (mapping detection, skeletons, the solver, the options object) is in :mod:`..core.retarget` (no bpy
there). Each module is registered through :mod:`..registration`."""
