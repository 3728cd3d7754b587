"""Finding a clap in a video's sound track: the instant (seconds on the video's own timeline, sub-millisecond)
where a sharp broadband onset rises out of the background within a time window, for synchronising cameras
that each recorded sound (``syncMethod.clapWindow``).

How: the track's audio within the window (PyAV, mixed to mono) is high-passed (claps are broadband, hum and
most voice energy are low), the spectral flux (rise of the log spectrum, 2.5 ms hops) picks the strongest
onset, which must stand well above the background (a contrast in dB); the onset is then placed where the 1 ms
envelope first crosses a fixed fraction of its way from the background to the clap's peak (linear
interpolation between samples: the same rule on every camera, whatever its gain). Between cameras, the
envelopes around the onsets are cross-correlated: two cameras that heard the same clap agree within a
fraction of a millisecond; a disagreement means one of them picked another sound.

Reads audio only: no video decoding, no models, no bpy here. Sizes are bounded: at most ``MAX_WINDOW_S``
seconds of sound are decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The longest clap window whose sound is read (seconds): a clap window is a few seconds around one clap.
MAX_WINDOW_S = 60.0
MAX_SAMPLE_RATE = 384_000  # Hz: the highest rate audio hardware records; the window buffer is sized from it
#: The onset must rise this much (dB) above the background just before it to count as a clap.
MIN_CONTRAST_DB = 15.0
#: Quieter than this (dBFS peak of the high-passed sound) is silence: a muted or empty track.
SILENCE_DBFS = -70.0
#: Two cameras' onsets must agree (after cross-correlating their envelopes) within this (ms), else one of them
#: picked another sound than the clap.
MAX_DISAGREEMENT_MS = 4.0
HIGH_PASS_HZ = 400.0
#: Where a clap starts: the envelope has risen this fraction of the way from the background to the clap's peak.
ONSET_FRACTION = 0.1


class NoAudioClap(Exception):
    """No usable clap in this video's sound (no track, silence, no clear onset); the message says why."""


@dataclass(frozen=True)
class AudioClap:
    time_s: float  # the onset, seconds from the video stream's first frame (the landmarks' timeline)
    contrast_db: float  # how far the clap rises above the background just before it
    peak_dbfs: float  # the clap's loudness (high-passed)
    rate: int  # samples per second of the track
    envelope: np.ndarray  # the 1 ms envelope around the onset (for the cross-check between cameras)
    envelope_t0: float  # time of envelope[0] (s, same timeline)


def read_audio(path: str | Path, start: float, end: float) -> tuple[np.ndarray, int, float]:
    """Mono samples (float64, full scale 1) of ``path``'s first audio track between ``start`` and ``end``
    (seconds on the video's timeline), the sample rate and the time of the first sample returned. Raises
    NoAudioClap when the file has no audio track or none in that span."""
    import av

    path = Path(path)
    if end - start > MAX_WINDOW_S:
        raise NoAudioClap(f"the clap window is longer than {MAX_WINDOW_S:g} s")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise NoAudioClap(f"{path.name} has no audio track")
            stream = container.streams.audio[0]
            video = container.streams.video[0] if container.streams.video else None
            zero = float(video.start_time * video.time_base) if video is not None and video.start_time is not None \
                else 0.0
            rate = int(stream.rate or stream.codec_context.sample_rate or 0)
            if not 0 < rate <= MAX_SAMPLE_RATE:
                raise NoAudioClap(f"{path.name}'s audio track has no usable sample rate ({rate} Hz; at most "
                                  f"{MAX_SAMPLE_RATE} Hz is read)")
            if start > 2.0:
                container.seek(int((start - 1.0 + zero) / stream.time_base), stream=stream, backward=True)
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
            n = int(round((end - start) * rate)) + 1
            out = np.zeros(n)
            have = np.zeros(n, bool)
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base) - zero
                if t > end:
                    break
                for mono in resampler.resample(frame):
                    x = mono.to_ndarray().reshape(-1).astype(np.float64)
                    i0 = int(round((t - start) * rate))
                    a, b = max(0, i0), min(n, i0 + len(x))
                    if b > a:
                        out[a:b] = x[a - i0:b - i0]
                        have[a:b] = True
    except NoAudioClap:
        raise
    except Exception as exc:  # av errors, OSError
        raise NoAudioClap(f"the audio of {path.name} cannot be read ({type(exc).__name__})") from exc
    if have.sum() < 0.5 * n:
        raise NoAudioClap(f"{path.name}'s audio does not cover the clap window")
    return out, rate, start


