"""RENDER_OVERLAY_VIDEO: the footage with the detected skeleton drawn on it, encoded with PyAV (H.264 in
MP4) on its own thread while the pose model runs.

It draws and encodes only; it must not run models or decide what the skeleton is. No bpy here.
"""

from __future__ import annotations

import queue
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from .blazepose import CONNECTIONS

_LEFT = (255, 140, 0)  # RGB: the person's left side in orange, right in cyan, centre in white
_RIGHT = (0, 200, 255)
_MID = (255, 255, 255)


def _colour(a: int, b: int) -> tuple[int, int, int]:
    odd = (a % 2, b % 2)
    if a >= 11 and b >= 11:
        if odd == (1, 1):
            return _LEFT
        if odd == (0, 0):
            return _RIGHT
    return _MID


def draw_skeleton(image: np.ndarray, uv: np.ndarray | None, visibility: np.ndarray | None,
                  min_visibility: float = 0.5) -> np.ndarray:
    """Draw landmarks (33, 2) in this image's pixels onto a copy of the RGB image."""
    import cv2

    out = np.ascontiguousarray(image).copy()
    if uv is None or not np.isfinite(uv).all():
        return out
    vis = np.ones(len(uv)) if visibility is None else visibility
    thick = max(2, round(max(out.shape[:2]) / 320))
    pts = np.round(uv).astype(np.int32)
    for a, b in CONNECTIONS:
        if vis[a] >= min_visibility and vis[b] >= min_visibility:
            cv2.line(out, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), _colour(a, b), thick,
                     cv2.LINE_AA)
    for i in range(11, 33):
        if vis[i] >= min_visibility:
            cv2.circle(out, tuple(int(v) for v in pts[i]), thick + 1, _MID, -1, cv2.LINE_AA)
    return out


class OverlayWriter:
    """Callable frame sink for :func:`blazepose.extract`: draws each frame and encodes it on a thread."""

    def __init__(self, path: str | Path, fps: float, codec: str = "libx264") -> None:
        self.path = Path(path)
        self.fps = fps
        self.codec = codec
        self.frames = 0
        self.busy_s = 0.0  # drawing + encoding time on the writer's thread
        self._q: queue.Queue = queue.Queue(maxsize=16)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __call__(self, image: np.ndarray, frame_number: int, uv: np.ndarray | list[np.ndarray] | None,
                 visibility: np.ndarray | list[np.ndarray] | None) -> None:
        """One frame with one person's landmarks (33, 2), or a list of several people's."""
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(image.shape[1], image.shape[0]),
                                            name="overlay", daemon=True)
            self._thread.start()
        self._q.put((image, uv, visibility))

    def _run(self, width: int, height: int) -> None:
        import av

        try:
            with av.open(str(self.path), mode="w") as container:
                rate = Fraction(self.fps).limit_denominator(1001)
                try:
                    stream = container.add_stream(self.codec, rate=rate)
                    stream.options = {"preset": "ultrafast", "crf": "23"}
                except Exception:  # FFmpeg built without x264: fall back to MPEG-4 part 2
                    stream = container.add_stream("mpeg4", rate=rate)
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                while True:
                    item = self._q.get()
                    if item is None:
                        break
                    t = time.perf_counter()
                    image, uv, vis = item
                    if isinstance(uv, list):  # everyone followed (local_engine.pose.people)
                        for person_uv, person_vis in zip(uv, vis):
                            image = draw_skeleton(image, person_uv, person_vis)
                        drawn = image
                    else:
                        drawn = draw_skeleton(image, uv, vis)
                    frame = av.VideoFrame.from_ndarray(drawn, format="rgb24")
                    for packet in stream.encode(frame):
                        container.mux(packet)
                    self.frames += 1
                    self.busy_s += time.perf_counter() - t
                for packet in stream.encode():
                    container.mux(packet)
        except BaseException as exc:
            self._error = exc
            while True:  # keep draining so the producer never blocks
                try:
                    if self._q.get(timeout=1.0) is None:
                        break
                except queue.Empty:
                    break

    def close(self) -> Path | None:
        """Finish the file; returns its path, or None when no frame was written."""
        if self._thread is None:
            return None
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.path
