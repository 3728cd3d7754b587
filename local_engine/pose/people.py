"""Everyone in one video: BlazePose's own detection and landmark models run per person, each person followed
with a stable identity, gathered into one :class:`PoseTrack` per person plus a summary of who was seen, for
how long and where best. One loop for both BlazePose runtimes of local_engine.pose.landmarker, as the legacy
Pose solution follows its one person:

every few frames (and on every frame while nobody is followed or someone was just lost) people are looked for
on the whole frame and on overlapping square tiles (so that smaller people are found too), and each person is
followed once per frame by the landmark network on their own region, derived from the previous frame's
alignment points (BlazePose's region rule, smoothed as its graph smooths them). Legacy runtime (mediapipe
0.10.21): its two subgraphs driven directly, ``PoseDetectionCpu`` and ``PoseLandmarkByRoiCpu``. Tasks runtime
(mediapipe >= 0.10.30, whose API runs landmarks only behind its own detector and tracking): people found by
IMAGE-mode ``PoseLandmarker`` runs (each pose's region from its landmarks, :func:`_alignment`), and the same
landmark network on a region through landmarker.RegionLandmarker.
Identities: new detections matched to followed people by overlap (local_engine.pose.tracking), duplicates
dropped, broken tracklets linked into one person afterwards (motion, size, colours), people ordered main
subject first (most present). Only the full landmark model (``model_complexity=1``) is used: the others
would be downloaded at run time. It does not fit skeletons nor filter. No bpy here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import landmarker, tracking
from .blazepose import PoseTrack, _hands
from .decode import Clip, open_clip, threaded_frames

_DETECT_GRAPH = """
input_stream: "image"
output_stream: "detections"
node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image" output_stream: "DETECTIONS:detections" }
"""
_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "world_landmarks"
output_stream: "auxiliary"
node { calculator: "ConstantSidePacketCalculator" output_side_packet: "PACKET:model_complexity"
  options: { [mediapipe.ConstantSidePacketCalculatorOptions.ext]: { packet { int_value: 1 } } } }
node { calculator: "PoseLandmarkByRoiCpu" input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_stream: "IMAGE:image" input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks" output_stream: "AUXILIARY_LANDMARKS:auxiliary"
  output_stream: "WORLD_LANDMARKS:world_landmarks" }
"""
#: A person must be seen this long (and at least MIN_FRAMES frames) to count as someone in the footage.
MIN_SECONDS = 0.5
MIN_FRAMES = 10
#: Detections below this score are ignored (mediapipe's own default for the legacy solution).
MIN_SCORE = 0.5
#: BlazePose's alignment radius over the farthest landmark's distance from the hip centre (median 1 / 0.925 on
#: the legacy graph's auxiliary landmarks of the test footage, 81 poses; direction within 1 degree).
ALIGN_RADIUS = 1.08
#: At most this many people per frame on the Tasks runtime (the graph's ``num_poses``).
MAX_PEOPLE = 5


