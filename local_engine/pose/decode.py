"""Video decoding for the pose pipeline: PyAV frames, scaled down for inference, on a background thread.

Only reads footage; it must not run any model nor keep more than a few frames in memory (the queue between
the decoder and its consumer is bounded). No bpy here.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


class DecodeError(Exception):
    """The footage cannot be opened or decoded; the message is meant for the user."""


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # as stored (pixels)
    height: int
    fps: float
    frame_count: int  # estimated when the container does not say
    duration: float  # seconds
    codec: str


@dataclass
class Frame:
    index: int  # 0-based frame number in the file
    time: float  # seconds from the start of the stream
    image: np.ndarray  # (h, w, 3) uint8 RGB at the decoding size


def probe(path: str | Path) -> VideoInfo:
    """Size, frame rate and length of a video file (raises DecodeError when it has no readable video)."""
    import av

    path = Path(path)
    if not path.exists():
        raise DecodeError(f"video file {path.name} does not exist")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError(f"{path.name} has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(30)
            fps = float(rate)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000
            else:
                duration = 0.0
            frames = int(stream.frames) or round(duration * fps)
            return VideoInfo(path, stream.codec_context.width, stream.codec_context.height, fps, frames, duration,
                             stream.codec_context.name)
    except DecodeError:
        raise
    except Exception as exc:  # av.error.* (InvalidDataError, ...), OSError
        raise DecodeError(f"cannot read video {path.name}: {exc}") from exc


@dataclass(frozen=True)
class Clip:
    """The part of a video one pose pass reads: the video's info, the window asked for (None: all of it) and
    how many frames it should give (for progress)."""

    info: VideoInfo
    window: tuple[float, float] | None
    expected: int

    def progress(self, report: Callable[[float], None] | None, n: int) -> None:
        """Report the share done after frame ``n`` (every 10 frames)."""
        if report is not None and n % 10 == 0:
            report(min(1.0, (n + 1) / self.expected))

    def nothing_decoded(self) -> DecodeError:
        """The error of a pass that got no frame."""
        where = f" in the clip window {self.window[0]:.2f}-{self.window[1]:.2f} s" if self.window else ""
        return DecodeError(f"{self.info.path.name}: no frames could be decoded{where}")


def open_clip(path: str | Path, clip_window: tuple[float, float] | None = None) -> Clip:
    """The :class:`Clip` of ``path`` within ``clip_window`` (seconds); raises DecodeError for footage without
    a picture."""
    info = probe(path)
    if info.width <= 0 or info.height <= 0:
        raise DecodeError(f"{Path(path).name}: video has no picture size")
    start, end = clip_window if clip_window else (0.0, info.duration or float("inf"))
    expected = max(1, round((min(end, info.duration or end) - start) * info.fps) + 1)
    return Clip(info, clip_window, expected)


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(w, h) scaled so the longer side is at most max_side, both even (what encoders want)."""
    if not max_side or max(width, height) <= max_side:
        return width - width % 2, height - height % 2
    s = max_side / max(width, height)
    return max(2, round(width * s / 2) * 2), max(2, round(height * s / 2) * 2)


def iter_frames(path: str | Path, max_side: int | None = 640,
                clip_window: tuple[float, float] | None = None) -> Iterator[Frame]:
    """Decode frames in order as RGB arrays no larger than max_side, within clip_window (seconds) if given."""
    import av

    path = Path(path)
    info = probe(path)
    w, h = scaled_size(info.width, info.height, max_side)
    start, end = clip_window if clip_window else (0.0, float("inf"))
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if start > 1.0:
                container.seek(int(max(0.0, start - 1.0) / stream.time_base), stream=stream, backward=True)
            index = -1
            t0 = None
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else (index + 1) / info.fps
                if t0 is None:
                    t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
                t -= t0
                index = round(t * info.fps)
                if t < start - 0.5 / info.fps:
                    continue
                if t > end + 0.5 / info.fps:
                    break
                # swscale AREA: antialiased downscaling (pose landmarks suffer from aliasing), ~30 % cheaper than bicubic
                image = frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="AREA")
                yield Frame(index, t, np.ascontiguousarray(image))
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"cannot decode video {path.name}: {exc}") from exc


_END = object()


def threaded_frames(path: str | Path, max_side: int | None = 640,
                    clip_window: tuple[float, float] | None = None, buffer: int = 8,
                    stats: dict | None = None) -> Iterator[Frame]:
    """iter_frames() running on its own thread (FFmpeg and swscale release the GIL), so decoding overlaps
    with whatever the consumer does. Errors of the decoder are re-raised in the consumer. ``stats`` (if
    given) receives ``decode_s``: the decoder's own time, waits for the consumer excluded."""
    q: queue.Queue = queue.Queue(maxsize=buffer)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        import time

        busy = 0.0
        try:
            t = time.perf_counter()
            for fr in iter_frames(path, max_side, clip_window):
                busy += time.perf_counter() - t
                if stats is not None:
                    stats["decode_s"] = busy
                if not put(fr):
                    return
                t = time.perf_counter()
            put(_END)
        except BaseException as exc:  # handed to the consumer
            put(exc)

    thread = threading.Thread(target=work, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
