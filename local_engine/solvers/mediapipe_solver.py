"""The ``mediapipe`` solver: real markerless capture on this machine. Video in, Move skeleton motion out.

Everyone in the footage is detected and followed with a stable identity (local_engine.pose.people: BlazePose's
shipped detection and full landmark models run per person); people are numbered main subject first (most
present) and listed in the result's metadata (``people``: who was captured, who else was seen, how long, the
frame where each is best seen).

Single camera: the main subject (or the person the job's metadata names as ``person``), whole-body left/right
label swaps undone, metric landmarks placed in the world through the 2D landmarks and a pinhole camera (given or
estimated), ground from the feet (up from their plane, else from the body's balance over the planted feet,
else from the trunk: local_engine.pose.monocular), a zero-phase low-pass (3 Hz), skeleton fit with fixed bone lengths refined so
the joints reproject onto the 2D landmarks, foot contacts over the whole clip (their speed from the image).
Several calibrated cameras: everyone per view, people matched across views by epipolar consistency
(local_engine.pose.association), the ``number_of_actors`` most seen captured (up to 5), each with left/right
label swaps undone, weighted DLT triangulation in the calibration's world (Z up), then the same fit and
refinement (over all views) after a 6 Hz zero-phase low-pass.

Options (``SolveRequest.options``): ``floorPlane`` (default True: fit the floor to the planted feet's soles
and pull planted feet to it as far as the contacts agree on it, from one calibrated camera not at all;
a calibration's world is not moved: local_engine.pose.skeleton_fit), ``trackFingers`` (default False: mediapipe's
shipped hand model drives the finger bones where it sees the hands), ``outputs`` (when given and without
RENDER_OVERLAY_VIDEO, no overlay video is made), ``person`` (single camera: capture that person of the
``people`` list instead of the main subject).

This module orchestrates only: the maths lives in local_engine.pose. It must not import the server or any
writer, and no bpy.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..motion import MoveMotion
from .base import Camera, SolveRequest, SolverError, SolveResult

#: Zero-phase low-pass of the 3D landmarks (Hz): human movement has little above 6 Hz (Pose2Sim's default
#: for triangulated results); a single camera's depth is noisier, so it is filtered lower.
MULTI_VIEW_CUTOFF_HZ = 6.0
SINGLE_VIEW_CUTOFF_HZ = 3.0
MODEL = "BlazePose full (mediapipe 0.10.21, model_complexity=1)"
#: Move's multi-camera model captures up to this many people.
MAX_ACTORS = 5


class MediapipeSolver:
    """Solver protocol implementation (see local_engine.solvers.base)."""

    name = "mediapipe"

    def __init__(self, max_side: int = 640, focal_35mm: float = 26.0, cache_dir: str | Path | None = None,
                 overlay: bool = True) -> None:
        self.max_side = int(max_side)  # frames are decoded with their long side at most this (pixels)
        self.focal_35mm = float(focal_35mm)  # lens assumed for uncalibrated single cameras
        self.cache_dir = Path(cache_dir) if cache_dir else None  # reuse landmarks of identical requests
        self.overlay = overlay

    # ------------------------------------------------------------------ protocol
    def solve(self, request: SolveRequest) -> SolveResult:
        from ..pose import blazepose, decode

        t0 = time.perf_counter()
        cams = list(request.cameras)
        if not cams:
            raise SolverError("The take has no video to solve.")
        actors = int(request.number_of_actors or 1)
        if actors > MAX_ACTORS:
            raise SolverError(f"{actors} actors were asked for; the engine captures up to {MAX_ACTORS} people. "
                              f"Ask for {MAX_ACTORS} or fewer.")
        if actors > 1 and len(cams) == 1:
            raise SolverError(f"{actors} actors were asked for from one camera: a single-camera job captures one "
                              "person (the main subject; the job's metadata lists everyone seen, and a job with "
                              "metadata {\"person\": N} captures person N). Film with several cameras for more.")
        if request.clip_window is not None:
            a, b = request.clip_window
            if not (b > a >= 0):
                raise SolverError(f"Invalid clip window {a}-{b} s: the end must come after the start.")
        opts = request.options or {}
        floor = bool(opts.get("floorPlane", True) if opts.get("floorPlane") is not None else True)
        fingers = bool(opts.get("trackFingers") or False)
        outputs = opts.get("outputs")
        want_overlay = self.overlay and (outputs is None or "RENDER_OVERLAY_VIDEO" in [str(o).upper()
                                                                                      for o in outputs])
        request.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            if len(cams) == 1:
                motion, meta, extra = self._single(request, cams[0], floor, fingers, want_overlay)
                motions = [motion]
            else:
                motions, meta, extra = self._multi(request, cams, floor, fingers, want_overlay, actors)
        except (decode.DecodeError, blazepose.MediapipeUnavailable) as exc:
            raise SolverError(str(exc)) from exc
        notes = {}
        if opts.get("trackBall"):
            notes["trackBall"] = "not supported by the local mediapipe solver"
        if opts.get("mocapModel"):
            notes["mocapModel"] = f"{opts['mocapModel']} requested; the local engine always runs {MODEL}"
        meta.update(notes)
        meta["solve_wall_s"] = round(time.perf_counter() - t0, 3)
        for motion in motions:
            own = motion.metadata.pop("actor_fit", {})
            motion.metadata.update({k: v for k, v in meta.items() if k not in ("stats", "actors_fit")})
            motion.metadata.update(own)
        request.progress(1.0)
        return SolveResult(motions=motions, metadata=meta, extra_outputs=extra)

    # ------------------------------------------------------------------ landmarks
    def landmarks(self, camera: Camera, clip_window: tuple[float, float] | None = None,
                  fingers: bool = False, progress: Any = None) -> Any:
        """The PoseTrack of one view (from the cache when this solver has one and saw the same request);
        ``progress(fraction)`` is told how far it is."""
        request = SolveRequest(cameras=[camera], work_dir=self.cache_dir or Path("."), clip_window=clip_window)
        if progress is not None:
            request.progress = progress
        return self._landmarks(camera, request, fingers, None, (0.0, 1.0))

    def _landmarks(self, camera: Camera, request: SolveRequest, fingers: bool, overlay_path: Path | None,
                   span: tuple[float, float]) -> Any:
        from ..pose import blazepose

        return self._cached("landmarks", blazepose.extract, blazepose.PoseTrack.load, camera, request, fingers,
                            overlay_path, span)

    def _cached(self, kind: str, run: Any, load: Any, camera: Camera, request: SolveRequest, fingers: bool,
                overlay_path: Path | None, span: tuple[float, float]) -> Any:
        """``run(video, ...)`` over one view (blazepose.extract, people.extract_people), its progress mapped
        onto ``span`` of the job's and the overlay drawn while decoding; the result kept in the cache (loaded
        by ``load``) and taken from it when the same view was asked for without an overlay."""
        from ..pose.overlay import OverlayWriter

        def progress(x: float) -> None:
            request.progress(span[0] + (span[1] - span[0]) * x)

        cache = self._cache_path(camera.video, request.clip_window, fingers, kind)
        if cache is not None and cache.exists() and overlay_path is None:
            progress(1.0)
            return load(cache)
        writer = OverlayWriter(overlay_path, _probe(camera.video).fps) if overlay_path is not None else None
        try:
            found = run(camera.video, max_side=self.max_side, clip_window=request.clip_window, hands=fingers,
                        progress=progress, frame_sink=writer)
        finally:
            if writer is not None:
                try:
                    writer.close()
                except Exception:  # the overlay is an extra: never fail the solve for it
                    overlay_path.unlink(missing_ok=True)  # type: ignore[union-attr]
        if writer is not None and writer.busy_s > 0:
            found.stats["overlay_fps"] = round(writer.frames / writer.busy_s, 2)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            found.save(cache)
        return found

    def _cache_path(self, video: Path, clip: tuple[float, float] | None, fingers: bool,
                    kind: str = "landmarks") -> Path | None:
        if self.cache_dir is None:
            return None
        from ..pose.landmarker import fingerprint

        st = Path(video).stat()
        key = json.dumps([str(Path(video).resolve()), st.st_size, st.st_mtime_ns, clip, fingers, self.max_side,
                          fingerprint(),  # one runtime's detections are not another's
                          _landmark_code_digest()])  # nor those of an earlier version of the code that makes them
        return self.cache_dir / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"

    def people(self, camera: Camera, clip_window: tuple[float, float] | None = None, fingers: bool = False) -> Any:
        """Everyone in one view (local_engine.pose.people.People), from the cache when this solver has one."""
        request = SolveRequest(cameras=[camera], work_dir=self.cache_dir or Path("."), clip_window=clip_window)
        return self._people(camera, request, fingers, None, (0.0, 1.0))

    def _people(self, camera: Camera, request: SolveRequest, fingers: bool, overlay_path: Path | None,
                span: tuple[float, float]) -> Any:
        from ..pose import people

        return self._cached("people", people.extract_people, people.People.load, camera, request, fingers,
                            overlay_path, span)

    # ------------------------------------------------------------------ single camera
    def _single(self, request: SolveRequest, camera: Camera, floor: bool, fingers: bool,
                want_overlay: bool) -> tuple[MoveMotion, dict[str, Any], dict[str, Path]]:
        from ..pose import clip_fit, monocular

        overlay_path = request.work_dir / "render_overlay.mp4" if want_overlay else None
        found = self._people(camera, request, fingers, overlay_path, (0.0, 0.9))
        if not found.tracks:
            _require_person(np.zeros(max(1, int(found.stats.get("frames", 1))), bool), camera)
        asked = (request.options or {}).get("person")
        chosen = _chosen_person(asked, len(found.tracks))
        _require_person(found.tracks[chosen - 1].present, camera)
        track, swapped = monocular.undo_label_swaps(found.tracks[chosen - 1])
        selection = {"captured": chosen, "asked": asked, "rule": "most frames seen, then larger, then first seen",
                     "seen": found.summary}
        w, h = track.size
        calibrated = camera.intrinsics is not None
        K = (np.asarray(camera.intrinsics, np.float64) if calibrated
             else monocular.guess_intrinsics(w, h, self.focal_35mm))
        seen = monocular.seen_along_rays(track.world, track.image, K)
        cam_pts = monocular.lift(seen, track.image, track.visibility, K)
        # The fit's flat soles use the up the contacts were judged with (the trunk's or the feet plane's), not the
        # body's balance that the ground below takes: measured on pose2sim's demo, the balance up there (with or
        # without the person's own heel-over-toe rise) costs 1 mm of PA-MPJPE (64.1 -> 65.0-65.2 mm); what it would
        # correct is the planted soles' pitch before the skeleton fit, about 4 degrees on one camera of four.
        planted, up = monocular.planted_feet(cam_pts, track.image, K, track.fps)
        cam_pts, clip_stats = clip_fit.optimise(cam_pts, seen, track.image, track.visibility, K, track.fps,
                                                contacts=planted, up=up)
        if camera.rotation is not None and camera.translation is not None:
            R = np.asarray(camera.rotation, np.float64)
            ground = monocular.Ground(R.T, -R.T @ np.asarray(camera.translation, np.float64), True,
                                      float((-R.T @ np.asarray(camera.translation))[2]), 0.0, "calibration")
        else:
            ground = monocular.estimate_ground(cam_pts, fit_plane=floor, contacts=planted)
        ground_source = {"feet plane": "floor plane fitted to the feet",
                         "balance": "up from the body's balance over the planted feet",
                         "body": "camera tilt from the trunk",
                         "level": "level camera assumed", "calibration": "calibration"}[ground.source]
        world = ground.apply(cam_pts)
        drift = 0.0
        settle = np.zeros(len(world))  # per-frame vertical shift of the floor settling (world = camera - shift)
        if floor and ground.source != "calibration":
            settled, drift = monocular.settle_on_floor(world, track.fps)
            shift = (world - settled)[..., 2]
            seen = np.isfinite(shift).any(axis=1)
            settle[seen] = np.nanmedian(shift[seen], axis=1)
            world = settled
        view = _view(camera, K, ground, settle, track)
        hands = None
        if fingers and track.hands_world is not None:
            hands = track.hands_world @ ground.R.T
        request.progress(0.93)
        motion, fit_meta = _fit(world, track.fps, track.visibility, hands, floor, fingers, views=[view],
                                floor_known=ground.source == "calibration", cutoff_hz=SINGLE_VIEW_CUTOFF_HZ,
                                refine_first=False, contacts=planted)
        meta: dict[str, Any] = {
            "solver": self.name, "model": MODEL, "views": 1, "frames": len(track),
            "people": selection, "left_right_swaps_fixed": swapped,
            "camera": {"intrinsics": "calibration" if calibrated else f"estimated ({self.focal_35mm:g} mm lens)",
                       "focal_px": round(float(K[0, 0]), 1), "ground": ground_source,
                       "camera_height_m": round(ground.camera_height, 3), "tilt_deg": round(ground.tilt_deg, 2),
                       "up_in_camera": [round(float(x), 4) for x in ground.R[2]],
                       "floor_drift_removed_m": round(drift, 3)},
            "clip_fit": clip_stats,
            "stats": {"landmarks": found.stats},
            **fit_meta,
        }
        extra = {"RENDER_OVERLAY_VIDEO": overlay_path} if overlay_path is not None and overlay_path.exists() else {}
        return motion, meta, extra

    # ------------------------------------------------------------------ several cameras
    def _multi(self, request: SolveRequest, cams: list[Camera], floor: bool, fingers: bool,
               want_overlay: bool, actors: int = 1) -> tuple[list[MoveMotion], dict[str, Any], dict[str, Path]]:
        from ..pose import association

        missing = [c.device_label or c.video.name for c in cams
                   if c.intrinsics is None or c.rotation is None or c.translation is None]
        if missing:
            raise SolverError("Multi-camera solving needs every camera calibrated; no calibration for: "
                              + ", ".join(missing))
        n = len(cams)

        def one_view(v: int, view_request: SolveRequest) -> Any:
            overlay_path = request.work_dir / "render_overlay.mp4" if want_overlay and v == 0 else None
            return self._people(cams[v], view_request, fingers, overlay_path, (0.0, 1.0))

        views = for_each_view(one_view, request, n, 0.8)
        for cam, found in zip(cams, views):
            if not found.tracks:
                _require_person(np.zeros(max(1, int(found.stats.get("frames", 1))), bool), cam)
        per_view = [list(found.tracks) for found in views]
        sync_meta: dict[str, Any] = {"method": "none", "offsets_frames": [0] * n}
        if "syncMethod" in (request.options or {}):  # a take of the API: synchronise (local_engine.volumes)
            from ..pose.sync import SyncError, shift_tracks
            from ..volumes import VolumeError, align_tracks

            try:  # on everyone matched across views at once; then everyone in a view moves by its offset
                combined, joints = _sync_tracks(cams, per_view)
                offsets, sync_meta = align_tracks(combined, request.options["syncMethod"], cams, joints,
                                                  videos=[c.video for c in cams])
                flat = shift_tracks([t for ts in per_view for t in ts],
                                    [o for o, ts in zip(offsets, per_view) for _ in ts])
            except (VolumeError, SyncError) as exc:
                raise SolverError(str(exc)) from exc
            it = iter(flat)
            per_view = [[next(it) for _ in ts] for ts in per_view]
        frames = min(len(ts[0]) for ts in per_view)
        per_view = [[_cut(t, frames) for t in ts] for ts in per_view]
        groups = association.associate(cams, [[t.image for t in ts] for ts in per_view],
                                       [[t.visibility for t in ts] for ts in per_view])
        if not groups:
            raise SolverError("No person was seen by two calibrated cameras at once (people were found in each "
                              "view, but none matched across views): check the volume's calibration and that "
                              "the cameras film the same space.")
        request.progress(0.82)
        motions = []
        fits = []
        for k, person in enumerate(groups[:actors]):
            tracks = [per_view[v][i] if i is not None else _cut(per_view[v][0], frames, blank=True)
                      for v, i in enumerate(person.tracks)]
            motion, fit = self._triangulated(cams, tracks, frames, floor, fingers)
            motion.actor = k + 1
            motion.metadata["actor_fit"] = fit
            motions.append(motion)
            fits.append(fit)
            request.progress(0.82 + 0.17 * (k + 1) / min(actors, len(groups)))
        people_meta = {
            "asked": actors, "captured": len(motions),
            "rule": "people seen by two cameras or more, most frames seen first",
            "seen": [{"person": k + 1, "frames_seen_by_two_views": g.frames_seen,
                      "epipolar_px": round(g.cost_px, 2),
                      "per_view": [None if i is None else views[v].summary[i] for v, i in enumerate(g.tracks)]}
                     for k, g in enumerate(groups)],
        }
        if len(motions) < actors:
            people_meta["note"] = (f"{actors} actors were asked for; {len(motions)} people were seen by two "
                                   "cameras or more")
        meta: dict[str, Any] = {
            "solver": self.name, "model": MODEL, "views": n, "frames": frames,
            "sync": sync_meta,
            "people": people_meta,
            "stats": {"landmarks": [found.stats for found in views]},
            **{k: v for k, v in fits[0].items() if k != "triangulation"},
            "triangulation": fits[0]["triangulation"],
        }
        if len(fits) > 1:
            meta["actors_fit"] = fits
        overlay = request.work_dir / "render_overlay.mp4"
        extra = {"RENDER_OVERLAY_VIDEO": overlay} if want_overlay and overlay.exists() else {}
        return motions, meta, extra

    def _triangulated(self, cams: list[Camera], tracks: list[Any], frames: int, floor: bool,
                      fingers: bool) -> tuple[MoveMotion, dict[str, Any]]:
        """One person's motion from their tracks in every view (synchronised, ``frames`` long)."""
        from ..pose import blazepose, reproject, triangulate

        pix = np.stack([t.image[:frames] for t in tracks])
        wts = np.stack([t.visibility[:frames] for t in tracks])
        pix, wts, swaps = triangulate.fix_left_right(cams, pix, wts, blazepose.MIRROR)
        world = triangulate.triangulate_sequence(cams, pix, wts)
        seen = np.isfinite(world).all(-1).mean(1) > 0.8
        _require_person(seen, cams[0])
        err = triangulate.reprojection_errors(cams, world, pix)
        hands = _hands_from_views(tracks, cams, frames) if fingers else None
        fps = tracks[0].fps
        views = [reproject.View.from_camera(c, pix[v], wts[v]) for v, c in enumerate(cams)]
        motion, fit_meta = _fit(world, fps, np.where(seen, 1.0, 0.0)[:, None].repeat(33, 1), hands, floor, fingers,
                                floor_known=True, views=views, cutoff_hz=MULTI_VIEW_CUTOFF_HZ)
        ok = np.isfinite(err)
        fit_meta["triangulation"] = {
            "left_right_swaps_fixed": int(swaps),
            "reprojection_px_median": round(float(np.median(err[ok])), 2) if ok.any() else None,
            "reprojection_px_p90": round(float(np.percentile(err[ok], 90)), 2) if ok.any() else None}
        return motion, fit_meta


