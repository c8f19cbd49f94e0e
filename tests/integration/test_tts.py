"""TTS skill: piper speech in wav, ogg/opus and mp3, stored or inline, per-tenant voice."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from core.ports import SkillContext
from core.settings import Settings
from infra.local.filesystem_blob_store import FilesystemBlobStore
from skills.asr.skill import transcribe
from skills.asr.wer import wer
from skills.audio import probe
from skills.tts.skill import run

TEXT = "Your order will arrive on Thursday."


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> SkillContext:
    data = tmp_path_factory.mktemp("tts")
    settings = Settings(data_dir=data, asr_model="tiny.en", log_stdout=False, warmup=False)
    return SkillContext(blobs=FilesystemBlobStore(root=Path(data) / "blobs"), settings=settings)


@pytest.mark.parametrize(
    ("fmt", "codec", "rate"),
    [("wav", "pcm_s16le", 22050), ("ogg", "opus", 48000), ("mp3", "mp3float", 22050)],
)
def test_speech_is_stored_in_the_blob_store(
    ctx: SkillContext, fmt: str, codec: str, rate: int
) -> None:
    result = run(
        {"tenant_id": "acme", "text": TEXT, "format": fmt, "out_key": f"audio/out/t.{fmt}"}, ctx
    )
    assert result["key"] == f"audio/out/t.{fmt}" and "audio_b64" not in result
    assert result["format"] == fmt and result["sample_rate"] == rate
    data = ctx.blobs.get(tenant_id="acme", key=f"audio/out/t.{fmt}")
    info = probe(data)
    assert info.codec == codec and info.sample_rate == rate
    assert abs(info.duration_s - result["duration_s"]) < 0.15
    assert ctx.blobs.find(tenant_id="other", key=f"audio/out/t.{fmt}") is None


def test_inline_audio_is_intelligible(ctx: SkillContext) -> None:
    result = run({"tenant_id": "acme", "text": TEXT, "format": "ogg"}, ctx)
    data = base64.b64decode(result["audio_b64"])
    assert "key" not in result
    heard = transcribe(data, ctx=ctx)
    assert wer(TEXT, heard["text"]) <= 0.15, heard["text"]


def test_unknown_voice_falls_back_with_a_warning(
    ctx: SkillContext, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="skills.tts.skill"):
        result = run({"tenant_id": "acme", "text": "Hello.", "format": "wav", "voice": "nope"}, ctx)
    assert result["duration_s"] > 0.2
    assert any("unknown tts voice" in r.getMessage() for r in caplog.records)
