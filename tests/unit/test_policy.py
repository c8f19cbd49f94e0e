"""The conversation policy as a table: skills' results in, the bot's decision out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.models import HandoffStatus, SessionState, Source, Tenant, utcnow
from core.policy import (
    AGENT_WILL_REPLY,
    MAX_ANSWER_CHARS,
    apply_decision,
    decide,
    humanize,
    rate_limited,
    trim_passage,
    wants_human,
)
from core.skill_contracts import Hit, IntentResult

TENANT = Tenant(
    tenant_id="acme",
    intent_threshold=0.6,
    knowledge_threshold=0.5,
    handoff_after=2,
    responses={"refund_policy": "Refunds within 30 days.", "opening_hours": "9 to 5."},
)


def state(**kw: Any) -> SessionState:
    return SessionState(tenant_id="acme", session_id="s_1", **kw)


def intent(name: str | None, confidence: float, *others: str) -> IntentResult:
    ranking = [{"intent": name, "confidence": confidence}] if name else []
    ranking += [{"intent": other, "confidence": 0.1} for other in others]
    return IntentResult.model_validate(
        {"intent": name, "confidence": confidence, "ranking": ranking}
    )


def hit(
    score: float, doc: str = "d1", title: str = "Shipping", text: str = "We ship daily."
) -> Hit:
    return Hit(doc_id=doc, chunk_id=f"{doc}:0", title=title, text=text, score=score)


@pytest.mark.parametrize(
    ("intent_result", "hits", "source", "text"),
    [
        (intent("refund_policy", 0.9), [], Source.INTENT, "Refunds within 30 days."),
        (intent("refund_policy", 0.9), [hit(0.99)], Source.INTENT, "Refunds within 30 days."),
        (intent("refund_policy", 0.59), [hit(0.7)], Source.KNOWLEDGE, "We ship daily."),
        (intent("card_arrival", 0.95), [hit(0.7)], Source.KNOWLEDGE, "We ship daily."),
        (intent("card_arrival", 0.95), [hit(0.49)], Source.FALLBACK, TENANT.fallback_text),
        (None, [hit(0.5)], Source.KNOWLEDGE, "We ship daily."),
        (None, [], Source.FALLBACK, TENANT.fallback_text),
        (intent(None, 0.1), [hit(0.2), hit(0.3, doc="d2")], Source.FALLBACK, TENANT.fallback_text),
    ],
)
def test_decision_table(
    intent_result: IntentResult | None, hits: list[Hit], source: Source, text: str
) -> None:
    decision = decide(
        tenant=TENANT, state=state(), text="question", intent_result=intent_result, hits=hits
    )
    assert decision.source is source
    assert decision.text == text
    assert decision.handoff is HandoffStatus.NONE


def test_knowledge_answers_with_the_first_ranked_hit_that_reaches_the_threshold() -> None:
    # Hits arrive best first (the retrieval skill's dense+BM25 ranking); `score` (the cosine)
    # gates: the first ranked hit at or above `knowledge_threshold` answers.
    hits = [
        hit(0.45, "d0", "Fees"),
        hit(0.6, "d2", "Returns"),
        hit(0.8, "d1", "Shipping"),
        hit(0.55, "d3", "Billing"),
    ]
    decision = decide(tenant=TENANT, state=state(), text="q", intent_result=None, hits=hits)
    assert [c.doc_id for c in decision.citations] == ["d2"]
    assert decision.citations[0].title == "Returns"
    assert decision.suggestions == ["Shipping", "Billing", "Fees"]


def test_intent_answer_suggests_other_configured_intents_readably() -> None:
    result = intent("refund_policy", 0.9, "opening_hours", "not_configured")
    decision = decide(tenant=TENANT, state=state(), text="q", intent_result=result, hits=[])
    assert decision.suggestions == ["Opening hours"]


def test_long_passages_are_trimmed_at_a_sentence() -> None:
    passage = "First sentence here. " * 100
    decision = decide(
        tenant=TENANT, state=state(), text="q", intent_result=None, hits=[hit(0.9, text=passage)]
    )
    assert len(decision.text) <= MAX_ANSWER_CHARS
    assert decision.text.endswith("here.")


def test_trim_without_sentences_cuts_at_a_word() -> None:
    trimmed = trim_passage("word " * 500, limit=50)
    assert trimmed.endswith("…") and len(trimmed) <= 51 and "wor…" not in trimmed


def test_fallbacks_in_a_row_hand_off() -> None:
    first = decide(tenant=TENANT, state=state(), text="??", intent_result=None, hits=[])
    assert first.source is Source.FALLBACK and first.consecutive_fallbacks == 1
    after = apply_decision(state=state(), decision=first, now=utcnow())
    second = decide(tenant=TENANT, state=after, text="??", intent_result=None, hits=[])
    assert second.source is Source.HANDOFF
    assert second.handoff is HandoffStatus.WAITING
    assert second.text == TENANT.handoff_text


def test_an_answer_resets_the_fallback_streak() -> None:
    decision = decide(
        tenant=TENANT,
        state=state(consecutive_fallbacks=1),
        text="refund?",
        intent_result=intent("refund_policy", 0.9),
        hits=[],
    )
    assert decision.source is Source.INTENT and decision.consecutive_fallbacks == 0


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "can I speak to someone please",
        "AGENT",
        "get me a real person",
        "is there a live agent?",
        "let me chat with support",
        "connect me to a representative",
    ],
)
def test_asking_for_a_human_hands_off_even_with_a_confident_intent(text: str) -> None:
    assert wants_human(text)
    decision = decide(
        tenant=TENANT,
        state=state(),
        text=text,
        intent_result=intent("refund_policy", 0.99),
        hits=[hit(0.99)],
    )
    assert decision.source is Source.HANDOFF and decision.handoff is HandoffStatus.WAITING


@pytest.mark.parametrize(
    "text", ["where is my refund", "humane treatment", "what are your opening hours", "agenda"]
)
def test_ordinary_questions_do_not_ask_for_a_human(text: str) -> None:
    assert not wants_human(text)


@pytest.mark.parametrize("status", [HandoffStatus.WAITING, HandoffStatus.ACTIVE])
def test_the_bot_stays_quiet_once_handed_off(status: HandoffStatus) -> None:
    decision = decide(
        tenant=TENANT,
        state=state(handoff=status, handoff_reason="asked"),
        text="refund?",
        intent_result=intent("refund_policy", 0.99),
        hits=[hit(0.99)],
    )
    assert decision.source is Source.HANDOFF
    assert decision.text == AGENT_WILL_REPLY
    assert decision.handoff is status and decision.quiet


def test_a_closed_handoff_gives_the_session_back_to_the_bot() -> None:
    decision = decide(
        tenant=TENANT,
        state=state(handoff=HandoffStatus.CLOSED),
        text="refund?",
        intent_result=intent("refund_policy", 0.9),
        hits=[],
    )
    assert decision.source is Source.INTENT and decision.handoff is HandoffStatus.NONE


def test_rate_limit_window() -> None:
    now = utcnow()
    full = state(window_start=now - timedelta(seconds=30), window_turns=3)
    assert rate_limited(state=full, limit=3, now=now)
    assert not rate_limited(state=full, limit=4, now=now)
    assert not rate_limited(state=full, limit=3, now=now + timedelta(seconds=31))
    decision = decide(tenant=TENANT, state=full, text="??", intent_result=None, hits=[])
    later = apply_decision(state=full, decision=decision, now=now + timedelta(seconds=61))
    assert later.window_turns == 1 and later.turns == 1


def test_humanize() -> None:
    assert humanize("card_arrival") == "Card arrival"
    assert humanize("top-up.failed") == "Top up failed"
