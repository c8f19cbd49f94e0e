"""ASR skill over real speech: every accepted format, both engines, the error cases."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from core.ports import SkillContext
from core.settings import Settings
from infra.local.filesystem_blob_store import FilesystemBlobStore
from skills.asr.skill import run
from skills.asr.wer import wer
from skills.audio import AudioDecodeError, NoSpeechError
from tests.integration.voice_fixtures import FORMATS, SENTENCES, WER_THRESHOLD, clip, silence


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> SkillContext:
    data = tmp_path_factory.mktemp("asr")
    settings = Settings(data_dir=data, asr_model="tiny.en", log_stdout=False, warmup=False)
    return SkillContext(blobs=FilesystemBlobStore(root=Path(data) / "blobs"), settings=settings)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_transcribed(ctx: SkillContext, fmt: str) -> None:
    data = clip(0, fmt)
    result = run({"tenant_id": "acme", "audio_b64": base64.b64encode(data).decode()}, ctx)
    assert wer(SENTENCES[0], result["text"]) <= WER_THRESHOLD, result["text"]
    assert result["engine"] == "faster-whisper" and result["model"] == "tiny.en"
    assert result["language"] == "en"
    # the half-second pads are trimmed by the VAD
    assert 0 < result["speech_s"] < result["duration_s"]
    assert set(result["timings"]) >= {"decode_ms", "vad_ms", "recognize_ms"}


def test_audio_from_the_tenants_blob_store(ctx: SkillContext) -> None:
    ctx.blobs.put(tenant_id="acme", key="audio/in/x.webm", data=clip(1, "webm"))
    result = run({"tenant_id": "acme", "audio_key": "audio/in/x.webm"}, ctx)
    assert wer(SENTENCES[1], result["text"]) <= WER_THRESHOLD, result["text"]


def test_both_engines_give_the_same_transcript(ctx: SkillContext) -> None:
    data = base64.b64encode(clip(2, "ogg")).decode()
    fast = run({"tenant_id": "acme", "audio_b64": data, "engine": "faster-whisper"}, ctx)
    slow = run({"tenant_id": "acme", "audio_b64": data, "engine": "openai-whisper"}, ctx)
    assert slow["engine"] == "openai-whisper"
    assert wer(fast["text"], slow["text"]) == 0.0, (fast["text"], slow["text"])
    assert wer(SENTENCES[2], slow["text"]) <= WER_THRESHOLD
    # the converted checkpoint is cached under the data dir
    assert (ctx.settings.resolved_data_dir / "models" / "asr" / "openai-tiny.en.pt").exists()


def test_undecodable_audio_is_a_clear_error(ctx: SkillContext) -> None:
    garbage = base64.b64encode(b"this is not audio at all" * 50).decode()
    result = run({"tenant_id": "acme", "audio_b64": garbage}, ctx)
    assert result["fault"]["status"] == 422
    assert result["fault"]["code"] == AudioDecodeError.code
    assert "could not decode audio" in result["fault"]["message"]


def test_silence_is_no_speech(ctx: SkillContext) -> None:
    quiet = base64.b64encode(silence("flac")).decode()
    result = run({"tenant_id": "acme", "audio_b64": quiet}, ctx)
    assert result["fault"] == {
        "status": 422,
        "code": NoSpeechError.code,
        "message": "no speech detected",
    }
