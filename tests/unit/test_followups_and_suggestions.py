"""Follow-up detection, the topic counters behind suggestions, and clicked suggestions in the
analytics summary."""

from __future__ import annotations

from datetime import date

import pytest

from core import analytics
from core.followups import CONTEXT_SLOT, followup_query, is_offered, looks_elliptical
from core.models import SessionState, Source, TurnRecord, utcnow
from core.policy import Decision
from core.ports import COUNTER_NAME_RE
from core.suggestions import (
    MAX_LABEL_BYTES,
    TopicStats,
    clicked_suggestions,
    decode_label,
    encode_label,
    turn_topic_counts,
)
from tests.memory_stores import MemoryAnalyticsStore


@pytest.mark.parametrize(
    "text",
    [
        "and on Sunday?",
        "what about Visa?",
        "how much is it?",
        "And for euros",
        "is it free?",
        "on Saturday?",
        "Visa?",
        "how long does that take?",
    ],
)
def test_elliptical_messages(text: str) -> None:
    assert looks_elliptical(text)


@pytest.mark.parametrize(
    "text",
    [
        "How much does it cost to send money to Germany",  # long enough to stand alone
        "I would like to order a new physical card please",
        "My card has not arrived yet and I ordered it two weeks ago",
        "blorp",
        "zzz qqq",
        "",
    ],
)
def test_complete_questions_are_not_elliptical(text: str) -> None:
    assert not looks_elliptical(text)


def test_a_follow_up_query_needs_a_previous_question() -> None:
    fresh = SessionState(tenant_id="bank", session_id="s")
    assert followup_query(fresh, "and on Sunday?") is None
    seen = fresh.model_copy(update={"slots": {CONTEXT_SLOT: {"text": "Opening hours Saturday?"}}})
    assert followup_query(seen, "and on Sunday?") == "Opening hours Saturday? and on Sunday?"
    assert followup_query(seen, "I want to order a new card for my daughter") is None


def test_offered_suggestions_are_recognised_as_clicks() -> None:
    seen = SessionState(
        tenant_id="bank", session_id="s", slots={CONTEXT_SLOT: {"offered": ["Card arrival"]}}
    )
    assert is_offered(seen, "card  arrival")
    assert not is_offered(seen, "card")


@pytest.mark.parametrize(
    "label", ["Card arrival", "Sending money: transfers, limits and timings", "Überweisung ä€"]
)
def test_labels_travel_through_counter_names(label: str) -> None:
    for name in turn_topic_counts(previous="Lost or stolen card", topic=label, clicked=label):
        assert COUNTER_NAME_RE.match(name), name
    assert decode_label(encode_label(label)) == label


def test_long_labels_are_cut_on_a_character_boundary() -> None:
    label = "é" * 100
    decoded = decode_label(encode_label(label))
    assert decoded is not None and label.startswith(decoded)
    assert len(decoded.encode()) <= MAX_LABEL_BYTES


def test_topic_stats_rank_what_came_next_over_days() -> None:
    day_one = turn_topic_counts(previous="A", topic="B", clicked=None)
    day_two = {**turn_topic_counts(previous="A", topic="B", clicked=None)}
    for _ in range(3):
        for key, value in turn_topic_counts(previous="A", topic="C", clicked=None).items():
            day_two[key] = day_two.get(key, 0) + value
    stats = TopicStats.from_counts({date(2026, 1, 1): day_one, date(2026, 1, 2): day_two})
    assert stats.next_after("a") == ["C", "B"]  # matched case-insensitively
    assert stats.next_after("B") == []
    assert stats.top(2) == ["C", "B"]


def test_a_topic_repeated_is_not_a_transition() -> None:
    counts = turn_topic_counts(previous="A", topic="a", clicked=None)
    assert not any(k.startswith("nx:") for k in counts)


def test_the_summary_shows_which_suggestions_are_clicked() -> None:
    store = MemoryAnalyticsStore()
    for text in ("Card arrival", "Card arrival", "Fees and charges"):
        record = TurnRecord(
            tenant_id="bank",
            session_id="s",
            user_text=text,
            bot_text="answer",
            source=Source.INTENT,
            intent="card_arrival",
            timestamp=utcnow(),
        )
        analytics.record_turn(
            store,
            record=record,
            decision=Decision(text="answer", source=Source.INTENT, topic="Card arrival"),
            first_turn=False,
            previous_topic="Lost or stolen card",
            clicked=text,
        )
    today = utcnow().date()
    summary = analytics.summarize(analytics=store, tenant_id="bank", start=today, end=today)
    assert summary["suggestion_clicks"] == 3
    assert summary["suggestions_clicked"] == [
        {"suggestion": "Card arrival", "count": 2},
        {"suggestion": "Fees and charges", "count": 1},
    ]
    totals = store.daily_counts(tenant_id="bank", start=today, end=today)[today]
    assert clicked_suggestions(totals, limit=1) == [{"suggestion": "Card arrival", "count": 2}]
    stats = TopicStats.from_counts({today: totals})
    assert stats.next_after("Lost or stolen card", limit=3) == ["Card arrival"]
