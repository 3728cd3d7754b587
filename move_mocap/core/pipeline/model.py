"""What a submission is: the user's request (``SubmissionSpec``), its stages and states.

Plain data, JSON round-trippable (the journal stores the spec). Validation returns an error string or None
(so the bpy layer can show it in a poll message); it reads the videos' headers (``preflight``) and nothing
else. No network, no bpy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .. import outputs as output_kinds
from ..people import MAX_PEOPLE
from ..safe_paths import UnsafeNameError, check_name, shown
from .preflight import VIDEO_SUFFIXES as VIDEO_SUFFIXES  # re-exported
from .preflight import calibration_file_problem, footage_problem

SINGLE_MODELS = ("S1", "S2")
DEFAULT_HUMAN_HEIGHT = 1.75  # metres
MULTI_MODELS = ("M1", "M2")


class Stage(StrEnum):
    """The last stage a submission finished (each one is journaled before the next starts)."""

    NEW = "new"
    FILES = "files"            # file records created (ids journaled)
    UPLOADED = "uploaded"      # every byte sent
    VOLUME = "volume"          # multi-camera: the calibration volume exists and is ready
    TAKE = "take"              # take created
    JOB = "job"                # job created
    PROCESSED = "processed"    # job FINISHED on the server
    DOWNLOADED = "downloaded"  # outputs on disk; waiting to be applied
    APPLIED = "applied"        # applied to a rig by the bpy layer

    @property
    def order(self) -> int:
        return list(Stage).index(self)


class State(StrEnum):
    ACTIVE = "active"          # worker running (or to be resumed)
    FAILED = "failed"          # stopped at a stage with an error; Retry resumes it
    CANCELLED = "cancelled"    # stopped by the user; ids kept, Retry resumes it
    READY = "ready"            # outputs downloaded, waiting to be applied
    DONE = "done"              # applied

    @property
    def unfinished(self) -> bool:
        return self is State.ACTIVE


class Kind(StrEnum):
    SUBMISSION = "submission"  # footage submitted from this machine
    ADOPTED = "adopted"        # an existing server job downloaded for (re-)applying
    SHARE = "share"            # a Move One share code


@dataclass(frozen=True)
class Footage:
    path: str
    device_label: str = ""
    lens: str = ""

    @property
    def suffix(self) -> str:
        return Path(self.path).suffix.lower()


@dataclass(frozen=True)
class SubmissionSpec:
    """Everything needed to (re)run a submission; no secrets."""

    footage: tuple[Footage, ...]
    multi_camera: bool = False
    calibration: tuple[Footage, ...] = ()  # multi-camera: volume footage (empty: the take's own videos)
    model: str = "S1"
    track_fingers: bool = False
    track_ball: bool = False
    floor_plane: bool = False
    number_of_actors: int = 1
    clip_window: tuple[float, float] | None = None
    outputs: tuple[str, ...] = ("MAIN_FBX",)
    human_height: float = DEFAULT_HUMAN_HEIGHT
    area_type: str = "NORMAL"
    volume_id: str = ""  # multi-camera: reuse this finished volume (empty: calibrate one from the footage)
    sync_window: tuple[float, float] | None = None  # multi-camera: clap window (s) the cameras sync on
    sync_timecode: bool = False  # multi-camera: the videos' timecode says they are in sync
    take_id: str = ""  # a take already on the server: a new job on it (nothing uploaded, no take created)
    person: int = 0  # single camera: capture this person of an earlier job's ``people`` (0: the main subject)
    calibration_file: str = ""  # multi-camera: the cameras' calibration (Pose2Sim .toml, Qualisys .qca.txt) as the volume
    name: str = ""
    target: str = ""        # the armature object's name, for the bpy layer
    blend_file: str = ""    # the .blend it was submitted from
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> str | None:
        """Why this spec cannot be submitted, or None."""
        if not self.footage:
            return "Add a video to the footage list"
        problem = self._reuse_problem()
        if problem is not None:
            return problem
        if not self.multi_camera and len(self.footage) != 1:
            return "Single camera takes exactly one video; switch to Multi-Camera for several"
        if self.multi_camera and len(self.footage) < 2:
            return "Multi-camera needs at least two videos (one per camera)"
        if self.multi_camera and self.calibration and len(self.calibration) < 2:
            return "Calibration needs at least two videos (or none: the take's videos are used)"
        for f in () if self.take_id else (*self.footage, *self.calibration):  # a take's videos are uploaded
            problem = footage_problem(f.path)  # reads a few header bytes: caught before anything is sent
            if problem:
                return problem
        labels = [f.device_label or f"cam{i + 1:02d}" for i, f in enumerate(self.footage)]
        if len(set(labels)) != len(labels):
            return "Each camera needs its own device label"
        models = MULTI_MODELS if self.multi_camera else SINGLE_MODELS
        if self.model not in models:
            return f"Model {self.model} is not a {'multi' if self.multi_camera else 'single'}-camera model ({'/'.join(models)})"
        if not 1 <= self.number_of_actors <= 10:
            return "Number of actors must be between 1 and 10"
        if self.clip_window is not None:
            start, end = self.clip_window
            if start < 0 or end <= start:
                return "The clip window must end after it starts (seconds, start >= 0)"
        if not self.outputs:
            return "Choose at least one output"
        unknown = [k for k in self.outputs if k not in output_kinds.BY_KEY]
        if unknown:
            return f"Unknown output {', '.join(unknown)}; Move's outputs are {', '.join(output_kinds.KEYS)}"
        if self.multi_camera and not 0.5 <= self.human_height <= 2.6:
            return "Human height is in metres (0.5 - 2.6)"
        return self._multi_camera_problem()

    def _reuse_problem(self) -> str | None:
        """A take reused and a person asked for: the take id's characters, the person's number."""
        if self.take_id:
            try:
                check_name(self.take_id, "take id")
            except UnsafeNameError as exc:
                return f"Not a take id: {exc.reason} ({shown(self.take_id)})"
        if isinstance(self.person, bool) or not isinstance(self.person, int) or not 0 <= self.person <= MAX_PEOPLE:
            return f"The person to capture is a number from 1 to {MAX_PEOPLE} (as the job listed them)"
        if self.person and self.multi_camera:
            return ("A person is chosen for single-camera jobs; a multi-camera job captures its number of actors "
                    "(apply each with its actor number)")
        return None

    def _multi_camera_problem(self) -> str | None:
        if not self.multi_camera:
            if (self.volume_id or self.sync_input() is not None or self.number_of_actors != 1
                    or self.calibration_file):
                return "A volume, a calibration file, a sync method and several actors belong to multi-camera takes"
            return None
        if self.volume_id and self.calibration:
            return "Reuse a volume or give calibration footage, not both"
        if self.calibration_file:
            if self.volume_id:
                return "Reuse a volume or give a calibration file, not both"
            problem = calibration_file_problem(self.calibration_file)
            if problem:
                return problem
        if self.volume_id:
            try:
                check_name(self.volume_id, "volume id")
            except UnsafeNameError as exc:
                return f"Not a volume id: {exc.reason} ({shown(self.volume_id)})"
        if self.sync_window is not None:
            if self.sync_timecode:
                return "Sync on a clap or on the timecode, not both"
            start, end = self.sync_window
            if start < 0 or end <= start:
                return "The clap window must end after it starts (seconds, start >= 0)"
        return None

    def sync_input(self) -> dict[str, Any] | None:
        """The ``SyncMethodInput`` for the volume and the take (None: the server estimates the sync)."""
        if self.sync_window is not None:
            return {"clap_window": {"start_time": float(self.sync_window[0]), "end_time": float(self.sync_window[1])}}
        if self.sync_timecode:
            return {"timecode_sync": {"use_timecode": True}}
        return None

    def labels(self) -> list[str]:
        return [f.device_label or f"cam{i + 1:02d}" for i, f in enumerate(self.footage)]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SubmissionSpec:
        data = json.loads(text)
        data["footage"] = tuple(Footage(**f) for f in data.get("footage", ()))
        data["calibration"] = tuple(Footage(**f) for f in data.get("calibration", ()))
        data["outputs"] = tuple(data.get("outputs", ()))
        for window in ("clip_window", "sync_window"):
            if data.get(window) is not None:
                data[window] = tuple(data[window])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


#: ``SubmissionSpec.extra`` entry holding :func:`submission_key` (``Pipeline.submit_once`` sets it).
KEY_FIELD = "submission_key"


def _identity(f: Footage) -> list[object]:
    """A video's content identity: resolved path, size and modification time (ns); missing: path only."""
    path = Path(f.path).expanduser()
    try:
        st = path.stat()
        return [str(path.resolve()), st.st_size, st.st_mtime_ns, f.device_label, f.lens]
    except OSError:
        return [str(path.absolute()), None, None, f.device_label, f.lens]


