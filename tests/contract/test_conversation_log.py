"""ConversationLog contract: one record per turn, personal data masked before it is written,
records kept per tenant — over every backend."""

from __future__ import annotations

from core.models import Source, TurnRecord, utcnow
from tests.contract.conftest import ConversationLogUnderTest

NOW = utcnow()  # one timestamp for every record, so a test never straddles midnight


def _turn(tenant_id: str, user_text: str, bot_text: str = "Done.") -> TurnRecord:
    return TurnRecord(
        tenant_id=tenant_id,
        session_id="s1",
        request_id="r1",
        user_message_id="m1",
        bot_message_id="m2",
        user_text=user_text,
        bot_text=bot_text,
        intent="refund",
        confidence=0.83,
        source=Source.INTENT,
        latency_ms={"intent": 12.5, "total": 30.0},
        timestamp=NOW,
    )


def test_turns_are_written_with_personal_data_masked(
    conversation_log: ConversationLogUnderTest,
) -> None:
    turn = _turn(
        "acme",
        "I'm jane.doe@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958",
        "We refunded £25.00 to the card ending 1111.",
    )

    conversation_log.log.record_turn(turn)

    [written] = conversation_log.read("acme", NOW.date())
    assert written.user_text == "I'm [email], card [card], call [phone]"
    assert written.bot_text == "We refunded £25.00 to the card ending 1111."
    assert written.model_dump(exclude={"user_text", "bot_text"}) == turn.model_dump(
        exclude={"user_text", "bot_text"}
    )


def test_records_are_kept_per_tenant_in_order(conversation_log: ConversationLogUnderTest) -> None:
    for n in range(3):
        conversation_log.log.record_turn(_turn("acme", f"acme question {n}"))
    conversation_log.log.record_turn(_turn("globex", "globex question"))
    day = NOW.date()

    acme = conversation_log.read("acme", day)
    globex = conversation_log.read("globex", day)

    assert [r.user_text for r in acme] == [f"acme question {n}" for n in range(3)]
    assert [r.user_text for r in globex] == ["globex question"]