#: Views whose landmarks are found at once (one thread each, never more than the machine's cores): the models
#: and the decoder of one view leave most of a second core idle.
# The modules whose code decides the landmarks and people a cache holds: a change to any of them makes new keys.
LANDMARK_CODE = ("blazepose", "decode", "landmarker", "people", "tracking")
_CODE_DIGEST: list[str] = []


def _landmark_code_digest() -> str:
    """sha256 of the landmark-making modules' source (read once per process)."""
    if not _CODE_DIGEST:
        pose = Path(__file__).resolve().parent.parent / "pose"
        h = hashlib.sha256()
        for name in LANDMARK_CODE:
            h.update((pose / f"{name}.py").read_bytes())
        _CODE_DIGEST.append(h.hexdigest()[:16])
    return _CODE_DIGEST[0]


PARALLEL_VIEWS = max(1, min(4, os.cpu_count() or 1))


def for_each_view(work: Any, request: SolveRequest, n: int, share: float) -> list[Any]:
    """``work(v, view_request)`` for views 0..n-1, PARALLEL_VIEWS at a time, in order of the views; each view's
    request reports its own progress (0..1), which moves ``request``'s overall progress from 0 to ``share`` (the
    mean of the views', so it never goes back). The first view's error is raised."""
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    done = [0.0] * n
    lock = threading.Lock()

    def view_request(v: int) -> SolveRequest:
        def progress(x: float) -> None:
            with lock:
                done[v] = max(done[v], min(max(float(x), 0.0), 1.0))
                overall = share * sum(done) / n
            request.progress(overall)

        return replace(request, progress=progress)

    if PARALLEL_VIEWS == 1 or n == 1:
        return [work(v, view_request(v)) for v in range(n)]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_VIEWS, n), thread_name_prefix="view") as pool:
        futures = [pool.submit(work, v, view_request(v)) for v in range(n)]
        return [f.result() for f in futures]


