"""The skills' typed contracts: events are validated where a skill receives them (a clear
`BadRequest` naming the field, never a `KeyError` deep inside), results tolerate added fields."""

from __future__ import annotations

import pytest

from core.errors import BadRequest
from core.skill_contracts import (
    IndexEvent,
    IntentEvent,
    IntentResult,
    ProbeEvent,
    SearchEvent,
    SpeakEvent,
    TranscodeEvent,
    TranscribeEvent,
    asr_events,
    parse_event,
    retrieval_events,
    tts_events,
)


def test_an_event_without_op_is_the_skills_main_operation() -> None:
    assert isinstance(
        parse_event("retrieval", retrieval_events(), {"tenant_id": "a", "query": "q"}), SearchEvent
    )
    assert isinstance(
        parse_event("asr", asr_events(), {"tenant_id": "a", "audio_key": "k"}), TranscribeEvent
    )
    assert isinstance(
        parse_event("tts", tts_events(), {"tenant_id": "a", "text": "hi"}), SpeakEvent
    )


def test_op_selects_the_operation() -> None:
    event = {"op": "index", "tenant_id": "a", "doc_id": "d1"}
    assert isinstance(parse_event("retrieval", retrieval_events(), event), IndexEvent)
    probe = {"op": "probe", "tenant_id": "a", "audio_key": "k", "max_seconds": 120}
    assert isinstance(parse_event("asr", asr_events(), probe), ProbeEvent)
    transcode = {
        "op": "transcode",
        "tenant_id": "a",
        "in_key": "x",
        "out_key": "y",
        "format": "wav",
    }
    assert isinstance(parse_event("tts", tts_events(), transcode), TranscodeEvent)


@pytest.mark.parametrize(
    ("skill", "validator", "event", "mentions"),
    [
        ("intent", IntentEvent, {"text": "hi"}, "tenant_id"),
        ("intent", IntentEvent, {"tenant_id": "a", "text": 5}, "text"),
        ("intent", IntentEvent, {"tenant_id": "a", "text": "hi", "txet": "typo"}, "txet"),
        ("retrieval", retrieval_events(), {"op": "explode", "tenant_id": "a"}, "explode"),
        ("retrieval", retrieval_events(), {"tenant_id": "a", "query": "q", "top_k": 500}, "top_k"),
        ("asr", asr_events(), {"tenant_id": "a", "audio_key": "k", "beam_size": 0}, "beam_size"),
        ("tts", tts_events(), {"tenant_id": "a", "text": ""}, "text"),
        ("tts", tts_events(), {"tenant_id": "a", "text": "hi", "format": "exe"}, "format"),
        ("intent", IntentEvent, "not an object", "event"),
    ],
)
def test_a_bad_event_is_a_clear_error_naming_the_skill_and_field(
    skill: str, validator: object, event: object, mentions: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_event(skill, validator, event)  # type: ignore[arg-type]
    assert caught.value.message.startswith(f"{skill}: invalid event")
    assert mentions in caught.value.message


def test_results_ignore_fields_a_newer_skill_adds() -> None:
    result = IntentResult.model_validate(
        {"intent": "a", "confidence": 0.5, "ranking": [], "model_version": "v", "new": 1}
    )
    assert result.intent == "a"


def test_the_skills_validate_at_their_entry() -> None:
    from core.ports import SkillContext
    from skills.retrieval.skill import run
    from tests.memory_stores import MemoryBlobStore

    expected = r"retrieval: invalid event: search\.tenant_id: Field required"
    with pytest.raises(BadRequest, match=expected):
        run({"op": "search", "query": "q"}, SkillContext(blobs=MemoryBlobStore(), settings=None))
