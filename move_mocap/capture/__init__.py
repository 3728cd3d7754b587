"""Capture (bpy layer): footage in, Move results out. The scene's settings of a submission (:mod:`.props`), the
target armature (:mod:`.target`), the operators (:mod:`.ops`: Process, Cancel, Retry, Apply, history, share
codes), the "Move" panel with its Options, History and Share Code sub-panels (:mod:`.panel`), the session's
pipeline and the one apply path (:mod:`.runtime`), the API client built from the preferences with the Check
API Key operator (:mod:`.client`) and the poll rules of every network operator (:mod:`.network`).

The API client, the pipeline and the journal themselves are in :mod:`..core` (no bpy there). Each module is
registered through :mod:`..registration`."""