def submission_key(spec: SubmissionSpec) -> str:
    """A stable key for "this footage processed with these settings".

    Two specs get the same key when their videos are the same files (path, size, modification time) and
    everything the server is asked to do is the same (model, options, actors, clip window, outputs, height,
    area, labels). What only concerns this machine (name, target armature, .blend file, ``extra``) is left
    out, so the same video onto another rig is still the same job. Editing or replacing a video changes it. A job
    on a take already on the server (``take_id``) is keyed by that take instead of the videos.
    """
    doc = {
        "footage": [_identity(f) for f in spec.footage],
        "calibration": [_identity(f) for f in spec.calibration],
        "multi_camera": spec.multi_camera, "model": spec.model, "track_fingers": spec.track_fingers,
        "track_ball": spec.track_ball, "floor_plane": spec.floor_plane,
        "number_of_actors": spec.number_of_actors,
        "clip_window": [float(x) for x in spec.clip_window] if spec.clip_window is not None else None,
        "outputs": sorted({o.upper() for o in spec.outputs}),
        "human_height": round(float(spec.human_height), 4) if spec.multi_camera else None,
        "area_type": spec.area_type if spec.multi_camera else None,
    }
    # later fields count only when set, so the keys of submissions made before them stay the same
    if spec.volume_id or spec.sync_window is not None:
        doc["volume_id"] = spec.volume_id
        doc["sync_window"] = [float(x) for x in spec.sync_window] if spec.sync_window is not None else None
    if spec.sync_timecode:
        doc["sync_timecode"] = True
    if spec.take_id:  # a job on a take already uploaded: the take is what the server works on, whatever
        doc["take_id"] = spec.take_id  # became of the videos here since
        doc["footage"] = doc["calibration"] = []
    if spec.person:  # another person of the same footage is another job
        doc["person"] = int(spec.person)
    if spec.calibration_file:
        doc["calibration_file"] = _identity(Footage(spec.calibration_file))
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