@dataclass
class People:
    """Everyone found in one video: ``tracks[k]`` is person ``k + 1`` (main subject first), each the full
    length of the clip with NaN where that person is not seen; ``summary[k]`` says how long and where best."""

    tracks: list[PoseTrack]
    summary: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        if not self.tracks:
            np.savez_compressed(path, count=np.array(0))
            return
        t0 = self.tracks[0]
        arrays: dict[str, Any] = {k: np.stack([getattr(t, k) for t in self.tracks])
                                  for k in ("world", "image", "visibility")}
        if t0.hands_world is not None:
            arrays["hands_world"] = np.stack([_hands_or_unseen(t.hands_world, t0.hands_world) for t in self.tracks])
            arrays["hands_image"] = np.stack([_hands_or_unseen(t.hands_image, t0.hands_image) for t in self.tracks])
        np.savez_compressed(path, count=np.array(len(self.tracks)), fps=np.array(t0.fps), size=np.array(t0.size),
                            frames=t0.frames, times=t0.times, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> People:
        with np.load(path) as z:
            if int(z["count"]) == 0:
                return cls([], [])
            fps, size = float(z["fps"]), (int(z["size"][0]), int(z["size"][1]))
            hw = z.get("hands_world", None)
            hi = z.get("hands_image", None)
            tracks = [PoseTrack(fps, size, z["frames"], z["times"], z["world"][p], z["image"][p],
                                z["visibility"][p], None if hw is None else hw[p], None if hi is None else hi[p])
                      for p in range(int(z["count"]))]
        return cls(tracks, describe(tracks))


def _hands_or_unseen(hands: np.ndarray | None, like: np.ndarray | None) -> np.ndarray:
    assert like is not None
    return np.full_like(like, np.nan) if hands is None else hands


def body_size(track: PoseTrack) -> np.ndarray:
    """(F,) height in pixels of the person's landmark box (NaN where not seen)."""
    out = np.full(len(track), np.nan)
    for f in np.nonzero(track.present)[0]:
        b = tracking.landmark_box(track.image[f], track.visibility[f])
        out[f] = b[3] - b[1]
    return out


def describe(tracks: list[PoseTrack]) -> list[dict[str, Any]]:
    """The summary of each person (actor number, how long seen, the frame where best seen)."""
    out = []
    for k, t in enumerate(tracks):
        size = body_size(t)
        entry = {"person": k + 1, **tracking.summarise(t.present, size, t.frames, t.times)}
        if entry["frames_visible"]:
            f = int(np.nonzero(t.frames == entry["best_frame"])[0][0])
            box = tracking.landmark_box(t.image[f], t.visibility[f])
            entry["best_box_px"] = [round(float(v), 1) for v in box]
        out.append(entry)
    return out


class _Models:
    """Detection and landmarks by region for this Python's BlazePose runtime, built once per video. Legacy
    (0.10.21): its two graphs, ``PoseDetectionCpu`` and ``PoseLandmarkByRoiCpu``. Tasks: the landmark
    network on a region through landmarker.RegionLandmarker (the same network, decoded as that graph does),
    and people found by IMAGE-mode ``PoseLandmarker`` runs (the whole frame, the tiles), each pose's region
    by BlazePose's rule (:func:`_region`)."""

    def __init__(self) -> None:
        self.kind = landmarker.kind()
        self.detect_s = 0.0
        self.landmark_s = 0.0
        self.detect_runs = 0
        self.landmark_runs = 0
        if self.kind == "tasks":
            self.finder = landmarker.Landmarker(num_poses=MAX_PEOPLE, still=True)
            self.tile_finder = landmarker.Landmarker(num_poses=2, still=True)
            self.region = landmarker.RegionLandmarker()
            return
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import solution_base

        self._rect = rect_pb2.NormalizedRect
        self.detector = solution_base.SolutionBase(graph_config=_DETECT_GRAPH)
        self.landmarker = solution_base.SolutionBase(graph_config=_LANDMARK_GRAPH)

    def close(self) -> None:
        if self.kind == "tasks":
            self.finder.close()
            self.tile_finder.close()
            return
        self.detector.close()
        self.landmarker.close()

    def _found(self, crop: np.ndarray, full_frame: bool) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """(score, alignment points (2, 2) in ``crop``'s pixels) of each person in ``crop``."""
        ch, cw = crop.shape[:2]
        if self.kind == "tasks":
            poses = (self.finder if full_frame else self.tile_finder).process_all(crop)[0]
            points = [_alignment(p.image * np.array([cw, ch], np.float32)) for p in poses]
            return [(1.0, pt) for pt in points if pt is not None]
        res = self.detector.process({"image": crop})
        out = []
        for d in res.detections or []:
            score = float(d.score[0]) if d.score else 0.0
            kp = d.location_data.relative_keypoints
            if score >= MIN_SCORE and len(kp) >= 2:
                out.append((score, np.array([[kp[0].x * cw, kp[0].y * ch], [kp[1].x * cw, kp[1].y * ch]])))
        return out

    def detect(self, img: np.ndarray) -> list[tuple[float, tracking.Roi]]:
        """(score, region) of every person found in the frame: the whole frame and square tiles along its
        longer side (overlapping by a quarter at least), duplicates merged keeping the best score."""
        t = time.perf_counter()
        crops = [(0, 0, img), *_tiles(img)]
        found: list[tuple[float, tracking.Roi]] = []
        for x0, y0, crop in crops:
            self.detect_runs += 1
            for score, pts in self._found(crop, crop is img):
                roi = tracking.roi_from_points(pts[0] + (x0, y0), pts[1] + (x0, y0))
                if roi is not None:
                    found.append((score, roi))
        found.sort(key=lambda sr: -sr[0])
        kept: list[tuple[float, tracking.Roi]] = []
        for score, roi in found:
            if all(tracking.iou(roi.box(), k.box()) < 0.4 for _, k in kept):
                kept.append((score, roi))
        self.detect_s += time.perf_counter() - t
        return kept

    def landmarks(self, img: np.ndarray, roi: tracking.Roi) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                     np.ndarray | None] | None:
        """(image landmarks normalised (33, 2), world (33, 3), visibility (33,), the two alignment points
        (2, 2) in ``img``'s pixels) of the person in ``roi``, or None when the model finds no person there."""
        t = time.perf_counter()
        if self.kind == "tasks":
            out = self.region(img, roi.cx, roi.cy, roi.size, roi.rotation)
            self.landmark_runs += 1
            self.landmark_s += time.perf_counter() - t
            return out
        h, w = img.shape[:2]
        rect = self._rect(x_center=roi.cx / w, y_center=roi.cy / h, width=roi.size / w, height=roi.size / h,
                          rotation=roi.rotation)
        res = self.landmarker.process({"image": img, "roi": rect})
        self.landmark_runs += 1
        self.landmark_s += time.perf_counter() - t
        if res.landmarks is None or res.world_landmarks is None:
            return None
        lm = res.landmarks.landmark
        uv = np.array([(p.x, p.y) for p in lm], np.float32)
        vis = np.array([p.visibility for p in lm], np.float32)
        world = np.array([(p.x, p.y, p.z) for p in res.world_landmarks.landmark], np.float32)
        align = None
        if res.auxiliary is not None and len(res.auxiliary.landmark) >= 2:
            a = res.auxiliary.landmark
            align = np.array([[a[0].x * w, a[0].y * h], [a[1].x * w, a[1].y * h]])
        return uv, world, vis, align


