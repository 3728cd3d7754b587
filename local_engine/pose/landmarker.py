"""The BlazePose runtime of this Python, behind one small interface: mediapipe 0.10.21's legacy ``solutions``
(Python 3.11, numpy 1: Blender 4.2-5.0) or the Tasks API of mediapipe >= 0.10.30 (``PoseLandmarker`` /
``HandLandmarker``, any Python 3, numpy 2: Blender 5.1+) with model bundles built from 0.10.21's own models.

Both run the same networks (pose detection + pose landmark *full*, palm detection + hand landmark *full*) in
tracking mode (the Tasks ones in VIDEO mode with each frame's timestamp), and both give, per frame, the 33
landmarks normalised to the image with their visibility and the 33 metric world landmarks, unsmoothed. Which one runs is
decided by what is importable: 0.10.21 when present, else the Tasks API with the bundles found by
:func:`model_dir`. Nothing is downloaded at run time.

The bundles (``pose_landmarker_full.task``, ``hand_landmarker_full.task``, with mediapipe's LICENSE and a NOTICE)
are built by ``scripts/build_pose_models.py`` and looked for in ``$MOVE_MOCAP_POSE_MODELS``, then in
``local_engine/pose/models`` (the engine extension carries them there), then in a checkout's ``.cache/models``
(scripts/setup_env.sh builds them there). :class:`RegionLandmarker` runs the pose bundle's landmark network alone
on a given region (the Tasks API offers no such call), for local_engine.pose.people on the Tasks runtime. This
module decodes no video and keeps no track; no bpy here.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

POSE_TASK = "pose_landmarker_full.task"
HAND_TASK = "hand_landmarker_full.task"
MODELS_ENV = "MOVE_MOCAP_POSE_MODELS"
#: mediapipe releases whose Tasks API runs our bundles (0.10.30 is the first with cp313-usable wheels).
TASKS_MIN = (0, 10, 30)
# Same thresholds for both runtimes (mediapipe's defaults; the legacy solution is built with them too).
MIN_DETECTION = 0.5
MIN_TRACKING = 0.5
#: Milliseconds between two frames' stamps in the Tasks VIDEO mode (see Landmarker._timestamp). int64
#: nanoseconds inside mediapipe hold 9e5 such frames (4 h of 60 fps).
FRAME_STEP_MS = 10_000_000


class MediapipeUnavailable(RuntimeError):
    """No BlazePose runtime in this Python: mediapipe missing, or a Tasks-only mediapipe without the bundles."""


@dataclass
class PoseSeen:
    """One frame's pose: ``image`` (33, 2) normalised 0..1 (x right, y down), ``visibility`` (33,),
    ``world`` (33, 3) metres in the camera's axes centred between the hips."""

    image: np.ndarray
    visibility: np.ndarray
    world: np.ndarray


#: One hand: (image (21, 2) normalised, world (21, 3) metres).
HandSeen = tuple[np.ndarray, np.ndarray]


def _quiet() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def model_dirs() -> Iterator[Path]:
    """Where the Tasks bundles are looked for, in order (see the module docstring)."""
    if os.environ.get(MODELS_ENV):
        yield Path(os.environ[MODELS_ENV])
    here = Path(__file__).resolve().parent
    yield here / "models"
    yield here.parents[1] / ".cache" / "models"


def model_dir() -> Path | None:
    """The first folder of :func:`model_dirs` holding the pose bundle, or None."""
    return next((d for d in model_dirs() if (d / POSE_TASK).is_file()), None)


def _version(mp: Any) -> tuple[int, ...]:
    parts = []
    for p in str(getattr(mp, "__version__", "0")).split(".")[:3]:
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _mediapipe() -> Any:
    _quiet()
    try:
        import mediapipe as mp
    except ImportError as exc:
        raise MediapipeUnavailable(_missing(f"mediapipe is not installed in this Python ({exc})")) from exc
    return mp


