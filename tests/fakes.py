"""Fast stand-ins for the model-backed skills, registered in the in-process invoker's registry.

`fake_intent` classifies by keywords; `fake_retrieval` really reads the tenant's stored knowledge
documents (the records `knowledge.documents` writes) and scores them by word overlap, so
documents uploaded through the API are searchable without loading a model. `fake_asr` and
`fake_tts` stand in for speech: the first recognises a stored upload as audio by its leading
bytes (and refuses anything else as the real probe does), the second stores a short WAV.
"""

from __future__ import annotations

import io
import re
import time
import wave
from collections.abc import Callable
from typing import Any

from core.ports import SkillContext

SkillFn = Callable[[dict[str, Any], SkillContext], dict[str, Any]]

# keyword -> intent name (the order is the ranking for ties)
INTENT_KEYWORDS: dict[str, str] = {
    "refund": "refund_policy",
    "hours": "opening_hours",
    "open": "opening_hours",
    "card": "card_arrival",
    "password": "reset_password",
}
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 3}


def fake_intent(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """A confident intent when a keyword matches, else no intent (out of scope)."""
    words = set(_WORD.findall(str(event["text"]).lower()))
    matched = [intent for keyword, intent in INTENT_KEYWORDS.items() if keyword in words]
    ranking = [{"intent": name, "confidence": 0.9} for name in dict.fromkeys(matched)]
    ranking += [
        {"intent": name, "confidence": 0.05}
        for name in dict.fromkeys(INTENT_KEYWORDS.values())
        if name not in matched
    ]
    return {
        "intent": matched[0] if matched else None,
        "confidence": 0.9 if matched else 0.1,
        "ranking": ranking,
        "model_version": "fake-1",
    }


def fake_retrieval(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """`search` over the tenant's stored documents by word overlap; `index`/`rebuild` no-ops."""
    from knowledge.index import list_doc_ids, read_doc

    tenant_id = str(event["tenant_id"])
    op = event.get("op", "search")
    if op == "index":
        return {"chunks": 1, "index_version": "fake"}
    if op != "search":
        return {"index_version": "fake"}
    query = _words(str(event["query"]))
    hits: list[dict[str, Any]] = []
    for doc_id in list_doc_ids(tenant_id=tenant_id, blobs=ctx.blobs):
        record = read_doc(tenant_id=tenant_id, blobs=ctx.blobs, doc_id=doc_id)
        text = str(record.get("text", ""))
        score = len(query & _words(text)) / len(query) if query else 0.0
        if score > 0:
            hits.append(
                {
                    "doc_id": doc_id,
                    "chunk_id": f"{doc_id}:0",
                    "title": record.get("title") or record.get("filename") or doc_id,
                    "text": text,
                    "score": round(score, 4),
                }
            )
    hits.sort(key=lambda h: h["score"], reverse=True)
    return {"hits": hits[: int(event.get("top_k", 3))], "index_version": "fake"}


def failing_skill(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    raise RuntimeError("the model is unavailable")


def slow_skill(seconds: float) -> SkillFn:
    def run(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        time.sleep(seconds)
        return {}

    return run


# leading bytes -> the audio format they announce
AUDIO_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"RIFF", "wav"),
    (b"OggS", "ogg"),
    (b"ID3", "mp3"),
    (b"\xff\xfb", "mp3"),
    (b"fLaC", "flac"),
    (b"\x1aE\xdf\xa3", "webm"),
)
FAKE_TRANSCRIPT = "What are your opening hours?"


def _audio_format(data: bytes) -> str | None:
    for magic, fmt in AUDIO_MAGIC:
        if data.startswith(magic):
            return fmt
    return "m4a" if data[4:8] == b"ftyp" else None


def fake_asr(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """`probe`: the format from the stored upload's leading bytes, or the real skill's 422
    fault; `transcribe`: always hears `FAKE_TRANSCRIPT`."""
    data = ctx.blobs.get(tenant_id=str(event["tenant_id"]), key=str(event["audio_key"]))
    fmt = _audio_format(data)
    if fmt is None:
        fault = {"status": 422, "code": "undecodable_audio", "message": "could not decode audio"}
        return {"fault": fault}
    if event.get("op") == "probe":
        return {"ext": fmt, "duration_s": 1.0}
    return {
        "text": FAKE_TRANSCRIPT,
        "language": "en",
        "duration_s": 1.0,
        "engine": "fake",
        "model": "fake",
    }


def silent_wav(seconds: float = 0.25, rate: int = 16000) -> bytes:
    """A mono 16-bit WAV of silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


def fake_tts(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """`speak` and `transcode`: store a quarter second of silence at `out_key` (a WAV whatever
    the format asked: the bytes are never decoded by the callers)."""
    key = str(event["out_key"])
    ctx.blobs.put(tenant_id=str(event["tenant_id"]), key=key, data=silent_wav())
    if event.get("op") == "transcode":
        return {"key": key, "format": event["format"], "bytes": len(silent_wav())}
    return {"key": key, "duration_s": 0.25, "sample_rate": 16000, "format": event["format"]}


def fake_registry(*, speech: bool = False) -> dict[str, SkillFn]:
    """The text skills' stand-ins; with `speech`, asr and tts too."""
    registry: dict[str, SkillFn] = {"intent": fake_intent, "retrieval": fake_retrieval}
    if speech:
        registry.update(asr=fake_asr, tts=fake_tts)
    return registry