def _alignment(uv: np.ndarray) -> np.ndarray | None:
    """BlazePose's two alignment points (pixels) from a pose's 33 landmarks, for the Tasks runtime, whose
    ``PoseLandmarker`` does not return the auxiliary landmarks that carry them: the hip centre, and the
    point towards the shoulders at the distance of the farthest landmark times :data:`ALIGN_RADIUS` (the
    radius of the circle around the whole body, as the detector's second keypoint); None when degenerate."""
    if not np.isfinite(uv).all():
        return None
    centre = 0.5 * (uv[23] + uv[24])
    up = 0.5 * (uv[11] + uv[12]) - centre
    norm = float(np.hypot(*up))
    if norm < 1.0:
        return None
    radius = ALIGN_RADIUS * float(np.max(np.linalg.norm(uv - centre, axis=1)))
    return np.stack([centre, centre + up / norm * radius])


def _tiles(img: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """(x0, y0, crop) square tiles along the frame's longer side, overlapping by a quarter at least (none for
    a nearly square frame): where the detector also looks, so that smaller people are found too."""
    h, w = img.shape[:2]
    side = min(h, w)
    out = []
    if max(h, w) > side * 1.2:
        n = int(np.ceil((max(h, w) - side) / (0.75 * side))) + 1
        for off in np.linspace(0, max(h, w) - side, n).astype(int):
            x0, y0 = (int(off), 0) if w >= h else (0, int(off))
            out.append((x0, y0, np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side])))
    return out


PeopleSink = Callable[[np.ndarray, int, list[np.ndarray], list[np.ndarray]], None]


