"""Test footage with sound for the audio clap: a real pose2sim view whose first frames are cut off (as if that
camera started later), re-encoded (H.264) with an AAC sound track holding a recorded hand clap at a known
instant on the clip's own timeline, over a faint background hiss. The cameras' offsets are then known by
construction: cutting N frames off a view makes its offset -N."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 44100
#: The clap clips of the pose2sim demo: (view, frames cut off its start, where its clap sits off the frame grid
#: (s), clap gain (dB)). Cutting N frames makes a view's offset -N; the sound's sub-frame shift adds to it.
CLAP_AT = 0.8  # s into the first view
CLAP_CLIPS = ((0, 0, 0.0, 0.0), (1, 7, 0.004, -9.0), (2, 3, -0.005, -4.0), (3, 12, 0.0, -12.0))


def _clap_samples(wav: Path) -> np.ndarray:
    import av

    with av.open(str(wav)) as c:
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=RATE)
        parts = [m.to_ndarray().reshape(-1) for f in c.decode(audio=0) for m in resampler.resample(f)]
    return np.concatenate(parts).astype(np.float64)


def make_clip(video: Path, out: Path, drop_frames: int, clap_wav: Path | None, clap_time_s: float | None,
              gain_db: float = 0.0, seed: int = 0, hiss_dbfs: float = -55.0, max_side: int | None = None) -> Path:
    """``video`` without its first ``drop_frames`` frames, with a sound track (AAC, 44.1 kHz, mono) holding the
    clap at ``clap_time_s`` seconds of the new clip (no clap when None; no sound track when ``clap_wav`` is None)."""
    import av

    with av.open(str(video)) as src:
        vs = src.streams.video[0]
        fps = vs.average_rate
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(vs)][drop_frames:]
    h, w = frames[0].shape[:2]
    if max_side and max(w, h) > max_side:
        s = max_side / max(w, h)
        w, h = round(w * s / 2) * 2, round(h * s / 2) * 2
    with av.open(str(out), "w") as dst:
        v = dst.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"preset": "ultrafast", "crf": "16"}
        a = None
        if clap_wav is not None:
            a = dst.add_stream("aac", rate=RATE)
            a.layout = "mono"
        for img in frames:
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if (frame.width, frame.height) != (w, h):
                frame = frame.reformat(width=w, height=h)
            for p in v.encode(frame):
                dst.mux(p)
        for p in v.encode():
            dst.mux(p)
        if a is not None:
            n = int(round(len(frames) / float(fps) * RATE))
            rng = np.random.default_rng(seed)
            sound = rng.normal(0.0, 10 ** (hiss_dbfs / 20), n)
            if clap_time_s is not None:
                clap = _clap_samples(clap_wav) * 10 ** (gain_db / 20)  # type: ignore[arg-type]
                i = int(round(clap_time_s * RATE))
                m = min(len(clap), n - i)
                sound[i:i + m] += clap[:m]
            sound = np.clip(sound, -1, 1).astype(np.float32)
            for k in range(0, n, 1024):
                chunk = sound[k:k + 1024][None, :]
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
                af.sample_rate = RATE
                af.pts = k
                for p in a.encode(af):
                    dst.mux(p)
            for p in a.encode():
                dst.mux(p)
    return out
