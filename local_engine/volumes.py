"""Volumes: calibrating a HumanVolume's cameras (from the person filmed, or from a calibration file given as
one of its sources) on a background thread, and handing a multi-camera take the calibrated cameras of its
volume.

A volume goes RUNNING -> FINISHED with ``calibration`` stored in its document (cameras as JSON, how they were
found, the sync offsets, quality figures), or FAILED with ``error`` saying what to film again. A source whose
file is a ``.toml`` (Pose2Sim) or ``.txt`` (Qualisys ``.qca.txt``) is a calibration file: the cameras are
read from it (matched to the videos by deviceLabel = camera name, else in order) and no person is needed.
With a solver that cannot see people (replay), a volume without a calibration file is FINISHED at once,
uncalibrated (that solver ignores cameras).

No HTTP and no bpy here; the landmark model runs through the solver (local_engine.solvers.mediapipe_solver).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from .messages import public_message
from .solvers.base import Camera
from .store import Store

log = logging.getLogger("local_engine.volumes")
CALIBRATION_TYPES = (".toml", ".txt")
#: areaType -> (smallest person, as a fraction of the picture height; frames used by the bundle adjustment)
AREA = {"NORMAL": (0.12, 60), "LARGE": (0.06, 90)}
#: Nominal 35 mm-equivalent focal length of the lenses listCameraSettings offers (local_engine.schema.CAMERA_LENSES):
#: where a source names one, the volume's focal estimation starts from it (it is still refined).
LENS_35MM = {"iphone-main-wide": 26.0, "blackmagic-ursa-4k-24mm": 34.0}  # URSA 4K: 24 mm on a 25.3 mm-wide sensor


class VolumeError(Exception):
    """The volume cannot be calibrated or used; the message is meant for the user."""


def is_calibration_file(store: Store, file_doc: dict[str, Any]) -> bool:
    """Whether a source file is a calibration rather than a video: by its type (``.toml``, ``.txt``), or by
    its content (local_engine.calibration.sniff) whatever type the client gave it."""
    from .calibration import sniff

    if str(file_doc.get("type", "")).lower() in CALIBRATION_TYPES:
        return True
    if not file_doc.get("uploaded") or not file_doc.get("path"):
        return False
    try:
        with open(store.files_dir / file_doc["path"], "rb") as fh:
            return sniff(fh.read(4096)) is not None
    except OSError:
        return False


def needs_processing(store: Store, sources: list[dict[str, Any]], solver: Any) -> bool:
    """Whether a new volume with these sources is calibrated in the background (else it is FINISHED at once)."""
    has_file = any(is_calibration_file(store, store.get("file", s["fileId"]) or {}) for s in sources)
    return has_file or hasattr(solver, "landmarks")


class VolumeWorker:
    """One thread calibrating volumes in creation order; volumes left RUNNING by a restart are redone."""

    def __init__(self, store: Store, solver: Any) -> None:
        self.store = store
        self.solver = solver
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="volume-worker", daemon=True)

    def start(self) -> None:
        for vid in self.store.ids_where("volume", "state", ("RUNNING", "NOT_STARTED")):
            self._queue.put(vid)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def enqueue(self, volume_id: str) -> None:
        self._queue.put(volume_id)

    def _run(self) -> None:
        while True:
            vid = self._queue.get()
            if vid is None:
                return
            try:
                calibration = calibrate_volume(self.store, self.solver, vid,
                                               lambda f, v=vid: self.store.update("volume", v, percentageComplete=int(
                                                   1 + 98 * min(max(f, 0.0), 1.0))))
                self.store.update("volume", vid, state="FINISHED", percentageComplete=100, calibration=calibration,
                                  error=None)
                log.info("volume %s calibrated (%s)", vid, calibration.get("method"))
            except VolumeError as exc:
                reason = public_message(str(exc))
                log.warning("volume %s failed: %s", vid, reason)
                self.store.update("volume", vid, state="FAILED", error=reason)
            except Exception as exc:  # never let one volume kill the worker
                log.error("volume %s: %s", vid, traceback.format_exc())
                self.store.update("volume", vid, state="FAILED",
                                  error=public_message(f"Internal error while calibrating the volume: {exc}"))


def _split_sources(store: Store, doc: dict[str, Any]) -> tuple[list[Camera], list[Path]]:
    videos, calib = [], []
    for src in doc.get("sources") or []:
        f = store.get("file", src["fileId"])
        if f is None or not f.get("uploaded"):
            raise VolumeError(f"Source file {src['fileId']} of the volume is missing")
        path = store.files_dir / f["path"]
        if is_calibration_file(store, f):
            calib.append(path)
        else:
            videos.append(Camera(video=path, device_label=src["deviceLabel"]))
    return videos, calib


def _lenses(doc: dict[str, Any], videos: list[Camera]) -> list[float | None]:
    by_label = {s["deviceLabel"]: ((s.get("cameraSettings") or {}).get("lens")) for s in doc.get("sources") or []}
    return [LENS_35MM.get(by_label.get(c.device_label) or "") for c in videos]


def calibrate_volume(store: Store, solver: Any, volume_id: str, progress: Any = None) -> dict[str, Any]:
    """The calibration of a volume (JSON-able), from its calibration file or from the person it films."""
    from .calibration import CalibrationError, cameras_to_json, read_calibration

    doc = store.get("volume", volume_id)
    if doc is None:
        raise VolumeError("The volume no longer exists")
    t0 = time.perf_counter()
    store.update("volume", volume_id, state="RUNNING", percentageComplete=1, started=time.time())
    videos, calib = _split_sources(store, doc)
    if len(calib) > 1:
        raise VolumeError("A volume takes at most one calibration file among its sources")
    if calib:
        try:
            cams = read_calibration(calib[0])
        except CalibrationError as exc:
            name = calib[0].name
            why = str(exc).replace(f"calibration {name}: ", "").replace(f"calibration {name} ", "").replace(name, "it")
            raise VolumeError(f"The volume's calibration file (source {calib[0].stem}): {why}") from exc
        if len(cams) < 2:
            raise VolumeError(f"The volume's calibration file describes {len(cams)} camera; a multi-camera volume "
                              "needs two or more")
        labels = [c.device_label for c in videos] or [c.device_label for c in cams]
        matched = match_cameras(cams, labels)
        if videos:
            _check_sizes(matched, videos)
        return {"method": "file", "cameras": cameras_to_json(matched), "wall_s": round(time.perf_counter() - t0, 3),
                "file_cameras": [c.device_label for c in cams]}
    if not hasattr(solver, "landmarks"):
        return {"method": "none", "note": "this server's solver does not see people; no calibration"}
    if len(videos) < 2:
        raise VolumeError("A volume needs the videos of at least two cameras filming the person")
    return _from_person(solver, videos, doc, progress, t0)


def match_cameras(cams: list[Camera], labels: list[str]) -> list[Camera]:
    """``cams`` reordered and relabelled to ``labels``: by name (case and '_' ignored), else in order."""
    from dataclasses import replace

    def key(s: str) -> str:
        return s.lower().replace("_", "").replace("-", "").replace(" ", "")

    by_name = {key(c.device_label): c for c in cams}
    if all(key(lab) in by_name for lab in labels):
        return [replace(by_name[key(lab)], device_label=lab) for lab in labels]
    if len(cams) == len(labels):
        return [replace(c, device_label=lab) for c, lab in zip(cams, labels)]
    raise VolumeError(f"The calibration file has {len(cams)} cameras ({', '.join(c.device_label for c in cams)}) "
                      f"that do not match the videos ({', '.join(labels)}): name the sources' deviceLabel after the "
                      "file's cameras")


def _check_sizes(cams: list[Camera], videos: list[Camera]) -> None:
    """The calibration's picture sizes against the videos' (read from the files; a file that cannot be read
    is left to the job): within 2 % per side (codecs pad 1080 to 1088), else the calibration is of another
    camera mode and would place everything wrongly."""
    from .pose.decode import DecodeError, probe

    for cam, video in zip(cams, videos):
        if cam.size is None:
            continue
        try:
            info = probe(video.video)
        except DecodeError:
            continue
        w, h = cam.size
        if abs(info.width - w) > 0.02 * w or abs(info.height - h) > 0.02 * h:
            raise VolumeError(f"The calibration file's camera {cam.device_label} is calibrated for {w} x {h} pixels "
                              f"but its video is {info.width} x {info.height}: calibrate the cameras in the mode "
                              "they film in, or give the matching calibration file")


def _from_person(solver: Any, videos: list[Camera], doc: dict[str, Any], progress: Any, t0: float) -> dict[str, Any]:
    from .calibration import cameras_to_json
    from .pose import blazepose
    from .pose.decode import DecodeError
    from .solvers.base import SolveRequest
    from .solvers.mediapipe_solver import for_each_view

    clip = doc.get("clipWindow")
    window = (clip["startTime"], clip["endTime"]) if clip else None

    def one_view(v: int, request: SolveRequest) -> Any:
        t = solver.landmarks(videos[v], clip_window=window, progress=request.progress)
        mask, _ = blazepose.consistent_person(t)
        return t.subset(mask)

    overall = SolveRequest(cameras=videos, work_dir=Path("."), progress=progress or (lambda f: None))
    try:
        tracks = for_each_view(one_view, overall, len(videos), 0.6)
    except (DecodeError, blazepose.MediapipeUnavailable) as exc:
        raise VolumeError(str(exc)) from exc
    min_frac, max_frames = AREA.get(str(doc.get("areaType") or "NORMAL"), AREA["NORMAL"])
    offsets, sync = align_tracks(tracks, doc.get("syncMethod"), None, videos=[c.video for c in videos])
    if progress:
        progress(0.65)
    res = _calibrate(tracks, offsets, videos, doc, min_frac, max_frames,
                     (lambda f: progress(0.65 + 0.2 * f)) if progress else None)
    if sync["method"] == "motion":
        # The offsets were found with guessed lenses; the calibrated geometry finds them more precisely.
        refined, rsync = align_tracks(tracks, None, res.cameras)
        sync["refined_offsets_frames"] = refined
        if refined != offsets:
            res = _calibrate(tracks, refined, videos, doc, min_frac, max_frames,
                             (lambda f: progress(0.85 + 0.15 * f)) if progress else None)
            sync.update(offsets_frames=refined, offsets_s=rsync["offsets_s"], epipolar_px=rsync["epipolar_px"])
    return {"method": "person", "cameras": cameras_to_json(res.cameras), "sync": sync, "report": res.report,
            "wall_s": round(time.perf_counter() - t0, 3)}


def _calibrate(tracks: list[Any], offsets: list[int], videos: list[Camera], doc: dict[str, Any], min_frac: float,
               max_frames: int, progress: Any) -> Any:
    from .pose.self_calibration import SelfCalibrationError, calibrate_from_person
    from .pose.sync import SyncError, shift_tracks

    try:
        aligned = shift_tracks(tracks, offsets)
        pix = np.stack([t.image for t in aligned]).astype(np.float64)
        wts = np.stack([t.visibility for t in aligned]).astype(np.float64)
        return calibrate_from_person(pix, wts, [t.size for t in tracks], float(doc["humanHeight"]),
                                     labels=[c.device_label for c in videos], max_frames=max_frames,
                                     min_person_fraction=min_frac, focal_35mm=_lenses(doc, videos),
                                     progress=progress)
    except (SyncError, SelfCalibrationError) as exc:
        raise VolumeError(str(exc)) from exc


def align_tracks(tracks: list[Any], sync_method: dict[str, Any] | None,
                 cameras: list[Camera] | None, joints: list[int] | None = None,
                 videos: list[Path] | None = None) -> tuple[list[int], dict[str, Any]]:
    """Per-view frame offsets (view v's frame k + offset[v] shows view 1's frame k) from the take's or
    volume's syncMethod: timecodeSync = already in sync; clapWindow = the clap found in each view (in the
    ``videos``' sound when every one has it, else from the hands' motion); none = the motion (epipolar
    agreement of the landmarks, with ``cameras``' geometry when calibrated; ``joints``: which landmark columns,
    e.g. of several people side by side, default the body of one)."""
    from .pose import sync

    fps = tracks[0].fps
    sm = sync_method or {}
    if sm.get("timecodeSync"):
        return [0] * len(tracks), {"method": "timecode", "offsets_frames": [0] * len(tracks),
                                   "note": "footage taken as already synchronised"}
    if sm.get("clapWindow"):
        w = sm["clapWindow"]
        return clap_offsets(tracks, (float(w["startTime"]), float(w["endTime"])), videos)
    from .pose.monocular import guess_intrinsics

    max_lag = int(min(round(0.5 * fps), max(1, min(len(t) for t in tracks) // 4)))
    if cameras is not None:
        Ks = [np.asarray(c.intrinsics, float) for c in cameras]
        R0, t0 = np.asarray(cameras[0].rotation, float), np.asarray(cameras[0].translation, float)
        Es: list[np.ndarray | None] = []
        for c in cameras:
            R = np.asarray(c.rotation, float) @ R0.T
            t = np.asarray(c.translation, float) - R @ t0
            Es.append(np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]]) @ R)
    else:
        Ks = [guess_intrinsics(*t.size) for t in tracks]
        Es = None  # type: ignore[assignment]
    try:
        offsets, scores = sync.epipolar_offsets([t.image for t in tracks], [t.visibility for t in tracks], Ks,
                                                max_lag, essentials=Es, joints=joints)
    except sync.SyncError as exc:
        raise VolumeError(str(exc)) from exc
    return offsets, {"method": "motion", "offsets_frames": offsets, "offsets_s": [round(o / fps, 4) for o in offsets],
                     "epipolar_px": scores, "searched_frames": max_lag}


def clap_offsets(tracks: list[Any], window: tuple[float, float],
                 videos: list[Path] | None) -> tuple[list[int], dict[str, Any]]:
    """Offsets from a clap within ``window`` (seconds of each video): from the sound when every video has
    a clear clap in its audio and the cameras agree on it (local_engine.audio_sync), else from the hands'
    motion (local_engine.pose.sync.clap_frame). The metadata says which (``source``), the clap's frame per view
    (fractional), the offsets rounded and exact, and why the sound was not used when it was not."""
    from . import audio_sync
    from .pose import sync

    fps = tracks[0].fps
    hands: list[float] | None = None
    hands_problem = ""
    try:
        hands = [sync.clap_frame(t.image, t.visibility, t.times, window) for t in tracks]
    except sync.SyncError as exc:
        hands_problem = str(exc)
    audio: list[float] | None = None
    audio_meta: dict[str, Any] = {}
    if videos is None:
        audio_meta["unused"] = "the videos were not given"
    else:
        found, problems = [], []
        for video in videos:
            try:
                found.append(audio_sync.find_clap(video, window))
            except audio_sync.NoAudioClap as exc:
                problems.append(str(exc))
        if problems:
            audio_meta["unused"] = "; ".join(problems)
        else:
            spread = [round(audio_sync.disagreement_ms(found[0], c), 2) for c in found]
            audio_meta.update(onsets_s=[round(c.time_s, 5) for c in found], contrast_db=[c.contrast_db for c in found],
                              peak_dbfs=[c.peak_dbfs for c in found], cross_check_ms=spread)
            worst = int(np.argmax(np.abs(spread)))
            if abs(spread[worst]) > audio_sync.MAX_DISAGREEMENT_MS:
                audio_meta["unused"] = (f"the clap heard by {Path(videos[worst]).name} does not match the one heard by "
                                        f"{Path(videos[0]).name} ({spread[worst]:+.1f} ms apart once their sounds are "
                                        "lined up): one of them heard another sound")
            else:
                audio = [_frame_at(t, c.time_s) for t, c in zip(tracks, found)]
    claps = audio if audio is not None else hands
    if claps is None:
        why = f" The sound was not usable: {audio_meta['unused']}." if videos is not None else ""
        raise VolumeError(hands_problem + why)
    exact = [c - claps[0] for c in claps]
    offsets = [int(round(o)) for o in exact]
    meta: dict[str, Any] = {"method": "clap", "source": "audio" if audio is not None else "hands",
                            "clap_frames": [round(c, 3) for c in claps], "offsets_frames": offsets,
                            "offsets_frames_exact": [round(o, 3) for o in exact],
                            "offsets_s": [round(o / fps, 5) for o in exact], "audio": audio_meta}
    if audio is not None:
        meta["hands_offsets_frames"] = ([round(h - hands[0], 2) for h in hands] if hands is not None
                                        else hands_problem)
    return offsets, meta


def _frame_at(track: Any, time_s: float) -> float:
    """The (fractional) index in ``track``'s arrays of the instant ``time_s`` (seconds of its video)."""
    times = np.asarray(track.times, np.float64)
    if len(times) > 1 and times[0] <= time_s <= times[-1]:
        return float(np.interp(time_s, times, np.arange(len(times))))
    return float((time_s - times[0]) * track.fps)


def cameras_for_take(store: Store, take: dict[str, Any], cameras: list[Camera]) -> list[Camera]:
    """The take's cameras with the calibration of its volume (matched by deviceLabel, else in order).
    Raises VolumeError when the volume is not calibrated."""
    from dataclasses import replace

    from .calibration import cameras_from_json

    vol = store.get("volume", take.get("volumeId") or "")
    if vol is None:
        raise VolumeError("The take's volume no longer exists")
    if vol.get("state") != "FINISHED":
        reason = f": {vol['error']}" if vol.get("error") else ""
        raise VolumeError(f"The take's volume is {vol.get('state')}{reason}; a multi-camera job needs a calibrated "
                          "volume (wait for it to finish, or create a new one)")
    cal = vol.get("calibration") or {}
    if not cal.get("cameras"):
        return cameras  # an uncalibrated volume (replay solver): the solver decides whether it can use it
    calibrated = match_cameras(cameras_from_json(cal["cameras"]), [c.device_label for c in cameras])
    return [replace(k, video=c.video) for c, k in zip(cameras, calibrated)]
