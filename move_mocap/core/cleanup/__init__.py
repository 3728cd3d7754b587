"""Clean-up maths for captured motion: foot contacts, foot locking and smoothing (numpy only, no bpy here)."""