def _sync_tracks(cams: list[Camera], per_view: list[list[Any]]) -> tuple[list[Any], list[int]]:
    """Per view, one track holding every person matched across views side by side (33 landmarks each, the
    same person in the same columns in every view; NaN where a view lacks them), and the body columns: the
    views are synchronised on everyone at once (one person barely moving cannot tell the offsets). People are
    matched before synchronisation with a tolerance wide enough for half a second of offset."""
    from dataclasses import replace

    from ..pose import association

    frames = min(len(ts[0]) for ts in per_view)
    sizes = [max(c.size) if c.size else 2.0 * float(np.asarray(c.intrinsics)[0, 2]) for c in cams]
    groups = association.associate(cams, [[t.image[:frames] for t in ts] for ts in per_view],
                                   [[t.visibility[:frames] for t in ts] for ts in per_view],
                                   max_px=0.15 * float(max(sizes)))
    picks = [g.tracks for g in groups] or [[0] * len(per_view)]
    out = []
    for v, ts in enumerate(per_view):
        image = np.full((len(ts[0]), 33 * len(picks), 2), np.nan, np.float32)
        vis = np.zeros((len(ts[0]), 33 * len(picks)), np.float32)
        for k, pick in enumerate(picks):
            i = pick[v]
            if i is not None:
                image[:, 33 * k:33 * (k + 1)] = ts[i].image
                vis[:, 33 * k:33 * (k + 1)] = ts[i].visibility
        out.append(replace(ts[0], image=image, visibility=vis))
    return out, [33 * k + j for k in range(len(picks)) for j in range(11, 33)]


