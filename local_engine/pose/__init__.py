"""Markerless capture for the local engine's mediapipe solver: decode, 2D/3D landmarks, filtering,
triangulation, skeleton fitting and the overlay video. No bpy here, and nothing that talks to a network:
every model this package runs ships inside the mediapipe wheel.
"""