def extract_people(video: str | Path, *, max_side: int = 640, clip_window: tuple[float, float] | None = None,
                   hands: bool = False, detect_every_s: float = 1 / 6,
                   progress: Callable[[float], None] | None = None,
                   frame_sink: PeopleSink | None = None) -> People:
    """Detect and follow everyone in a video; people ordered main subject first.

    The detector runs every ``detect_every_s`` seconds (and on every frame while nobody is followed);
    between detections each person is followed from their own landmarks. ``frame_sink(image,
    frame_number, [uv (33, 2) in that image's pixels per person followed], [visibility])`` sees every
    decoded frame, e.g. to draw the overlay. Raises DecodeError for unreadable footage.
    """
    clip = open_clip(video, clip_window)
    info = clip.info
    every = max(1, round(detect_every_s * info.fps))

    models = _Models()
    hand_model = landmarker.Landmarker(hands=True, pose=False, num_hands=2 * MAX_PEOPLE) if hands else None
    active: list[tracking.Tracklet] = []
    lost: list[tuple[int, tracking.Tracklet]] = []  # (frame lost, tracklet) not yet given up
    done: list[tracking.Tracklet] = []
    hand_data: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    frames: list[int] = []
    times: list[float] = []
    next_id = 0
    t0 = time.perf_counter()
    t_hands = 0.0
    dstats: dict[str, float] = {}
    img = np.zeros((1, 1, 3), np.uint8)
    try:
        for n, fr in enumerate(threaded_frames(video, max_side, clip_window, stats=dstats)):
            img = fr.image
            img.flags.writeable = False
            frames.append(fr.index)
            times.append(fr.time)
            sx, sy = info.width / img.shape[1], info.height / img.shape[0]
            # follow everyone from where they were
            kept: list[tracking.Tracklet] = []
            for tr in active:
                out = models.landmarks(img, tr.roi) if tr.roi is not None else None
                if out is None:
                    lost.append((n, tr))
                    continue
                _record(tr, n, out, info.width, info.height, info.fps, (img.shape[1], img.shape[0]))
                kept.append(tr)
            active = kept
            # people lost for longer than a detection interval are finished
            done.extend(tr for m, tr in lost if n - m > every)
            lost = [(m, tr) for m, tr in lost if n - m <= every]
            # look for people not followed yet (and at once for someone just lost: fast motion, occlusion)
            detect = n % every == 0 or not active or any(m == n for m, _ in lost)
            if detect:
                dets = models.detect(img)
                boxes = [tr.roi.box() if tr.roi is not None else _scaled_box(tr.box(), sx, sy) for tr in active]
                _pairs, fresh = tracking.match_detections(boxes, [r.box() for _, r in dets])
                # a new detection where someone was just lost continues that person
                resumed = tracking.match_detections(
                    [_scaled_box(tr.box(), sx, sy) for _, tr in lost], [dets[d][1].box() for d in fresh],
                    min_iou=0.1)[0]
                back = {fresh[d]: lost[k][1] for k, d in resumed}
                for d in fresh:
                    out = models.landmarks(img, dets[d][1])
                    if out is None:
                        back.pop(d, None)  # still lost: a later detection may continue them
                        continue
                    resumed_tr = back.get(d)
                    if resumed_tr is None:
                        resumed_tr = tracking.Tracklet(next_id)
                        next_id += 1
                    _record(resumed_tr, n, out, info.width, info.height, info.fps, (img.shape[1], img.shape[0]))
                    active.append(resumed_tr)
                lost = [(m, tr) for m, tr in lost if all(tr is not b for b in back.values())]
            # two followers on one person: the younger one goes
            if len(active) > 1:
                drop = tracking.duplicates([tr.box() for tr in active], [len(tr.frames) for tr in active])
                for i in sorted(drop):
                    tr = active[i]
                    _unrecord_last(tr)
                    if tr.frames:
                        done.append(tr)
                active = [tr for i, tr in enumerate(active) if i not in drop]
            if detect or any(len(tr.frames) == 1 for tr in active):
                for tr in active:
                    if tr.frames and tr.frames[-1] == n:
                        sig = tracking.colour_signature(img, tr.image[-1] / np.array([sx, sy], np.float32),
                                                        tr.visibility[-1])
                        if sig is not None:
                            tr.signatures.append(sig)
            if hand_model is not None and active:
                ta = time.perf_counter()
                seen = hand_model.process_all(img)[1]
                for tr in active:
                    hand_data[(tr.id, n)] = _hands(seen, tr.image[-1], info.width, info.height)
                t_hands += time.perf_counter() - ta
            if frame_sink is not None:
                frame_sink(img, fr.index, [tr.image[-1] / np.array([sx, sy], np.float32) for tr in active],
                           [tr.visibility[-1] for tr in active])
            clip.progress(progress, n)
    finally:
        models.close()
        if hand_model is not None:
            hand_model.close()
    counts = {"runtime": models.kind, "detector_runs": models.detect_runs, "detect_s": round(models.detect_s, 3),
              "landmark_runs": models.landmark_runs, "landmark_s": round(models.landmark_s, 3),
              "pose_fps": round(len(frames) / (models.detect_s + models.landmark_s), 2) if models.landmark_s
              else None}
    return _gather(clip, frames, times, done, active, lost, hand_data if hands
                   else None, t0, t_hands, dstats, img, counts, progress)


