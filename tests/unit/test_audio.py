"""Audio helpers and WER in memory: encode/decode round trips of every format, sniffing, errors."""

from __future__ import annotations

import numpy as np
import pytest

from skills.asr.wer import normalize, wer
from skills.audio import AudioDecodeError, decode, encode, media_type_to_ext, probe

RATE = 22050


def _tone(seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "webm", "m4a", "flac"])
def test_round_trip_keeps_length_and_format(fmt: str) -> None:
    data = encode(_tone(), sample_rate=RATE, fmt=fmt)
    info = probe(data)
    assert info.format == fmt
    assert abs(info.duration_s - 1.5) < 0.1
    samples = decode(data)
    assert samples.dtype == np.float32
    assert abs(len(samples) / 16000 - 1.5) < 0.1
    assert 0.1 < float(np.abs(samples).max()) < 0.5


@pytest.mark.parametrize("data", [b"", b"RIFF....WAVEfmt " + b"\x00" * 40, b"not audio" * 100])
def test_garbage_is_undecodable(data: bytes) -> None:
    with pytest.raises(AudioDecodeError, match="could not decode audio"):
        probe(data)
    with pytest.raises(AudioDecodeError):
        decode(data)


def test_content_types() -> None:
    assert media_type_to_ext("audio/ogg; codecs=opus") == "ogg"
    assert media_type_to_ext("Audio/WebM") == "webm"
    assert media_type_to_ext("audio/x-m4a") == "m4a"
    assert media_type_to_ext("text/plain") is None
    assert media_type_to_ext("image/png") is None


def test_wer() -> None:
    assert normalize("Hello, World! It's 9am.") == ["hello", "world", "it's", "9am"]
    assert wer("the cat sat", "the cat sat") == 0.0
    assert wer("the cat sat", "The cat, sat.") == 0.0
    assert wer("the cat sat on the mat", "the cat sat on mat") == pytest.approx(1 / 6)
    assert wer("a b", "a x b y") == pytest.approx(1.0)
    assert wer("", "") == 0.0
