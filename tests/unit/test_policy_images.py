"""The policy with an image in the turn, as a table: a confident label with the tenant's response
answers (`source=image`) ahead of the text; anything else leaves the text in charge, and a
fallback then says what the bot saw."""

from __future__ import annotations

from typing import Any

import pytest

from core.models import HandoffStatus, SessionState, Source, Tenant
from core.policy import ImageFinding, decide, mention_image
from core.skill_contracts import Hit, IntentResult

REPLACEMENT = "Sorry about your card. A replacement is on its way."
TENANT = Tenant(
    tenant_id="acme",
    intent_threshold=0.6,
    knowledge_threshold=0.5,
    responses={"refund_policy": "Refunds within 30 days."},
    image_responses={"damaged_card": REPLACEMENT},
    image_threshold=0.7,
)


def state(**kw: Any) -> SessionState:
    return SessionState(tenant_id="acme", session_id="s_1", **kw)


def refund(confidence: float = 0.9) -> IntentResult:
    return IntentResult(intent="refund_policy", confidence=confidence)


HIT = Hit(doc_id="d1", chunk_id="d1:0", title="Shipping", text="We ship daily.", score=0.8)


@pytest.mark.parametrize(
    ("text", "image", "intent", "hits", "source", "reply"),
    [
        # a confident label with a response answers, even over a confident intent
        ("look", ImageFinding("damaged_card", 0.95), None, [], Source.IMAGE, REPLACEMENT),
        ("refund?", ImageFinding("damaged_card", 0.7), refund(), [HIT], Source.IMAGE, REPLACEMENT),
        # not confident enough, or no response for the label: the text decides
        ("refund?", ImageFinding("damaged_card", 0.69), refund(), [], Source.INTENT, None),
        ("refund?", ImageFinding("cat", 0.99), refund(), [], Source.INTENT, None),
        ("ship?", ImageFinding("cat", 0.99), None, [HIT], Source.KNOWLEDGE, "We ship daily."),
        ("hmm", ImageFinding("damaged_card", 0.2), None, [], Source.FALLBACK, None),
        # the customer asking for a person still wins
        ("a human please", ImageFinding("damaged_card", 0.99), None, [], Source.HANDOFF, None),
    ],
)
def test_decisions_with_an_image(
    text: str,
    image: ImageFinding,
    intent: IntentResult | None,
    hits: list[Hit],
    source: Source,
    reply: str | None,
) -> None:
    decision = decide(
        tenant=TENANT, state=state(), text=text, intent_result=intent, hits=hits, image=image
    )
    assert decision.source is source
    if reply is not None:
        assert decision.text == reply


def test_a_handed_off_session_stays_quiet_whatever_the_image() -> None:
    decision = decide(
        tenant=TENANT,
        state=state(handoff=HandoffStatus.ACTIVE),
        text="look",
        intent_result=None,
        hits=[],
        image=ImageFinding("damaged_card", 0.99),
    )
    assert decision.source is Source.HANDOFF and decision.quiet


def test_an_image_answer_keeps_the_fallback_count_at_zero() -> None:
    decision = decide(
        tenant=TENANT,
        state=state(consecutive_fallbacks=1),
        text="look",
        intent_result=None,
        hits=[],
        image=ImageFinding("damaged_card", 0.9),
    )
    assert decision.consecutive_fallbacks == 0 and decision.handoff is HandoffStatus.NONE


@pytest.mark.parametrize(
    ("image", "mentioned"),
    [
        (ImageFinding("screenshot_error", 0.9), True),
        (ImageFinding("screenshot_error", 0.5), False),  # not sure what it saw: says nothing
        (None, False),
    ],
)
def test_a_fallback_mentions_what_the_bot_saw(image: ImageFinding | None, mentioned: bool) -> None:
    fallback = decide(tenant=TENANT, state=state(), text="hmm", intent_result=None, hits=[])
    said = mention_image(tenant=TENANT, decision=fallback, image=image)
    assert said.source is Source.FALLBACK
    if mentioned:
        assert said.text == f"I can see screenshot error in your picture. {TENANT.fallback_text}"
    else:
        assert said.text == TENANT.fallback_text


def test_only_fallbacks_mention_the_image() -> None:
    answered = decide(tenant=TENANT, state=state(), text="refund?", intent_result=refund(), hits=[])
    seen = ImageFinding("cat", 0.99)
    assert mention_image(tenant=TENANT, decision=answered, image=seen) == answered
