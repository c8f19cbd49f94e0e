"""Speech made for the voice tests: sentences synthesized once with the TTS skill (piper) and
encoded with PyAV to every format the API accepts. Cached per test session. Piper's noise is
switched off so every run hears exactly the same audio (tiny.en results do not vary by run)."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from skills.audio import encode
from skills.tts.skill import synthesize

SENTENCES = (
    "Can I get a refund for this order, please?",
    "What are your opening hours on Saturday?",
    "My package arrived damaged and I need a replacement.",
)
FORMATS = ("wav", "mp3", "ogg", "webm", "m4a", "flac")
WER_THRESHOLD = 0.15


@cache
def speech(index: int) -> tuple[np.ndarray, int]:
    """Mono float32 samples of `SENTENCES[index]`, with half a second of silence either side."""
    samples, rate = synthesize(SENTENCES[index], noise_scale=0.0, noise_w_scale=0.0)
    pad = np.zeros(rate // 2, dtype=np.float32)
    return np.concatenate([pad, samples, pad]), rate


@cache
def clip(index: int, fmt: str) -> bytes:
    samples, rate = speech(index)
    return encode(samples, sample_rate=rate, fmt=fmt)


@cache
def silence(fmt: str = "wav", seconds: float = 2.0) -> bytes:
    rate = 16000
    rng = np.random.default_rng(0)
    quiet = (rng.standard_normal(int(rate * seconds)) * 1e-4).astype(np.float32)
    return encode(quiet, sample_rate=rate, fmt=fmt)


@cache
def long_clip(seconds: float, fmt: str = "ogg") -> bytes:
    """Speech repeated to at least `seconds` (for the duration limit)."""
    samples, rate = speech(0)
    repeats = int(seconds * rate / len(samples)) + 1
    return encode(np.tile(samples, repeats), sample_rate=rate, fmt=fmt)


def _tone_mp3(seconds: float, bit_rate: int, rate: int = 16000) -> bytes:
    """A bare mp3 frame stream (no ID3 tag, no Xing header) of a quiet tone."""
    import io

    import av

    buffer = io.BytesIO()
    options = {"write_xing": "0", "id3v2_version": "0"}
    with av.open(buffer, mode="w", format="mp3", options=options) as container:
        stream: Any = container.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        stream.bit_rate = bit_rate
        t = np.arange(int(seconds * rate)) / rate
        pcm = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32).reshape(1, -1)
        fmt = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate)
        for start in range(0, pcm.shape[1], 16384):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start : start + 16384]), format="flt", layout="mono"
            )
            frame.sample_rate = rate
            for out in resampler.resample(frame):
                for packet in stream.encode(out):
                    container.mux(packet)
        for out in resampler.resample(None):
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


@cache
def lying_mp3() -> bytes:
    """6 s at 64 kbps followed by 600 s at 8 kbps in one frame stream: a container estimate from
    the first frames says about 81 s; decoding finds 606 s."""
    return _tone_mp3(6, 64000) + _tone_mp3(600, 8000)