def find_clap(path: str | Path, window: tuple[float, float]) -> AudioClap:
    """The clap in ``path``'s sound within ``window`` (seconds on the video's timeline)."""
    from scipy import signal

    start, end = float(window[0]), float(window[1])
    pad = 0.35  # background before the first possible onset
    x, rate, t0 = read_audio(path, max(0.0, start - pad), end + 0.05)
    name = Path(path).name
    hp = signal.sosfiltfilt(signal.butter(4, HIGH_PASS_HZ, "highpass", fs=rate, output="sos"), x)
    peak_dbfs = 20 * np.log10(np.max(np.abs(hp)) + 1e-12)
    if peak_dbfs < SILENCE_DBFS:
        raise NoAudioClap(f"{name}'s audio is silent in the clap window")
    # spectral flux: the rise of the log magnitude spectrum, 2.5 ms hops, 10 ms frames
    hop = max(1, rate // 400)
    nfft = 1 << int(np.ceil(np.log2(rate / 100)))
    frames = np.lib.stride_tricks.sliding_window_view(np.r_[np.zeros(nfft), hp], nfft)[::hop]
    mag = np.abs(np.fft.rfft(frames * np.hanning(nfft), axis=1))
    logm = np.log1p(mag / (np.median(mag) + 1e-12))
    flux = np.r_[0.0, np.maximum(np.diff(logm, axis=0), 0).sum(1)]
    ftimes = t0 + (np.arange(len(flux)) * hop) / rate  # frame k covers samples up to k*hop: its end
    inside = np.nonzero((ftimes >= start) & (ftimes <= end + 0.02))[0]
    if not len(inside):
        raise NoAudioClap(f"{name}'s audio does not cover the clap window")
    k = int(inside[np.argmax(flux[inside])])
    # the 1 ms envelope, zero-phase (a centred moving RMS)
    w = max(1, rate // 1000)
    env = np.sqrt(np.convolve(hp * hp, np.ones(w) / w, mode="same"))
    # the clap: the loudest envelope within 60 ms of the strongest onset; its start: the first sample there
    # that rises ONSET_FRACTION of the way from the background (the 300 ms before) to that peak
    centre = int(round((ftimes[k] - t0) * rate))
    reach = int(0.06 * rate)
    lo, hi = max(1, centre - reach), min(len(env), centre + reach)
    p = lo + int(np.argmax(env[lo:hi]))
    before = env[max(0, lo - int(0.3 * rate)):lo]
    background = float(np.median(before)) if len(before) else 0.0
    top = float(env[p])
    contrast = 20 * np.log10((top + 1e-12) / (background + 1e-12))
    if contrast < MIN_CONTRAST_DB:
        raise NoAudioClap(f"no clear clap in {name}'s audio between {start:g} and {end:g} s (the loudest onset rises "
                          f"{contrast:.0f} dB above the background; a clap needs {MIN_CONTRAST_DB:g})")
    level = background + ONSET_FRACTION * (top - background)
    i = lo + int(np.argmax(env[lo:p + 1] >= level))
    # env[i - 1] < level <= env[i]: the crossing between the two samples
    a, b = env[i - 1], env[i]
    frac = (level - a) / (b - a) if b > a else 0.0
    onset = t0 + (i - 1 + frac) / rate
    if not start - 0.02 <= onset <= end:
        raise NoAudioClap(f"no clear clap in {name}'s audio between {start:g} and {end:g} s")
    e0 = max(0, i - int(0.02 * rate))
    seg = env[e0:min(len(env), i + int(0.08 * rate))]
    return AudioClap(onset, round(float(contrast), 1), round(float(peak_dbfs), 1), rate, seg, t0 + e0 / rate)


def disagreement_ms(a: AudioClap, b: AudioClap, search_ms: float = 20.0) -> float:
    """How far (ms) ``b``'s onset is from where cross-correlating its envelope with ``a``'s puts it: about 0
    when both cameras heard the same sound and the onsets were placed alike."""
    if a.rate != b.rate:
        from scipy import signal

        env_b = signal.resample_poly(b.envelope, a.rate, b.rate)
    else:
        env_b = b.envelope
    ea = a.envelope / (np.linalg.norm(a.envelope) + 1e-12)
    eb = env_b / (np.linalg.norm(env_b) + 1e-12)
    # place both on a's sample grid with their onsets aligned; then find the lag of best correlation
    oa = int(round((a.time_s - a.envelope_t0) * a.rate))
    ob = int(round((b.time_s - b.envelope_t0) * a.rate))
    m = int(search_ms * a.rate / 1000)
    best, best_c = 0, -np.inf
    for lag in range(-m, m + 1):
        ia, ib = max(0, oa - ob + lag), max(0, ob - oa - lag)
        n = min(len(ea) - ia, len(eb) - ib)
        if n < a.rate // 100:
            continue
        c = float(np.dot(ea[ia:ia + n], eb[ib:ib + n]))
        if c > best_c:
            best, best_c = lag, c
    return 1000.0 * best / a.rate
