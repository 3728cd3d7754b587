"""A preview a person can look at: the footage beside the animated rig, as a contact sheet (PNG) and a video.

Each row (or video frame) shows the footage at a moment and the rig's deforming bones at the same moment,
drawn from the front (-Y) and from the side (+X) on a shared scale with the floor line. The rig is evaluated
by Blender (the depsgraph), so what is drawn is what Blender plays back.

Usage (with a Blender venv's Python, or `blender -b file.blend --python scripts/preview.py -- ...`):
  python scripts/preview.py --blend out.blend --armature Rig --video footage.mp4 --out preview.png
         [--video-out preview.mp4] [--rows 8] [--clip-start SECONDS]
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

PANEL = 360  # pixels: the height of every panel


def bone_segments(obj, frames: list[int]) -> np.ndarray:
    """(len(frames), bones, 2, 3) world-space head/tail of the deforming bones at each frame."""
    import bpy

    scene = bpy.context.scene
    bones = [b.name for b in obj.data.bones if b.use_deform] or [b.name for b in obj.data.bones]
    out = np.zeros((len(frames), len(bones), 2, 3))
    keep = scene.frame_current
    for i, f in enumerate(frames):
        scene.frame_set(f)
        mw = np.array(obj.matrix_world)
        for j, name in enumerate(bones):
            pb = obj.pose.bones[name]
            for k, p in enumerate((pb.head, pb.tail)):
                out[i, j, k] = (mw @ np.array([p[0], p[1], p[2], 1.0]))[:3]
    scene.frame_set(keep)
    return out


def _view(segs: np.ndarray, axes: tuple[int, int], bounds: tuple[np.ndarray, np.ndarray], title: str) -> np.ndarray:
    import cv2

    img = np.full((PANEL, PANEL, 3), 245, np.uint8)
    lo, hi = bounds
    span = float(max(hi[axes[0]] - lo[axes[0]], hi[2] - lo[2], 1e-3)) * 1.15
    cx = (lo[axes[0]] + hi[axes[0]]) / 2

    def px(p: np.ndarray) -> tuple[int, int]:
        u = (p[axes[0]] - cx) / span * PANEL + PANEL / 2
        v = PANEL - ((p[2] - lo[2]) / span * PANEL + PANEL * 0.06)
        return int(round(u)), int(round(v))

    floor_v = px(np.array([cx, cx, lo[2]]))[1]
    cv2.line(img, (0, floor_v), (PANEL, floor_v), (170, 170, 170), 1)
    for head, tail in segs:
        cv2.line(img, px(head), px(tail), (40, 90, 200), 3, cv2.LINE_AA)
        cv2.circle(img, px(head), 3, (20, 20, 20), -1, cv2.LINE_AA)
    cv2.putText(img, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (60, 60, 60), 1, cv2.LINE_AA)
    return img


def footage_frames(video: Path, times: list[float]) -> list[np.ndarray]:
    """RGB frames of the footage nearest to each time (seconds), scaled to the panel height."""
    import av

    wanted = sorted(set(times))
    found: dict[float, np.ndarray] = {}
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        w = max(2, int(round(stream.codec_context.width * PANEL / stream.codec_context.height / 2)) * 2)
        pending = list(wanted)
        last = None
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            last = frame
            while pending and t + 1e-6 >= pending[0]:
                found[pending.pop(0)] = frame.to_ndarray(format="rgb24", width=w, height=PANEL)
            if not pending:
                break
        for t in pending:  # past the end: the last frame
            if last is not None:
                found[t] = last.to_ndarray(format="rgb24", width=w, height=PANEL)
    return [found[t] for t in times]


def render(obj, video: Path, out_png: Path, *, rows: int = 8, clip_start: float = 0.0,
           video_out: Path | None = None) -> dict:
    """Write the contact sheet (and the video when asked); return what was drawn."""
    import bpy
    import cv2

    action = obj.animation_data.action if obj.animation_data else None
    if action is None:
        raise SystemExit(f"preview: {obj.name} has no action to show")
    start, end = (int(round(v)) for v in action.frame_range)
    scene = bpy.context.scene
    fps = scene.render.fps / scene.render.fps_base
    sheet_frames = [int(round(v)) for v in np.linspace(start, end, rows)]
    all_frames = list(range(start, end + 1)) if video_out else sheet_frames
    segs = bone_segments(obj, all_frames)
    flat = segs.reshape(-1, 3)
    bounds = (flat.min(0), flat.max(0))
    by_frame = dict(zip(all_frames, segs))

    def row(f: int, img: np.ndarray) -> np.ndarray:
        front = _view(by_frame[f], (0, 2), bounds, f"front, frame {f}")
        side = _view(by_frame[f], (1, 2), bounds, "side")
        return np.concatenate([img, front[..., ::-1], side[..., ::-1]], axis=1)  # panels drawn BGR

    times = [clip_start + (f - start) / fps for f in sheet_frames]
    sheet = np.concatenate([row(f, img) for f, img in zip(sheet_frames, footage_frames(video, times))], axis=0)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), sheet[..., ::-1])
    result = {"png": str(out_png), "rows": rows, "frames": [start, end], "fps": fps, "bones": int(segs.shape[1])}
    if video_out:
        import av

        imgs = footage_frames(video, [clip_start + (f - start) / fps for f in all_frames])
        with av.open(str(video_out), "w") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            first = row(all_frames[0], imgs[0])
            stream.width, stream.height = first.shape[1] // 2 * 2, first.shape[0] // 2 * 2
            stream.pix_fmt = "yuv420p"
            for f, img in zip(all_frames, imgs):
                pic = np.ascontiguousarray(row(f, img)[: stream.height, : stream.width])
                for packet in stream.encode(av.VideoFrame.from_ndarray(pic, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        result["video"] = str(video_out)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blend", type=Path, help="a .blend to open first (the bpy-module form)")
    parser.add_argument("--armature", required=True, help="the animated armature object's name")
    parser.add_argument("--video", type=Path, required=True, help="the footage the animation came from")
    parser.add_argument("--out", type=Path, required=True, help="the contact sheet (.png)")
    parser.add_argument("--video-out", type=Path, help="also write a side-by-side video (.mp4)")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--clip-start", type=float, default=0.0, help="seconds into the footage of frame one")
    args = parser.parse_args(argv)
    import bpy

    if args.blend:
        bpy.ops.wm.open_mainfile(filepath=str(args.blend))
    obj = bpy.data.objects.get(args.armature)
    if obj is None or obj.type != "ARMATURE":
        parser.error(f"no armature object named {args.armature!r}")
    print(render(obj, args.video, args.out, rows=args.rows, clip_start=args.clip_start, video_out=args.video_out))
    return 0


if __name__ == "__main__":
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    sys.exit(main(argv))
