"""BlazePose landmarks for one video: mediapipe's pose (and optionally hands) model in tracking mode, run
offline on frames decoded on another thread, gathered into a :class:`PoseTrack`.

Only the models shipped inside the mediapipe 0.10.21 wheel are used (pose full = ``model_complexity=1``,
hands full), through whichever runtime this Python has (local_engine.pose.landmarker: 0.10.21's legacy
solutions, or the Tasks API of mediapipe >= 0.10.30 with bundles of the same models); the lite/heavy pose
models would be downloaded at run time, so this module must never ask for them. It does not fit skeletons
nor filter: it records what the model saw. No bpy here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .decode import open_clip, threaded_frames
from .landmarker import HandSeen, Landmarker
from .landmarker import MediapipeUnavailable as MediapipeUnavailable  # extract() raises it

LANDMARKS = [
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
]
LM = {name: i for i, name in enumerate(LANDMARKS)}
#: Landmark index of the other side (left <-> right), for symmetry checks and label swaps.
MIRROR = [LM[n.replace("left", "#").replace("right", "left").replace("#", "right")] for n in LANDMARKS]
#: Limb segments drawn in the overlay and checked for stable lengths.
CONNECTIONS = [
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24), (23, 25), (25, 27),
    (24, 26), (26, 28), (27, 29), (29, 31), (27, 31), (28, 30), (30, 32), (28, 32), (15, 19), (15, 17),
    (17, 19), (16, 20), (16, 18), (18, 20), (0, 7), (0, 8),
]
HAND_CONNECTIONS = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11),
                    (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19),
                    (19, 20)]


@dataclass
class PoseTrack:
    """What BlazePose saw in one video, frame by frame (NaN where nobody was found).

    ``world`` is mediapipe's metric estimate in the camera's axes (x right, y down, z away from the camera)
    centred between the hips; ``image`` is in pixels of the *original* video size.
    """

    fps: float
    size: tuple[int, int]  # (width, height) of the video as stored
    frames: np.ndarray  # (F,) int frame numbers in the file
    times: np.ndarray  # (F,) seconds
    world: np.ndarray  # (F, 33, 3)
    image: np.ndarray  # (F, 33, 2)
    visibility: np.ndarray  # (F, 33) in 0..1
    hands_world: np.ndarray | None = None  # (F, 2, 21, 3): the person's left, right hand (camera axes, m)
    hands_image: np.ndarray | None = None  # (F, 2, 21, 2) pixels
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def present(self) -> np.ndarray:
        return np.isfinite(self.world[:, 0, 0])

    def __len__(self) -> int:
        return len(self.frames)

    def save(self, path: str | Path) -> None:
        arrays = {k: getattr(self, k) for k in ("frames", "times", "world", "image", "visibility")}
        if self.hands_world is not None:
            arrays["hands_world"] = self.hands_world
            arrays["hands_image"] = self.hands_image
        np.savez_compressed(path, fps=np.array(self.fps), size=np.array(self.size), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> PoseTrack:
        with np.load(path) as z:
            return cls(float(z["fps"]), (int(z["size"][0]), int(z["size"][1])), z["frames"], z["times"],
                       z["world"], z["image"], z["visibility"],
                       z.get("hands_world", None),
                       z.get("hands_image", None))

    def subset(self, mask: np.ndarray) -> PoseTrack:
        """The same track with frames where ``mask`` is False blanked out (NaN)."""
        out = PoseTrack(self.fps, self.size, self.frames, self.times, self.world.copy(), self.image.copy(),
                        self.visibility.copy(),
                        None if self.hands_world is None else self.hands_world.copy(),
                        None if self.hands_image is None else self.hands_image.copy(), dict(self.stats))
        drop = ~mask
        out.world[drop] = np.nan
        out.image[drop] = np.nan
        out.visibility[drop] = 0.0
        if out.hands_world is not None:
            out.hands_world[drop] = np.nan
            out.hands_image[drop] = np.nan
        return out


FrameSink = Callable[[np.ndarray, int, np.ndarray | None, np.ndarray | None], None]


def extract(video: str | Path, *, max_side: int = 640, clip_window: tuple[float, float] | None = None,
            hands: bool = False, progress: Callable[[float], None] | None = None,
            frame_sink: FrameSink | None = None) -> PoseTrack:
    """Run BlazePose (full model, tracking mode) over a video.

    ``frame_sink(image, frame_number, image_landmarks_px_scaled, visibility)`` is called with every decoded
    (scaled) frame and its landmarks in that frame's pixels, e.g. to draw the overlay video while decoding.
    Raises DecodeError for unreadable footage.
    """
    clip = open_clip(video, clip_window)
    info = clip.info

    frames: list[int] = []
    times: list[float] = []
    world: list[np.ndarray] = []
    image: list[np.ndarray] = []
    vis: list[np.ndarray] = []
    h_world: list[np.ndarray] = []
    h_image: list[np.ndarray] = []
    nan33 = np.full((33, 3), np.nan, np.float32)
    t_infer = 0.0
    t_hands = 0.0
    t_sink = 0.0
    t0 = time.perf_counter()
    model = Landmarker(hands=hands)
    with model:
        dstats: dict[str, float] = {}
        for n, fr in enumerate(threaded_frames(video, max_side, clip_window, stats=dstats)):
            img = fr.image
            img.flags.writeable = False
            ta = time.perf_counter()
            seen, hands_seen = model.process(img)
            t_infer += time.perf_counter() - ta
            frames.append(fr.index)
            times.append(fr.time)
            if seen is not None:
                w = seen.world
                uv = seen.image * np.array([info.width, info.height], np.float32)
                v = seen.visibility
            else:
                w, uv, v = nan33, nan33[:, :2], np.zeros(33, np.float32)
            world.append(w)
            image.append(uv)
            vis.append(v)
            if hands:
                ta = time.perf_counter()
                hw, hi = _hands(hands_seen, uv, info.width, info.height)
                t_hands += time.perf_counter() - ta + model.hands_s
                t_infer -= model.hands_s
                model.hands_s = 0.0
                h_world.append(hw)
                h_image.append(hi)
            if frame_sink is not None:
                ta = time.perf_counter()
                sx = img.shape[1] / info.width
                frame_sink(img, fr.index, uv * sx if np.isfinite(uv).all() else None, v)
                t_sink += time.perf_counter() - ta
            clip.progress(progress, n)
    wall = time.perf_counter() - t0
    if not frames:
        raise clip.nothing_decoded()
    track = PoseTrack(info.fps, (info.width, info.height), np.array(frames), np.array(times),
                      np.stack(world), np.stack(image), np.stack(vis),
                      np.stack(h_world) if h_world else None, np.stack(h_image) if h_image else None)
    n = len(frames)
    track.stats = {
        "frames": n,
        "wall_s": round(wall, 3),
        "pipeline_fps": round(n / wall, 2) if wall else None,
        "pose_fps": round(n / t_infer, 2) if t_infer else None,
        "hands_fps": round(n / t_hands, 2) if t_hands else None,
        "decode_fps": round(n / dstats["decode_s"], 2) if dstats.get("decode_s") else None,
        "overlay_submit_s": round(t_sink, 3) if t_sink else None,
        "decode_size": list(img.shape[1::-1]),
        "found": int(track.present.sum()),
        "runtime": f"mediapipe {model.version} ({model.kind})",
    }
    if progress is not None:
        progress(1.0)
    return track


def _hands(seen: list[HandSeen], pose_uv: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Hands of the tracked person: each detected hand goes to the pose wrist nearest its own wrist
    (mediapipe's handedness label assumes mirrored selfie footage, so it is not trusted)."""
    hw = np.full((2, 21, 3), np.nan, np.float32)
    hi = np.full((2, 21, 2), np.nan, np.float32)
    if not seen or not np.isfinite(pose_uv).all():
        return hw, hi
    wrists = pose_uv[[LM["left_wrist"], LM["right_wrist"]]]
    forearm = np.linalg.norm(pose_uv[LM["left_elbow"]] - pose_uv[LM["left_wrist"]]) + 1e-6
    best = [np.inf, np.inf]
    for norm, wlm in seen:
        uv = norm * np.array([width, height], np.float32)
        d = np.linalg.norm(wrists - uv[0], axis=1)
        side = int(np.argmin(d))
        if d[side] < best[side] and d[side] < 0.8 * forearm + 0.05 * max(width, height):
            best[side] = d[side]
            hi[side] = uv
            hw[side] = wlm
    return hw, hi


