"""Speech made for the voice tests: sentences synthesized once with the TTS skill (piper) and
encoded with PyAV to every format the API accepts. Cached per test session. Piper's noise is
switched off so every run hears exactly the same audio (tiny.en results do not vary by run)."""

from __future__ import annotations

from functools import cache

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