def _missing(what: str) -> str:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (f"The mediapipe solver cannot run: {what}. It needs mediapipe 0.10.21 (Python 3.11, numpy 1) or "
            f"mediapipe >= 0.10.30 with the pose model bundle built by scripts/build_pose_models.py (this is "
            f"Python {version}, numpy {np.__version__}; see requirements/mediapipe*.txt and scripts/setup_env.sh), "
            "or use the replay solver.")


def kind(mp: Any | None = None) -> str:
    """``"legacy"`` (mediapipe 0.10.21's solutions) or ``"tasks"``; raises MediapipeUnavailable."""
    mp = mp if mp is not None else _mediapipe()
    if hasattr(mp, "solutions") and hasattr(mp.solutions, "pose"):
        return "legacy"
    if _version(mp) < TASKS_MIN:
        raise MediapipeUnavailable(_missing(f"mediapipe {mp.__version__} has neither the legacy pose solution "
                                            "nor a Tasks API that runs our bundles"))
    if model_dir() is None:
        looked = ", ".join(str(d) for d in model_dirs())
        raise MediapipeUnavailable(_missing(f"mediapipe {mp.__version__} ships no model, and {POSE_TASK} was "
                                            f"found in none of {looked}"))
    return "tasks"


def problem_without_import() -> str | None:
    """Why no runtime would load here, judged from the files alone (cheap: for the health route), or None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("mediapipe")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return _missing("mediapipe is not installed in this Python")
    if (Path(spec.origin).parent / "python" / "solutions" / "pose.py").is_file():
        return None
    if model_dir() is None:
        return _missing(f"this mediapipe ships no model, and {POSE_TASK} was found in none of "
                        + ", ".join(str(d) for d in model_dirs()))
    return None


def fingerprint() -> str:
    """Which runtime would make this Python's landmarks, judged from the files alone (mediapipe is not
    imported): the kind, mediapipe's version and, for the Tasks runtime, the pose bundle's size. Landmark
    caches are keyed by it, so the two runtimes never share detections."""
    import importlib.metadata
    import importlib.util

    try:
        spec = importlib.util.find_spec("mediapipe")
        version = importlib.metadata.version("mediapipe")
    except (ImportError, ValueError, importlib.metadata.PackageNotFoundError):
        return "no mediapipe"
    if spec is None or not spec.origin:
        return "no mediapipe"
    if (Path(spec.origin).parent / "python" / "solutions" / "pose.py").is_file():
        return f"legacy mediapipe {version}"
    models = model_dir()
    bundle = f"{POSE_TASK} {(models / POSE_TASK).stat().st_size} bytes" if models is not None else "no bundle"
    return f"tasks mediapipe {version} {bundle}"


def describe() -> dict[str, Any]:
    """What would run here, for the health route and benchmarks (never raises)."""
    try:
        mp = _mediapipe()
        runtime = kind(mp)
    except MediapipeUnavailable as exc:
        return {"runtime": None, "problem": str(exc)}
    out: dict[str, Any] = {"runtime": runtime, "mediapipe": mp.__version__, "problem": None}
    if runtime == "tasks":
        out["models"] = str(model_dir())
    return out


class Landmarker:
    """BlazePose (and optionally hands) over consecutive frames of one video, in tracking mode. Use as a
    context manager; feed RGB uint8 frames in order.

    ``num_poses`` > 1 (everyone in the frame, Tasks runtime only: the legacy solution follows one person,
    local_engine.pose.people drives its graphs itself) and ``num_hands`` set how many are looked for;
    ``pose=False`` builds the hand model alone (hands of people found by other means); ``still=True`` (Tasks
    runtime only) treats each image on its own (IMAGE mode: detection every time, nothing followed), for
    crops and tiles."""

    def __init__(self, hands: bool = False, num_poses: int = 1, num_hands: int = 2, pose: bool = True,
                 still: bool = False) -> None:
        mp = _mediapipe()
        self.kind = kind(mp)
        self.version = str(mp.__version__)
        self._mp = mp
        self._still = False
        self._last_ms = 0
        self.hands_s = 0.0  # seconds spent in the hand model since the caller last reset it
        self._pose: Any = None
        self._hands: Any = None
        if self.kind == "legacy":
            if num_poses != 1 or still:
                raise ValueError("the legacy pose solution follows one person (num_poses=1), in tracking mode")
            if pose:
                    self._pose = mp.solutions.pose.Pose(
                    static_image_mode=False, model_complexity=1, smooth_landmarks=False, enable_segmentation=False,
                    min_detection_confidence=MIN_DETECTION, min_tracking_confidence=MIN_TRACKING)
            if hands:
                self._hands = mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=num_hands,
                                                       model_complexity=1, min_detection_confidence=MIN_DETECTION,
                                                       min_tracking_confidence=MIN_TRACKING)
            return
        from mediapipe.tasks.python import BaseOptions, vision

        models = model_dir()
        assert models is not None  # kind() checked
        self._still = still
        mode = vision.RunningMode.IMAGE if still else vision.RunningMode.VIDEO
        if pose:
            self._pose = vision.PoseLandmarker.create_from_options(vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(models / POSE_TASK)),
                running_mode=mode, num_poses=num_poses,
                min_pose_detection_confidence=MIN_DETECTION, min_pose_presence_confidence=MIN_TRACKING,
                min_tracking_confidence=MIN_TRACKING))
        if hands:
            if not (models / HAND_TASK).is_file():
                self.close()
                raise MediapipeUnavailable(_missing(f"{HAND_TASK} is missing from {models}"))
            self._hands = vision.HandLandmarker.create_from_options(vision.HandLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(models / HAND_TASK)),
                running_mode=mode, num_hands=num_hands, min_hand_detection_confidence=MIN_DETECTION,
                min_hand_presence_confidence=MIN_TRACKING, min_tracking_confidence=MIN_TRACKING))

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for model in (self._pose, self._hands):
            if model is not None:
                model.close()
        self._pose = self._hands = None

    def _image(self, img: np.ndarray) -> Any:
        return self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(img))

    def _timestamp(self) -> int:
        """The next frame's stamp for the Tasks graph: strictly increasing, and :data:`FRAME_STEP_MS` apart.

        In VIDEO mode the Tasks pose graph smooths the output landmarks with One Euro filters whose weights
        depend on the time between frames; the legacy solution lets us turn that off (``smooth_landmarks=False``:
        the engine filters the whole take itself, zero-phase). Frames 10^4 s apart make those filters pass each
        frame through (the previous frame keeps a weight of 3e-4), so both runtimes record what the model saw.
        The cost: the Tasks graph drives the filter of the tracking region's auxiliary landmarks by the same
        clock, which the legacy solution always applies, so the region, and the landmarks, jitter about 15 %
        more from frame to frame (docs/local_engine_packaging.md; real-time stamps, which smooth the outputs
        too, gave worse multi-view results). Tracking itself does not look at time. With ``num_poses`` > 1
        the spacing matters more: the graph's filters are kept per output slot, not per person, and the slots'
        order can change between frames (new detections merged with the tracked regions), so smoothing would
        blend two people's landmarks; passed-through frames cannot.
        """
        self._last_ms += FRAME_STEP_MS
        return self._last_ms

    def process(self, img: np.ndarray) -> tuple[PoseSeen | None, list[HandSeen]]:
        """The pose in this frame (None: nobody) and the hands seen (empty unless built with hands)."""
        poses, hands = self.process_all(img)
        return (poses[0] if poses else None), hands

    def process_all(self, img: np.ndarray) -> tuple[list[PoseSeen], list[HandSeen]]:
        """Every pose found in this frame (at most ``num_poses``; none without the pose model) and the hands
        seen (empty unless built with hands)."""
        if self.kind == "legacy":
            poses: list[PoseSeen] = []
            res = self._pose.process(img) if self._pose is not None else None
            if res is not None and res.pose_world_landmarks is not None and res.pose_landmarks is not None:
                lm = res.pose_landmarks.landmark
                poses.append(PoseSeen(np.array([(p.x, p.y) for p in lm], np.float32),
                                      np.array([p.visibility for p in lm], np.float32),
                                      np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark],
                                               np.float32)))
            hands: list[HandSeen] = []
            if self._hands is not None:
                t0 = time.perf_counter()
                hres = self._hands.process(img)
                for lms, wlms in zip(hres.multi_hand_landmarks or [], hres.multi_hand_world_landmarks or []):
                    hands.append((np.array([(p.x, p.y) for p in lms.landmark], np.float32),
                                  np.array([(p.x, p.y, p.z) for p in wlms.landmark], np.float32)))
                self.hands_s += time.perf_counter() - t0
            return poses, hands
        image = self._image(img)
        ms = self._timestamp()
        poses = []
        if self._pose is not None:
            r = self._pose.detect(image) if self._still else self._pose.detect_for_video(image, ms)
            for lm, wlm in zip(r.pose_landmarks or [], r.pose_world_landmarks or []):
                poses.append(PoseSeen(
                    np.array([(p.x, p.y) for p in lm], np.float32),
                    np.array([p.visibility if p.visibility is not None else 0.0 for p in lm], np.float32),
                    np.array([(p.x, p.y, p.z) for p in wlm], np.float32)))
        hands = []
        if self._hands is not None:
            t0 = time.perf_counter()
            hr = self._hands.detect(image) if self._still else self._hands.detect_for_video(image, ms)
            for lms, wlms in zip(hr.hand_landmarks or [], hr.hand_world_landmarks or []):
                hands.append((np.array([(p.x, p.y) for p in lms], np.float32),
                              np.array([(p.x, p.y, p.z) for p in wlms], np.float32)))
            self.hands_s += time.perf_counter() - t0
        return poses, hands


#: The landmark network's input side (pixels) and its heatmap's; the refinement window around each landmark.
ROI_INPUT = 256
_HEATMAP_KERNEL = 7
_REFINE_MIN = 0.5


class RegionLandmarker:
    """BlazePose's landmark network (*full*) alone on a given region, as mediapipe's legacy
    ``PoseLandmarkByRoiCpu`` runs it, for the Tasks runtime, whose API runs the landmarks only behind its own
    detector and tracking: the network from the pose bundle is run by OpenCV's TFLite reader (the region warped
    to 256 x 256, values 0..1, edges replicated outside the frame), its outputs decoded as that graph does (visibility by a
    sigmoid, image landmarks refined on the heatmap within 7 cells where it is confident, landmarks and world
    landmarks turned back by the region's rotation). Gives, like local_engine.pose.people's legacy models, the
    33 landmarks, the world landmarks, the visibility and the two alignment points the next region comes from."""

    def __init__(self) -> None:
        import zipfile

        import cv2

        models = model_dir()
        if models is None:
            raise MediapipeUnavailable(_missing(f"{POSE_TASK} was found in none of "
                                                + ", ".join(str(d) for d in model_dirs())))
        with zipfile.ZipFile(models / POSE_TASK) as z:
            data = z.read("pose_landmarks_detector.tflite")
        self._cv2 = cv2
        self._net = cv2.dnn.readNetFromTFLite(np.frombuffer(data, np.uint8))
        self._outs = list(self._net.getUnconnectedOutLayersNames())

    def __call__(self, img: np.ndarray, cx: float, cy: float, size: float, rotation: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(image landmarks (33, 2) normalised to ``img``, world (33, 3), visibility (33,), alignment points
        (2, 2) in ``img``'s pixels) of the person in the square region (centre, side in pixels, rotation in
        radians counter-clockwise as mediapipe's), or None when the network sees nobody there."""
        cv2 = self._cv2
        c, s = float(np.cos(rotation)), float(np.sin(rotation))
        k = size / ROI_INPUT
        # input pixel (u, v) -> image pixel: centre + R (u k - size / 2, v k - size / 2), the region's corner on
        # pixel 0 as mediapipe's ImageToTensorCalculator maps it (the legacy graph's landmarks to 0.2 px)
        rot = np.array([[c, -s], [s, c]])
        m = np.concatenate([rot * k, (np.array([cx, cy]) - rot @ np.full(2, 0.5 * size))[:, None]], axis=1)
        patch = cv2.warpAffine(img, m, (ROI_INPUT, ROI_INPUT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
        self._net.setInput(cv2.dnn.blobFromImage(patch, 1 / 255.0))
        out = dict(zip(self._outs, self._net.forward(self._outs)))
        by_shape = {tuple(v.shape[1:]): v for v in out.values()}
        flag = float(by_shape[(1,)].ravel()[0])
        if flag < MIN_TRACKING:
            return None
        raw = by_shape[(195,)].reshape(39, 5)
        heat = by_shape[(39, 64, 64)][0]
        world = by_shape[(117,)].reshape(39, 3)[:33]
        xy = raw[:, :2] / ROI_INPUT
        xy = _refine(xy, heat)
        vis = 1.0 / (1.0 + np.exp(-raw[:33, 3]))
        px = np.array([cx, cy]) + ((xy - 0.5) * size) @ rot.T
        h, w = img.shape[:2]
        uv = (px[:33] / np.array([w, h])).astype(np.float32)
        wxy = world[:, :2] @ rot.T
        world_out = np.concatenate([wxy, world[:, 2:]], axis=1).astype(np.float32)
        return uv, world_out, vis.astype(np.float32), px[33:35]


def _refine(xy: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """Landmarks (normalised to the input) moved to the confidence-weighted mean of the heatmap within
    :data:`_HEATMAP_KERNEL` cells where its best cell is confident (mediapipe's
    RefineLandmarksFromHeatmapCalculator). The sigmoid is taken on those cells only, the windows that lie
    wholly inside the heatmap all at once; the sums keep their order, so the result is the same to the bit
    (the people loop's decisions follow a landmark's last bit)."""
    hh, hw = heat.shape[1:]
    out = xy.copy()
    r = _HEATMAP_KERNEL // 2
    cx = np.trunc(xy[:, 0] * hw)
    cy = np.trunc(xy[:, 1] * hh)
    whole = (cx >= r) & (cx < hw - r) & (cy >= r) & (cy < hh - r)  # NaN compares False
    idx = np.nonzero(whole)[0]
    if len(idx):
        offsets = np.arange(-r, r + 1)
        xs = cx[idx, None].astype(np.int64) + offsets  # (m, k) cell columns of each window
        ys = cy[idx, None].astype(np.int64) + offsets
        cells = heat[idx[:, None, None], ys[:, :, None], xs[:, None, :]]  # (m, k, k)
        win = 1.0 / (1.0 + np.exp(-np.clip(cells, -60.0, 60.0)))
        total = win.sum(axis=(1, 2))
        ok = (win.max(axis=(1, 2)) >= _REFINE_MIN) & (total > 0)
        mx = (win * xs[:, None, :]).sum(axis=(1, 2))
        my = (win * ys[:, :, None]).sum(axis=(1, 2))
        out[idx[ok], 0] = (mx[ok] / total[ok] / hw).astype(out.dtype)
        out[idx[ok], 1] = (my[ok] / total[ok] / hh).astype(out.dtype)
    for i in np.nonzero(~whole & (cx >= 0) & (cx < hw) & (cy >= 0) & (cy < hh))[0]:  # windows cut by an edge
        x, y = int(cx[i]), int(cy[i])
        y0, y1, x0, x1 = max(0, y - r), min(hh, y + r + 1), max(0, x - r), min(hw, x + r + 1)
        win = 1.0 / (1.0 + np.exp(-np.clip(heat[i, y0:y1, x0:x1], -60.0, 60.0)))
        if win.max() < _REFINE_MIN or win.sum() <= 0:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        out[i, 0] = float((win * xs).sum() / win.sum()) / hw
        out[i, 1] = float((win * ys).sum() / win.sum()) / hh
    return out