def _chosen_person(asked: Any, count: int) -> int:
    """The person a single-camera job captures: the one the job's metadata names, else the main subject."""
    if asked is None:
        return 1
    if isinstance(asked, bool) or not isinstance(asked, int) or not 1 <= asked <= count:
        raise SolverError(f"The job asks for person {asked!r}, but the footage shows {count} "
                          f"{'person' if count == 1 else 'people'} (1 to {count}, as listed in an earlier job's "
                          "metadata 'people'): ask for one of those.")
    return asked


def _cut(track: Any, frames: int, blank: bool = False) -> Any:
    """The track's first ``frames`` frames (padded with unseen frames when shorter); all unseen if ``blank``."""
    from dataclasses import replace

    def fit(a: Any, fill: float) -> Any:
        if a is None:
            return None
        out = np.full((frames, *a.shape[1:]), fill, a.dtype)
        m = min(frames, len(a))
        if not blank:
            out[:m] = a[:m]
        return out

    return replace(track, frames=np.arange(frames) if len(track.frames) < frames else track.frames[:frames],
                   times=(np.arange(frames) / track.fps) if len(track.times) < frames else track.times[:frames],
                   world=fit(track.world, np.nan), image=fit(track.image, np.nan),
                   visibility=fit(track.visibility, 0.0), hands_world=fit(track.hands_world, np.nan),
                   hands_image=fit(track.hands_image, np.nan))


