"""Scene and window-manager properties of the Move workflow: footage lists, options, target armature,
and, runtime only on the window manager, the history list, the actors of finished results with the rig each
goes to, and what the server offers for multi-camera takes (lenses, volumes).

Only settings of a submission live on the Scene (they are saved with the .blend). The API key never does:
it lives in the preferences' secret store. No network, no threads here.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..bl_types import BLEND_RELATIVE_PATH
from ..core import outputs as output_kinds

#: The panel's output choices: Move's output kinds from the one registry (the bits are saved in .blend files).
OUTPUT_ITEMS = [(o.key, o.label, o.description, o.flag) for o in output_kinds.OUTPUTS]


def _armature_poll(_self: Any, obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE"


class MOVE_MOCAP_PG_footage(bpy.types.PropertyGroup):
    filepath: StringProperty(  # type: ignore[valid-type]
        name="Video", subtype="FILE_PATH", options=BLEND_RELATIVE_PATH,
        description="The video file (a path starting with // is relative to the .blend file)")
    device_label: StringProperty(  # type: ignore[valid-type]
        name="Camera", description="The camera's label (unique per camera; empty: cam01, cam02, ...)")
    lens: StringProperty(  # type: ignore[valid-type]
        name="Lens", maxlen=64,
        description=("The camera's lens as the server knows it (offered from its list, listCameraSettings, once "
                     "loaded; empty: the server estimates it)"))


class MOVE_MOCAP_PG_history(bpy.types.PropertyGroup):
    job_id: StringProperty()  # type: ignore[valid-type]
    submission_id: StringProperty()  # type: ignore[valid-type]
    title: StringProperty()  # type: ignore[valid-type]
    state: StringProperty()  # type: ignore[valid-type]
    detail: StringProperty()  # type: ignore[valid-type]
    created: StringProperty()  # type: ignore[valid-type]
    local: BoolProperty()  # type: ignore[valid-type]
    downloaded: BoolProperty()  # type: ignore[valid-type]


def _history_selected(self: Any, context: bpy.types.Context) -> None:
    from .runtime import RUNTIME  # the actors of the selected result are read now, not while drawing

    if 0 <= self.index < len(self.items) and self.items[self.index].submission_id:
        RUNTIME.load_actors(self.items[self.index].submission_id)


class MOVE_MOCAP_PG_history_list(bpy.types.PropertyGroup):
    items: CollectionProperty(type=MOVE_MOCAP_PG_history)  # type: ignore[valid-type]
    index: IntProperty(default=0, update=_history_selected)  # type: ignore[valid-type]
    error: StringProperty()  # type: ignore[valid-type]


class MOVE_MOCAP_PG_actor(bpy.types.PropertyGroup):
    """One person a finished job found (``actor`` 0: seen, not captured) and the rig their motion goes to."""

    submission_id: StringProperty()  # type: ignore[valid-type]
    person: IntProperty()  # type: ignore[valid-type]
    actor: IntProperty()  # type: ignore[valid-type]
    summary: StringProperty()  # type: ignore[valid-type]
    note: StringProperty()  # type: ignore[valid-type]  # the job's note on its people (e.g. fewer than asked)
    thumbnail: StringProperty()  # type: ignore[valid-type]  # the key of the person's picture (capture.thumbnails)
    can_capture: BoolProperty()  # type: ignore[valid-type]  # seen only, and a new job on the take may capture them
    use: BoolProperty(name="Apply", default=True, description="Apply this actor's motion")  # type: ignore[valid-type]
    target: PointerProperty(  # type: ignore[valid-type]
        name="Rig", type=bpy.types.Object, poll=_armature_poll,
        description="The rig this actor's motion goes to (empty: a new armature for this actor)")


class MOVE_MOCAP_PG_actor_list(bpy.types.PropertyGroup):
    items: CollectionProperty(type=MOVE_MOCAP_PG_actor)  # type: ignore[valid-type]


class MOVE_MOCAP_PG_choice(bpy.types.PropertyGroup):
    """A value the server offers (a lens name); ``name`` is the value."""


class MOVE_MOCAP_PG_volume_choice(bpy.types.PropertyGroup):
    """One of the server's volumes; ``name`` is its id (what a search field sets)."""

    title: StringProperty()  # type: ignore[valid-type]
    state: StringProperty()  # type: ignore[valid-type]
    reason: StringProperty()  # type: ignore[valid-type]
    human_height: FloatProperty(unit="LENGTH")  # type: ignore[valid-type]


