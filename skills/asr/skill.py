"""The ASR skill: speech (any common audio format) to text.

`run(event, ctx)` takes `{"tenant_id", "audio_key"}` (a blob in the tenant's BlobStore) or
`{"tenant_id", "audio_b64"}`, plus optional `language`, `beam_size`, `engine`, `model` overrides,
and returns `{"text", "language", "duration_s", "speech_s", "engine", "model", "timings"}`.

Steps: decode with PyAV to 16 kHz mono float32, trim silence with the silero VAD bundled with
faster-whisper, recognise with the engine chosen by settings (`asr_engine`, `asr_model`).
Undecodable audio raises `AudioDecodeError`, audio without speech `NoSpeechError` (both 422).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.ports import SkillContext
from skills.audio import ASR_SAMPLE_RATE, AudioDecodeError, NoSpeechError, decode

DEFAULT_BEAM_SIZE = 5
_GAP = np.zeros(int(0.1 * ASR_SAMPLE_RATE), dtype=np.float32)  # between kept speech spans


def trim_silence(samples: np.ndarray) -> np.ndarray:
    """Keep only the speech spans (silero VAD), joined by 0.1 s gaps; empty when no speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(
        samples, VadOptions(min_silence_duration_ms=500, speech_pad_ms=200)
    )
    if not spans:
        return np.zeros(0, dtype=np.float32)
    pieces: list[np.ndarray] = []
    for span in spans:
        if pieces:
            pieces.append(_GAP)
        pieces.append(samples[int(span["start"]) : int(span["end"])])
    return np.concatenate(pieces).astype(np.float32, copy=False)


def load_audio(event: Mapping[str, Any], ctx: SkillContext) -> bytes:
    tenant_id = str(event["tenant_id"])
    if event.get("audio_key"):
        return ctx.blobs.get(tenant_id=tenant_id, key=str(event["audio_key"]))
    if event.get("audio_b64"):
        try:
            return base64.b64decode(str(event["audio_b64"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AudioDecodeError("could not decode audio: audio_b64 is not base64") from exc
    raise ValueError("asr event needs audio_key or audio_b64")


def transcribe(
    data: bytes,
    *,
    ctx: SkillContext,
    engine: str | None = None,
    model: str | None = None,
    language: str | None = None,
    beam_size: int = DEFAULT_BEAM_SIZE,
) -> dict[str, Any]:
    """Recognise speech in `data` (audio bytes); see the module docstring for the result."""
    from skills.asr.engines import get_engine
    from skills.asr.models import asr_cache_dir

    settings = ctx.settings
    engine_name = engine or settings.asr_engine
    model_name = model or settings.asr_model
    timings: dict[str, float] = {}

    started = time.perf_counter()
    samples = decode(data)
    timings["decode_ms"] = (time.perf_counter() - started) * 1000
    duration_s = len(samples) / ASR_SAMPLE_RATE

    started = time.perf_counter()
    speech = trim_silence(samples)
    timings["vad_ms"] = (time.perf_counter() - started) * 1000
    speech_s = len(speech) / ASR_SAMPLE_RATE
    if speech_s < 0.1:
        raise NoSpeechError()

    started = time.perf_counter()
    asr = get_engine(engine_name, model_name, cache_dir=asr_cache_dir(settings.resolved_data_dir))
    timings["load_ms"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    result = asr.transcribe(speech, language=language, beam_size=beam_size)
    timings["recognize_ms"] = (time.perf_counter() - started) * 1000
    if not result.text:
        raise NoSpeechError()
    return {
        "text": result.text,
        "language": result.language,
        "duration_s": round(duration_s, 3),
        "speech_s": round(speech_s, 3),
        "engine": engine_name,
        "model": model_name,
        "timings": {name: round(value, 1) for name, value in timings.items()},
    }


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """The skill entry point (the local invoker and the Lambda handler both call this)."""
    return transcribe(
        load_audio(event, ctx),
        ctx=ctx,
        engine=event.get("engine"),
        model=event.get("model"),
        language=event.get("language"),
        beam_size=int(event.get("beam_size") or DEFAULT_BEAM_SIZE),
    )
