"""The ASR skill: speech (any common audio format) to text.

`run(event, ctx)` takes (contracts in `core.skill_contracts`):

- `TranscribeEvent` `{"tenant_id", "audio_key" | "audio_b64"}` plus optional `language`,
  `beam_size`, `engine`, `model`, `max_seconds` → `TranscribeResult` `{"text", "language",
  "duration_s", "speech_s", "engine", "model", "timings"}`;
- `ProbeEvent` `{"op": "probe", "tenant_id", "audio_key", "content_type", "sniff", "max_seconds"}`
  → `ProbeResult` `{"ext", "duration_s"}`: the check of an upload before a voice job is made of
  it (the API itself never opens audio).

The customer's faults (not audio, an unsupported type, too long, no speech) come back as the
result's `fault` (status, code, message), not as an exception.

Steps: decode with PyAV to 16 kHz mono float32, trim silence with the silero VAD bundled with
faster-whisper, recognise with the engine chosen by settings (`asr_engine`, `asr_model`).
Decoding stops at `max_seconds` (`AudioTooLong`, 413): a header claiming a short length cannot
smuggle ten minutes past the limit.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.errors import BadRequest, LambdeskError, UnsupportedMediaType
from core.ports import SkillContext
from core.skill_contracts import ProbeEvent, TranscribeEvent, asr_events, parse_event
from skills.audio import (
    ASR_SAMPLE_RATE,
    AudioDecodeError,
    AudioTooLong,
    NoSpeechError,
    decode,
    media_type_to_ext,
    probe,
)

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


def load_audio(request: TranscribeEvent, ctx: SkillContext) -> bytes:
    if request.audio_key:
        return ctx.blobs.get(tenant_id=request.tenant_id, key=request.audio_key)
    if request.audio_b64:
        try:
            return base64.b64decode(request.audio_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AudioDecodeError("could not decode audio: audio_b64 is not base64") from exc
    raise BadRequest("asr: the event needs audio_key or audio_b64")


def transcribe(
    data: bytes,
    *,
    ctx: SkillContext,
    engine: str | None = None,
    model: str | None = None,
    language: str | None = None,
    beam_size: int = DEFAULT_BEAM_SIZE,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Recognise speech in `data` (audio bytes); see the module docstring for the result."""
    from skills.asr.engines import get_engine
    from skills.asr.models import asr_cache_dir

    settings = ctx.settings
    engine_name = engine or settings.asr_engine
    model_name = model or settings.asr_model
    timings: dict[str, float] = {}

    started = time.perf_counter()
    samples = decode(data, max_seconds=max_seconds)
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


ACCEPTED_FORMATS = frozenset({"wav", "mp3", "ogg", "webm", "m4a", "flac"})


def _fault(exc: LambdeskError) -> dict[str, Any]:
    return {"fault": {"status": exc.status, "code": exc.code, "message": exc.message}}


def probe_upload(request: ProbeEvent, ctx: SkillContext) -> dict[str, Any]:
    """The format and decoded duration of an upload, or the fault that refuses it."""
    ext = media_type_to_ext(request.content_type)
    if ext is None and not request.sniff:
        return _fault(
            UnsupportedMediaType(
                f"unsupported audio type {request.content_type or '(none)'!r}; send wav, mp3, "
                "ogg/opus, webm/opus, m4a/aac or flac",
                code="unsupported_audio_type",
            )
        )
    data = ctx.blobs.get(tenant_id=request.tenant_id, key=request.audio_key)
    try:
        info = probe(data, max_seconds=request.max_seconds)
    except AudioDecodeError as exc:
        return _fault(exc)
    if ext is None:
        if info.format not in ACCEPTED_FORMATS:
            return _fault(
                UnsupportedMediaType(
                    f"unsupported audio format {info.format!r}", code="unsupported_audio_type"
                )
            )
        ext = info.format
    if info.duration_s > request.max_seconds:
        return _fault(AudioTooLong(request.max_seconds))
    return {"ext": ext, "duration_s": info.duration_s}


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """The skill entry point (the local invoker and the Lambda handler both call this)."""
    request = parse_event("asr", asr_events(), event)
    if isinstance(request, ProbeEvent):
        return probe_upload(request, ctx)
    try:
        return transcribe(
            load_audio(request, ctx),
            ctx=ctx,
            engine=request.engine,
            model=request.model,
            language=request.language,
            beam_size=request.beam_size,
            max_seconds=request.max_seconds,
        )
    except (AudioDecodeError, NoSpeechError, AudioTooLong) as exc:
        return _fault(exc)