def consistent_person(track: PoseTrack, jump: float = 0.6) -> tuple[np.ndarray, dict[str, Any]]:
    """Frames (mask) that belong to the person followed for most of the take.

    BlazePose follows one person and re-detects when it loses them, possibly on someone else. The track is
    cut where the body jumps in the image (hip centre moving more than ``jump`` torso lengths in one frame,
    or the torso's size changing by more than 40 %); the segment set kept is the largest (frames x size)
    segment plus the neighbours that continue it plausibly. Other frames count as "nobody seen".
    """
    n = len(track)
    present = track.present
    uv = track.image
    centre = 0.5 * (uv[:, LM["left_hip"]] + uv[:, LM["right_hip"]])
    sh = 0.5 * (uv[:, LM["left_shoulder"]] + uv[:, LM["right_shoulder"]])
    torso = np.linalg.norm(sh - centre, axis=1)
    segments: list[list[int]] = []
    last = -1
    for f in range(n):
        if not present[f]:
            continue
        new = last < 0 or not segments
        if not new:
            gap = f - last
            d = np.linalg.norm(centre[f] - centre[last]) / max(torso[last], 1.0)
            ratio = torso[f] / max(torso[last], 1.0)
            new = d > jump * gap ** 0.5 + (0.3 if gap > 1 else 0.0) or not (0.6 < ratio < 1 / 0.6)
        if new:
            segments.append([f, f + 1])
        else:
            segments[-1][1] = f + 1
        last = f
    if not segments:
        return present.copy(), {"segments": 0}
    score = [float(np.nansum(torso[a:b][present[a:b]])) for a, b in segments]
    best = int(np.argmax(score))
    keep = {best}

    def plausible(i: int, j: int) -> bool:
        a, b = segments[i], segments[j]
        fi, fj = (a[1] - 1, b[0]) if i < j else (a[0], b[1] - 1)
        gap = abs(fj - fi)
        d = np.linalg.norm(centre[fj] - centre[fi]) / max(torso[fi], 1.0)
        ratio = torso[fj] / max(torso[fi], 1.0)
        return bool(d < jump * gap ** 0.5 + (0.3 if gap > 1 else 0.0) and 0.6 < ratio < 1 / 0.6)

    i = best
    for j in range(best + 1, len(segments)):
        if plausible(i, j):
            keep.add(j)
            i = j
    i = best
    for j in range(best - 1, -1, -1):
        if plausible(i, j):
            keep.add(j)
            i = j
    mask = np.zeros(n, bool)
    for k in keep:
        a, b = segments[k]
        mask[a:b] = present[a:b]
    return mask, {"segments": len(segments), "kept_segments": len(keep), "kept_frames": int(mask.sum()),
                  "dropped_frames": int(present.sum() - mask.sum())}
