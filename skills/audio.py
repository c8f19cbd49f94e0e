"""Shared audio helpers for the speech skills: probe, decode and encode with PyAV.

Every common format is accepted (wav, mp3, ogg/opus, webm/opus, m4a/aac, flac). Decoding always
yields 16 kHz mono float32 samples (what Whisper wants); encoding turns float32 samples into any
of those formats, resampling first where the codec needs it (opus only runs at 48 kHz).

Errors are domain errors with their status and code: `AudioDecodeError` (422, "could not decode
audio"), `NoSpeechError` (422, "no speech detected") and `AudioTooLong` (413, counted while
decoding). The speech skills report them to their callers as a `Fault` in the result.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from core.errors import PayloadTooLarge, Unprocessable

log = logging.getLogger(__name__)

ASR_SAMPLE_RATE = 16000

AudioFormat = Literal["wav", "mp3", "ogg", "webm", "m4a", "flac"]

# content type (without parameters) -> the file extension used for the stored blob
CONTENT_TYPES: dict[str, str] = {
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "m4a",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
}

MEDIA_TYPES: dict[str, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "m4a": "audio/mp4",
    "flac": "audio/flac",
}

# our format name -> (PyAV container format, codec, sample rate or None to keep the input's)
_ENCODERS: dict[str, tuple[str, str, int | None]] = {
    "wav": ("wav", "pcm_s16le", None),
    "mp3": ("mp3", "libmp3lame", None),
    "ogg": ("ogg", "libopus", 48000),
    "webm": ("webm", "libopus", 48000),
    "m4a": ("ipod", "aac", None),
    "flac": ("flac", "flac", None),
}

# PyAV container format names (comma lists) -> our extension, for sniffing untyped uploads
_SNIFF: tuple[tuple[str, str], ...] = (
    ("wav", "wav"),
    ("mp3", "mp3"),
    ("ogg", "ogg"),
    ("matroska", "webm"),
    ("webm", "webm"),
    ("mp4", "m4a"),
    ("m4a", "m4a"),
    ("flac", "flac"),
    ("aac", "m4a"),
)


class AudioDecodeError(Unprocessable):
    """The bytes are not audio we can decode."""

    code = "undecodable_audio"

    def __init__(self, message: str = "could not decode audio") -> None:
        super().__init__(message)


class NoSpeechError(Unprocessable):
    """The audio decodes but holds no speech."""

    code = "no_speech"

    def __init__(self, message: str = "no speech detected") -> None:
        super().__init__(message)


class AudioTooLong(PayloadTooLarge):
    """The decoded audio runs past the limit (counted while decoding, never trusted from a
    container's header)."""

    code = "audio_too_long"

    def __init__(self, max_seconds: float) -> None:
        super().__init__(f"audio is longer than the limit of {max_seconds:g} s (max_audio_seconds)")
        self.max_seconds = max_seconds


@dataclass(frozen=True)
class AudioInfo:
    """What a probe learns without keeping the samples."""

    duration_s: float
    format: str  # our extension guess: wav, mp3, ogg, webm, m4a, flac (or PyAV's own name)
    codec: str
    sample_rate: int
    channels: int


def media_type_to_ext(content_type: str) -> str | None:
    """`audio/ogg; codecs=opus` -> `ogg`; None when we do not accept that type."""
    return CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def _open(data: bytes) -> Any:
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except Exception as exc:  # PyAV raises many error types for garbage input
        raise AudioDecodeError() from exc


def _sniff(format_name: str) -> str:
    names = format_name.split(",")
    for key, ext in _SNIFF:
        if key in names:
            return ext
    return names[0]


def probe(data: bytes, *, max_seconds: float | None = None) -> AudioInfo:
    """Duration and codec of `data`; `AudioDecodeError` when it is not decodable audio.

    The duration is what decoding finds, never the container's claim (a file can declare a
    short length and hold ten minutes): every frame is decoded and counted, stopping as soon as
    the count passes `max_seconds` (then the duration returned is just past the limit).
    """
    if not data:
        raise AudioDecodeError("could not decode audio: empty body")
    container = _open(data)
    try:
        if not container.streams.audio:
            raise AudioDecodeError("could not decode audio: no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        channels = int(stream.codec_context.channels or 0)
        codec = str(stream.codec_context.name)
        fmt = _sniff(str(container.format.name))
        decoded = 0.0
        try:
            for frame in container.decode(stream):
                decoded += frame.samples / float(frame.sample_rate or rate or 1)
                if max_seconds is not None and decoded > max_seconds:
                    break
        except Exception as exc:
            if decoded <= 0:
                raise AudioDecodeError() from exc
            log.warning("audio stream ended with a decode error after %.1f s", decoded)
        if decoded <= 0:
            raise AudioDecodeError("could not decode audio: no audio frames")
        return AudioInfo(
            duration_s=round(decoded, 3),
            format=fmt,
            codec=codec,
            sample_rate=rate,
            channels=channels,
        )
    finally:
        container.close()


def decode(
    data: bytes, *, sample_rate: int = ASR_SAMPLE_RATE, max_seconds: float | None = None
) -> np.ndarray:
    """Decode any supported format to mono float32 samples at `sample_rate`; `AudioTooLong` as
    soon as the decoded audio passes `max_seconds` (decoding stops there)."""
    import av

    if not data:
        raise AudioDecodeError("could not decode audio: empty body")
    limit = None if max_seconds is None else int(max_seconds * sample_rate)
    container = _open(data)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        if not container.streams.audio:
            raise AudioDecodeError("could not decode audio: no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if limit is not None and total > limit:
                    raise AudioTooLong(float(max_seconds or 0))
            for out in resampler.resample(None):  # flush
                chunks.append(out.to_ndarray().reshape(-1))
        except (AudioDecodeError, AudioTooLong):
            raise
        except Exception as exc:
            if not chunks:
                raise AudioDecodeError() from exc
            log.warning("audio stream ended with a decode error; keeping %d chunks", len(chunks))
    finally:
        container.close()
    if not chunks:
        raise AudioDecodeError("could not decode audio: no audio frames")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if limit is not None and len(samples) > limit:
        raise AudioTooLong(float(max_seconds or 0))
    return samples


def encode(samples: np.ndarray, *, sample_rate: int, fmt: str) -> bytes:
    """Encode mono float32 samples in [-1, 1] as `fmt` (wav, mp3, ogg, webm, m4a, flac)."""
    import av

    if fmt not in _ENCODERS:
        raise ValueError(f"unsupported audio format {fmt!r}")
    container_format, codec_name, rate = _ENCODERS[fmt]
    out_rate = rate or sample_rate
    pcm = np.clip(np.asarray(samples, dtype=np.float32).reshape(1, -1), -1.0, 1.0)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream: Any = container.add_stream(codec_name, rate=out_rate)
        stream.layout = "mono"
        if codec_name in {"libmp3lame", "aac"}:
            stream.bit_rate = 64000
        elif codec_name == "libopus":
            stream.bit_rate = 32000
        codec_formats = stream.codec_context.codec.audio_formats or ()
        target_format = codec_formats[0].name if codec_formats else "s16"
        resampler = av.AudioResampler(format=target_format, layout="mono", rate=out_rate)
        step = 1 << 14
        for start in range(0, pcm.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start : start + step]), format="flt", layout="mono"
            )
            frame.sample_rate = sample_rate
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    container.mux(packet)
        for resampled in resampler.resample(None):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def native_rate(data: bytes) -> int:
    """The sample rate the audio's first stream declares (ASR's rate when it declares none)."""
    container = _open(data)
    try:
        if not container.streams.audio:
            raise AudioDecodeError("could not decode audio: no audio stream")
        stream = container.streams.audio[0]
        return int(stream.codec_context.sample_rate or stream.rate or ASR_SAMPLE_RATE)
    finally:
        container.close()


def transcode(data: bytes, *, fmt: str, sample_rate: int | None = None) -> bytes:
    """Re-encode any supported audio as `fmt` (keeps the input rate unless told otherwise)."""
    rate = sample_rate or native_rate(data)
    return encode(decode(data, sample_rate=rate), sample_rate=rate, fmt=fmt)