def _probe(video: Path) -> Any:
    from ..pose.decode import probe

    return probe(video)


def _require_person(mask: np.ndarray, camera: Camera) -> None:
    found = int(np.count_nonzero(mask))
    if found < max(5, int(0.1 * len(mask))):
        name = camera.device_label or Path(camera.video).name
        raise SolverError(f"No person was found in the footage ({name}: a person in {found} of {len(mask)} "
                          "frames). Film one person whose whole body is in view.")


def _hands_from_views(tracks: list[Any], cams: list[Camera], frames: int) -> np.ndarray | None:
    """Hand landmarks (F, 2, 21, 3) in world axes from the first view that saw each hand."""
    out = np.full((frames, 2, 21, 3), np.nan)
    any_hand = False
    for t, cam in zip(tracks, cams):
        if t.hands_world is None:
            continue
        R = np.asarray(cam.rotation, np.float64)
        hw = t.hands_world[:frames] @ R  # camera -> world axes: R.T @ p == p @ R
        fill = ~np.isfinite(out[..., 0, 0]) & np.isfinite(hw[..., 0, 0])
        out[fill] = hw[fill]
        any_hand = any_hand or bool(fill.any())
    return out if any_hand else None


def _view(camera: Camera, K: np.ndarray, ground: Any, settle: np.ndarray, track: Any) -> Any:
    """The single camera as seen from Move's armature space (ground transform and floor settling undone),
    with the 2D landmarks the skeleton is refined onto."""
    from ..calibration import undistort_points
    from ..pose.reproject import View

    pixels = track.image
    if camera.intrinsics is not None and camera.distortion is not None:
        pixels = undistort_points(Camera(camera.video, intrinsics=K, distortion=camera.distortion), pixels)
    # world = R_g @ cam + t_g - (0, 0, settle)  =>  cam = R_g.T @ world + R_g.T @ ((0, 0, settle) - t_g)
    lift = np.zeros((len(settle), 3))
    lift[:, 2] = settle
    return View(K, ground.R.T, (lift - ground.t) @ ground.R, pixels, track.visibility)