class MOVE_MOCAP_PG_server_choices(bpy.types.PropertyGroup):
    """What the server offers for multi-camera takes (filled by the runtime from a worker's listing)."""

    lenses: CollectionProperty(type=MOVE_MOCAP_PG_choice)  # type: ignore[valid-type]
    volumes: CollectionProperty(type=MOVE_MOCAP_PG_volume_choice)  # type: ignore[valid-type]
    state: StringProperty()  # type: ignore[valid-type]  # "", "loading", "loaded"
    error: StringProperty()  # type: ignore[valid-type]


def _camera_mode_changed(self: Any, context: bpy.types.Context) -> None:
    if self.camera_mode == "MULTI":
        from .runtime import RUNTIME  # the server's lenses and volumes, listed off the main thread

        RUNTIME.load_capture_choices(context)  # None when offline: the refresh button's poll says why


class MOVE_MOCAP_PG_scene(bpy.types.PropertyGroup):
    camera_mode: EnumProperty(  # type: ignore[valid-type]
        name="Cameras",
        items=[("SINGLE", "Single Camera", "One video of one camera (models S1, S2)"),
               ("MULTI", "Multi-Camera", "Several synchronised cameras (models M1, M2) and a calibration volume")],
        default="SINGLE", update=_camera_mode_changed,
    )
    footage: CollectionProperty(type=MOVE_MOCAP_PG_footage)  # type: ignore[valid-type]
    footage_index: IntProperty(default=0)  # type: ignore[valid-type]
    calibration: CollectionProperty(type=MOVE_MOCAP_PG_footage)  # type: ignore[valid-type]
    calibration_index: IntProperty(default=0)  # type: ignore[valid-type]
    use_take_for_calibration: BoolProperty(  # type: ignore[valid-type]
        name="Calibrate From the Take",
        description="Build the volume from the take's own videos (off: separate calibration footage)",
        default=True,
    )
    calibration_file: StringProperty(  # type: ignore[valid-type]
        name="Calibration File", subtype="FILE_PATH", maxlen=1024,
        description="The cameras' calibration you already have (Pose2Sim .toml or Qualisys .qca.txt), given to "
                    "the volume instead of calibrating from the person (the local engine reads it)")
    human_height: FloatProperty(  # type: ignore[valid-type]
        name="Human Height", description="Height of the person in the calibration footage",
        default=1.75, min=0.5, max=2.6, unit="LENGTH")
    volume_source: EnumProperty(  # type: ignore[valid-type]
        name="Volume", default="NEW",
        items=[("NEW", "Calibrate", "Calibrate a new volume from film of a person walking through the area"),
               ("EXISTING", "Reuse", "Reuse a finished volume filmed with the same cameras (no calibration)")])
    volume_id: StringProperty(  # type: ignore[valid-type]
        name="Volume", maxlen=128, description="The finished volume to reuse (its id on the server)")
    sync_method: EnumProperty(  # type: ignore[valid-type]
        name="Sync", default="NONE",
        items=[("NONE", "None", "No sync method: the cameras are aligned from the motion itself"),
               ("CLAP", "Clap", "A clap filmed by every camera within the clap window aligns them"),
               ("TIMECODE", "Timecode", "The videos' timecode says they are in sync")])
    clap_start: FloatProperty(  # type: ignore[valid-type]
        name="Clap From", default=0.0, min=0.0, unit="TIME_ABSOLUTE",
        description="Start of the window (seconds into the videos) in which the clap happens")
    clap_end: FloatProperty(  # type: ignore[valid-type]
        name="To", default=3.0, min=0.0, unit="TIME_ABSOLUTE",
        description="End of the window (seconds into the videos) in which the clap happens")
    area_type: EnumProperty(  # type: ignore[valid-type]
        name="Area", items=[("NORMAL", "Normal", "Capture area up to about 5 x 5 m"),
                            ("LARGE", "Large", "A larger capture area")], default="NORMAL")
    model_single: EnumProperty(  # type: ignore[valid-type]
        name="Model", items=[("S1", "S1", "Move's first single-camera model"),
                             ("S2", "S2", "Move's newer single-camera model")], default="S2")
    model_multi: EnumProperty(  # type: ignore[valid-type]
        name="Model", items=[("M1", "M1", "Move's first multi-camera model"),
                             ("M2", "M2", "Move's newer multi-camera model")], default="M2")
    track_fingers: BoolProperty(name="Fingers", default=False)  # type: ignore[valid-type]
    track_ball: BoolProperty(name="Ball", default=False)  # type: ignore[valid-type]
    floor_plane: BoolProperty(name="Floor Plane", default=False)  # type: ignore[valid-type]
    floor_plane_local: BoolProperty(  # type: ignore[valid-type]
        name="Floor Plane", default=True,
        description=("The local engine finds the floor and keeps planted feet on it (its best result); off: the "
                     "feet follow the pose model alone"))
    number_of_actors: IntProperty(name="Actors", default=1, min=1, max=10)  # type: ignore[valid-type]
    use_clip_window: BoolProperty(name="Clip Window", default=False)  # type: ignore[valid-type]
    clip_start: FloatProperty(name="Start", default=0.0, min=0.0, unit="TIME_ABSOLUTE")  # type: ignore[valid-type]
    clip_end: FloatProperty(name="End", default=10.0, min=0.0, unit="TIME_ABSOLUTE")  # type: ignore[valid-type]
    outputs: EnumProperty(  # type: ignore[valid-type]
        name="Outputs", items=OUTPUT_ITEMS, options={"ENUM_FLAG"}, default=set(output_kinds.DEFAULT_KEYS))
    target: PointerProperty(  # type: ignore[valid-type]
        name="Target Armature", type=bpy.types.Object, poll=_armature_poll,
        description="The rig to put the animation on (empty: the active armature; none: a new armature)")
    take_name: StringProperty(name="Name", description="Name of the take and job (empty: the video's)")  # type: ignore[valid-type]
    share_code: StringProperty(  # type: ignore[valid-type]
        name="Share Code", description="The 8-digit code shown by the Move One app", maxlen=12,
        options={"SKIP_SAVE"})


