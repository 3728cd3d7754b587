"""The footage beside the rig: a camera seeing the scene as the source camera did, with the video as its
background, synced with the capture's action (bpy layer, no operators here).

The camera: neither Move's outputs nor the local engine's carry a camera estimate today, so it is the
default a single-camera shoot usually has: in front of the subject (the side its hips face), at hips
height, looking at the hips, a 35 mm lens (full-frame equivalent), ``distance`` away; all adjustable
afterwards like any camera. The video: the overlay video the job downloaded (the footage with the tracked
skeleton drawn on it) if the journal has one for this capture, else the job's source video, else the first
video of the panel's footage list, else a path given to the operator. It is a movie-clip background of the
camera, starting at the action's first frame (plus an offset), and the scene's rate can be set to the
video's so one video frame is one action frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import numpy as np
from mathutils import Vector

from ..retarget import action_io
from .legs import CLEANED_FROM

FOR_RIG = "move_mocap_footage_for"  # on the camera object: the rig it shows
PREVIOUS_CAMERA = "move_mocap_previous_camera"  # on the scene: the camera to give back when hidden


def _lineage(action: Any) -> list[str]:
    names = []
    seen = set()
    while action is not None and action.name not in seen:
        seen.add(action.name)
        names.append(action.name)
        tagged: Any = action
        parent = tagged.get(CLEANED_FROM)
        action = bpy.data.actions.get(parent) if parent else None
    return names


def find_video(obj: bpy.types.Object, scene: Any) -> tuple[str, str]:
    """(path, where from) of the video for ``obj``'s capture, or ("", why none)."""
    names = _lineage(action_io.object_action(obj))
    try:
        from ..capture.runtime import RUNTIME

        rows = RUNTIME.journal().all()
    except Exception:  # no journal yet (nothing submitted): the panel's footage may still be there
        rows = []
    for row in rows:
        if row.applied_action and row.applied_action in names:
            overlay = row.outputs.get("RENDER_OVERLAY_VIDEO")
            if overlay and Path(overlay).is_file():
                return overlay, "overlay video"
            for f in row.spec.footage:
                if Path(f.path).is_file():
                    return f.path, "source video"
    settings = getattr(scene, "move_mocap", None)
    for item in getattr(settings, "footage", ()):
        path = bpy.path.abspath(item.filepath)
        if path and Path(path).is_file():
            return path, "footage list"
    return "", "no video found for this capture (pick one with the operator's Video path)"


def footage_camera(obj: bpy.types.Object) -> bpy.types.Object | None:
    o: Any
    for o in bpy.data.objects:
        if o.type == "CAMERA" and o.get(FOR_RIG) == obj.name:
            return o
    return None


def _subject(obj: bpy.types.Object, scene: Any, frame: float) -> tuple[Vector, Vector]:
    """World hips position and facing direction (horizontal) of the rig at ``frame``."""
    from ..retarget.apply import detect_mapping

    slots = detect_mapping(obj).slots
    scene.frame_set(int(round(frame)))
    mw = obj.matrix_world
    pb = obj.pose.bones  # type: ignore[union-attr]
    hips = mw @ pb[slots["hips"]].head if slots.get("hips") in pb else mw.translation.copy()
    forward = Vector((0.0, -1.0, 0.0))  # Blender's convention for characters
    if slots.get("thigh.L") in pb and slots.get("thigh.R") in pb:
        lateral = (mw @ pb[slots["thigh.L"]].head) - (mw @ pb[slots["thigh.R"]].head)
        lateral.z = 0.0
        if lateral.length > 1e-6:
            lat: Any = lateral.normalized()
            forward = Vector((lat.y, -lat.x, 0.0))  # lateral x up
    return hips, forward


def make_camera(obj: bpy.types.Object, scene: Any, video: str, distance: float = 4.0, lens: float = 35.0,
                frame_offset: int = 0, match_rate: bool = True) -> tuple[bpy.types.Object, list[str]]:
    """Create the footage camera for ``obj`` (replacing an earlier one), make it the scene's camera."""
    notes: list[str] = []
    action = action_io.object_action(obj)
    start = action_io.frame_range(action, obj)[0] if action is not None else float(scene.frame_start)
    old = footage_camera(obj)
    if old is not None:
        data = old.data
        bpy.data.objects.remove(old)
        if data is not None and not data.users:
            bpy.data.cameras.remove(data)  # type: ignore[arg-type]
    current = scene.frame_current
    hips, forward = _subject(obj, scene, start)
    scene.frame_set(current)
    cam_data = bpy.data.cameras.new(f"{obj.name} Footage")
    cam_data.lens = lens
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.sensor_width = 36.0
    cam = bpy.data.objects.new(f"{obj.name} Footage", cam_data)
    scene.collection.objects.link(cam)
    cam.location = hips + forward * distance
    cam.rotation_mode = "QUATERNION"
    cam.rotation_quaternion = (hips - cam.location).to_track_quat("-Z", "Y")
    cam[FOR_RIG] = obj.name
    if video:
        clip = bpy.data.movieclips.load(video, check_existing=True)
        clip.frame_start = int(round(start)) + int(frame_offset)
        bg = cam_data.background_images.new()
        bg.source = "MOVIE_CLIP"
        bg.clip = clip
        bg.alpha = 1.0
        cam_data.show_background_images = True
        size: Any = clip.size
        w, h = int(size[0]), int(size[1])
        if w and h:
            scene.render.resolution_x, scene.render.resolution_y = int(w), int(h)
        rate = float(getattr(clip, "fps", 0.0) or 0.0)
        scene_rate = scene.render.fps / scene.render.fps_base
        if rate > 0 and abs(rate - scene_rate) > 1e-3:
            if match_rate:
                scene.render.fps = int(np.ceil(rate))
                scene.render.fps_base = scene.render.fps / rate
                notes.append(f"scene rate set to the video's {rate:.3f} fps (was {scene_rate:.3f})")
            else:
                notes.append(f"the video runs at {rate:.3f} fps, the scene at {scene_rate:.3f}: frames drift")
    else:
        notes.append("no video: the camera has no background")
    if scene.camera is not None and scene.camera != cam:
        scene[PREVIOUS_CAMERA] = scene.camera.name
    scene.camera = cam
    return cam, notes


def toggle_camera(obj: bpy.types.Object, scene: Any, view_layer: Any) -> bool:
    """Show (True) or hide the rig's footage camera and its background; the scene's camera follows."""
    cam = footage_camera(obj)
    if cam is None:
        raise ValueError("no footage camera for this rig yet")
    data: Any = cam.data
    show = cam.hide_get(view_layer=view_layer) or not data.show_background_images or scene.camera != cam
    cam.hide_set(not show, view_layer=view_layer)
    data.show_background_images = bool(show and len(data.background_images))
    if show:
        if scene.camera is not None and scene.camera != cam:
            scene[PREVIOUS_CAMERA] = scene.camera.name
        scene.camera = cam
    else:
        prev = bpy.data.objects.get(scene.get(PREVIOUS_CAMERA, ""))
        scene.camera = prev if prev is not None and prev.type == "CAMERA" else None
    return bool(show)