def _fit(world: np.ndarray, fps: float, visibility: np.ndarray, hands: np.ndarray | None, floor: bool,
         fingers: bool, floor_known: bool = False, views: list[Any] | None = None,
         cutoff_hz: float = MULTI_VIEW_CUTOFF_HZ, refine_first: bool = True, contacts: np.ndarray | None = None
         ) -> tuple[MoveMotion, dict[str, Any]]:
    from ..pose import filters, skeleton_fit

    filled, observed = filters.fill_gaps(world)
    smooth = filters.butterworth_zero_phase(filled, fps, cutoff_hz)
    weights = np.where(observed, 1.0, 0.0)
    finger_note = "not tracked: trackFingers is off; fingers stay at rest"
    if fingers:
        if hands is not None and np.isfinite(hands[..., 0, 0]).any():
            seen = np.isfinite(hands[..., 0, 0])
            hf = np.full(hands.shape, np.nan)
            for side in (0, 1):  # each hand on its own: one may never be seen
                if seen[:, side].any():
                    filled, _ = filters.fill_gaps(hands[:, side])
                    hf[:, side] = filters.one_euro_zero_phase(filled, fps, min_cutoff=2.0, beta=2.0)
            hands = np.where(seen[..., None, None], hf, np.nan)
            finger_note = (f"tracked with mediapipe hands where visible (left {seen[:, 0].mean():.0%}, right "
                           f"{seen[:, 1].mean():.0%} of frames); at rest elsewhere")
        else:
            hands = None
            finger_note = "not tracked: the hand model found no hands (too small or hidden); fingers stay at rest"
    else:
        hands = None
    motion = skeleton_fit.fit(smooth, fps, weights=weights, hands=hands, floor=floor, views=views, cutoff_hz=cutoff_hz,
                              world_known=floor_known, refine_first=refine_first, contacts=contacts)
    meta = {
        "fingers": finger_note,
        "frames_without_person": int((~observed).sum()),
        "foot_contacts_frames": [int(x) for x in motion.foot_contacts.sum(0)] if motion.foot_contacts is not None
        else None,
        "floor": ("fitted to the planted feet in the calibration's world (the body is not moved)" if floor_known
                  else "estimated from the feet") if floor else "not enforced",
        "jitter_m_per_frame2": {"raw": round(filters.jitter(filled), 5), "filtered": round(filters.jitter(smooth), 5)},
    }
    meta.update({k: v for k, v in motion.metadata.items()})
    return motion, meta