def _gather(clip: Clip, frames: list[int], times: list[float], done: list[tracking.Tracklet], active: list[tracking.Tracklet],
            lost: list[tuple[int, tracking.Tracklet]],
            hand_data: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None, t0: float, t_hands: float,
            dstats: dict[str, float], img: np.ndarray, counts: dict[str, Any],
            progress: Callable[[float], None] | None) -> People:
    """The people of one video from its tracklets (either runtime): broken tracklets linked, people seen too
    briefly dropped, main subject first, with the run's figures."""
    wall = time.perf_counter() - t0
    if not frames:
        raise clip.nothing_decoded()
    info = clip.info
    done.extend(active)
    done.extend(tr for _, tr in lost)
    done.sort(key=lambda tr: (tr.frames[0], tr.id))
    chains = tracking.link_tracklets(done, info.fps, frame_size=(info.width, info.height))
    F = len(frames)
    min_frames = max(MIN_FRAMES, round(MIN_SECONDS * info.fps))
    tracks = []
    for chain in chains:
        t = _to_track(chain, F, info, np.array(frames), np.array(times), hand_data)
        if int(t.present.sum()) >= min_frames:
            tracks.append(t)
    order = tracking.presence_order(np.array([t.present for t in tracks]).reshape(len(tracks), F),
                                    np.array([body_size(t) for t in tracks]).reshape(len(tracks), F))
    tracks = [tracks[i] for i in order]
    stats = {
        "frames": F,
        "wall_s": round(wall, 3),
        "pipeline_fps": round(F / wall, 2) if wall else None,
        **counts,
        "hands_fps": round(F / t_hands, 2) if t_hands else None,
        "decode_fps": round(F / dstats["decode_s"], 2) if dstats.get("decode_s") else None,
        "decode_size": list(img.shape[1::-1]),
        "tracklets": len(done),
        "people": len(tracks),
    }
    for t in tracks:
        t.stats = {**stats, "found": int(t.present.sum())}
    if progress is not None:
        progress(1.0)
    return People(tracks, describe(tracks), stats)


def _record(tr: tracking.Tracklet, n: int, out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None],
            width: int, height: int, fps: float, img_size: tuple[int, int]) -> None:
    """Keep one frame's landmarks and derive where to look next (alignment points smoothed in time; the
    smoothing starts again after a frame without the person)."""
    uv, world, vis, align = out
    if tr.smoother is None:
        tr.smoother = tracking.AlignmentFilter(fps)
    if tr.frames and tr.frames[-1] != n - 1:
        tr.smoother.reset()
    tr.frames.append(n)
    tr.image.append(uv * np.array([width, height], np.float32))
    tr.world.append(world)
    tr.visibility.append(vis)
    tr.roi = None
    if align is not None:
        box = tracking.landmark_box(uv * np.array(img_size, np.float32), vis)
        scale = 0.5 * float((box[2] - box[0]) + (box[3] - box[1])) if np.isfinite(box).all() else 1.0
        smooth = tr.smoother(align, scale)  # the person's scale: their landmarks' box
        tr.roi = tracking.roi_from_points(smooth[0], smooth[1])


def _unrecord_last(tr: tracking.Tracklet) -> None:
    for lst in (tr.frames, tr.image, tr.world, tr.visibility):
        lst.pop()


def _scaled_box(box: np.ndarray, sx: float, sy: float) -> np.ndarray:
    return box / np.array([sx, sy, sx, sy])


def _to_track(chain: list[tracking.Tracklet], F: int, info: Any, frames: np.ndarray, times: np.ndarray,
              hand_data: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None) -> PoseTrack:
    world = np.full((F, 33, 3), np.nan, np.float32)
    image = np.full((F, 33, 2), np.nan, np.float32)
    vis = np.zeros((F, 33), np.float32)
    hw = hi = None
    if hand_data is not None:
        hw = np.full((F, 2, 21, 3), np.nan, np.float32)
        hi = np.full((F, 2, 21, 2), np.nan, np.float32)
    for tr in chain:
        idx = np.array(tr.frames)
        world[idx] = np.stack(tr.world)
        image[idx] = np.stack(tr.image)
        vis[idx] = np.stack(tr.visibility)
        if hand_data is not None and hw is not None and hi is not None:
            for f in tr.frames:
                if (tr.id, f) in hand_data:
                    hw[f], hi[f] = hand_data[(tr.id, f)]
    return PoseTrack(info.fps, (info.width, info.height), frames, times, world, image, vis, hw, hi)
