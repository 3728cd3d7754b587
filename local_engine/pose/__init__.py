"""Markerless capture for the local engine's mediapipe solver: decode, 2D/3D landmarks, filtering,
triangulation, skeleton fitting and the overlay video. No bpy here, and nothing that talks to a network:
every model this package runs ships inside the mediapipe 0.10.21 wheel (for mediapipe >= 0.10.30, as
bundles built from it: local_engine/pose/landmarker.py).
"""