def scene_props(context: bpy.types.Context) -> MOVE_MOCAP_PG_scene:
    return context.scene.move_mocap  # type: ignore[no-any-return,union-attr]


def history(context: bpy.types.Context) -> MOVE_MOCAP_PG_history_list:
    return context.window_manager.move_mocap_history  # type: ignore[no-any-return,union-attr]


def actors(context: bpy.types.Context, sid: str) -> list[MOVE_MOCAP_PG_actor]:
    """The people found by submission ``sid``'s job (empty when it found no one worth listing)."""
    wm = context.window_manager
    found = getattr(wm, "move_mocap_actors", None)
    return [a for a in found.items if a.submission_id == sid] if found is not None else []


def server_choices(context: bpy.types.Context) -> MOVE_MOCAP_PG_server_choices | None:
    return getattr(context.window_manager, "move_mocap_choices", None)


CLASSES = (MOVE_MOCAP_PG_footage, MOVE_MOCAP_PG_history, MOVE_MOCAP_PG_history_list, MOVE_MOCAP_PG_actor,
           MOVE_MOCAP_PG_actor_list, MOVE_MOCAP_PG_choice, MOVE_MOCAP_PG_volume_choice,
           MOVE_MOCAP_PG_server_choices, MOVE_MOCAP_PG_scene)


def register_extra() -> None:
    bpy.types.Scene.move_mocap = PointerProperty(type=MOVE_MOCAP_PG_scene)  # type: ignore[attr-defined,func-returns-value]
    bpy.types.WindowManager.move_mocap_history = PointerProperty(  # type: ignore[attr-defined,func-returns-value]
        type=MOVE_MOCAP_PG_history_list)
    bpy.types.WindowManager.move_mocap_actors = PointerProperty(  # type: ignore[attr-defined,func-returns-value]
        type=MOVE_MOCAP_PG_actor_list)
    bpy.types.WindowManager.move_mocap_choices = PointerProperty(  # type: ignore[attr-defined,func-returns-value]
        type=MOVE_MOCAP_PG_server_choices)


def unregister_extra() -> None:
    del bpy.types.WindowManager.move_mocap_choices  # type: ignore[attr-defined]
    del bpy.types.WindowManager.move_mocap_actors  # type: ignore[attr-defined]
    del bpy.types.WindowManager.move_mocap_history  # type: ignore[attr-defined]
    del bpy.types.Scene.move_mocap  # type: ignore[attr-defined]
