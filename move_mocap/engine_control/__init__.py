"""The local engine from Blender (bpy layer): finding, starting, sharing and stopping it (:mod:`.engine`), its
Start and Stop operators (:mod:`.ops`), and what the user sees of it: the backend switch at the top of the Move
panel and the "Local Engine" sub-panel (:mod:`.panel`).

The engine itself (``local_engine/``) is another extension and is never imported here; the child process is
run by :mod:`..core.engine_process` (no bpy there). Each module is registered through :mod:`..registration`."""
