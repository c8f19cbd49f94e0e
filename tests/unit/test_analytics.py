"""Analytics from counters, on in-memory stores: what a turn, a handoff and a rating add, how
the summary reads them back (rates, top intents, latency percentiles from the histogram), and
how unanswered questions are grouped and exported as training rows."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from core import analytics
from core.analytics import (
    feedback_counts,
    group_questions,
    latency_bucket,
    percentile_from_histogram,
    summarize,
    training_rows,
)
from core.errors import NotFound, Unprocessable
from core.feedback import give_feedback
from core.models import ChatReply, Rating, Role, UnansweredQuestion, utcnow
from tests.memory_stores import (
    MemoryAnalyticsStore,
)
from tests.unit.test_conversation import ScriptedSkills, World, intent, world


@pytest.fixture
def services(tmp_path: Path) -> World:
    return world(tmp_path)


def _turn(services: World, session_id: str, text: str, *, suggestion: bool = False) -> ChatReply:
    tenant = services.tenants.get_tenant(tenant_id="bank")
    state = services.sessions.require(tenant_id="bank", session_id=session_id)
    return asyncio.run(
        services.conversation.handle_turn(
            tenant=tenant,
            state=state,
            text=text,
            metadata={"suggestion": True} if suggestion else None,
        )
    )


def _session(services: World) -> str:
    return services.sessions.create(tenant_id="bank").session_id


def _summary(services: World) -> dict[str, Any]:
    assert services.analytics is not None
    today = utcnow().date()
    return summarize(analytics=services.analytics, tenant_id="bank", start=today, end=today)


def test_turns_sessions_sources_and_intents_are_counted_once_per_turn(
    services: World,
) -> None:
    one, two = _session(services), _session(services)
    assert isinstance(services.skills, ScriptedSkills)
    services.skills.script["intent"] = intent("card_arrival", 0.95)
    _turn(services, one, "where is my card")
    _turn(services, one, "still no card", suggestion=True)
    services.skills.script["intent"] = intent(None, 0.1)
    _turn(services, two, "can I pay with bitcoin, mail me at jo@example.com")

    summary = _summary(services)

    assert summary["turns"] == 3 and summary["sessions"] == 2
    assert summary["sources"] == {"intent": 2, "fallback": 1}
    assert summary["top_intents"] == [{"intent": "card_arrival", "count": 2}]
    assert summary["fallback_rate"] == round(1 / 3, 4)
    assert summary["suggestion_clicks"] == 1
    assert summary["latency_ms"]["p50"] is not None
    unanswered = summary["unanswered"]
    assert isinstance(unanswered, list)
    assert [q["text"] for q in unanswered] == ["can I pay with bitcoin, mail me at [email]"]
    assert summary["days"] == [  # one row per day of the window, zeros included
        {
            "day": utcnow().date().isoformat(),
            "turns": 3,
            "sessions": 2,
            "fallbacks": 1,
            "handoffs": 0,
            "feedback_up": 0,
            "feedback_down": 0,
        }
    ]


def test_a_handoff_counts_once_whether_asked_for_or_caused_by_fallbacks(
    services: World,
) -> None:
    caused, asked = _session(services), _session(services)
    _turn(services, caused, "blorp")
    _turn(services, caused, "blorp blorp")  # the second fallback hands off
    _turn(services, caused, "hello?")  # quiet: already handed off
    tenant = services.tenants.get_tenant(tenant_id="bank")
    for _ in range(2):  # asked twice: still one handoff
        state = services.sessions.require(tenant_id="bank", session_id=asked)
        asyncio.run(services.handoffs.request(tenant=tenant, state=state))

    summary = _summary(services)

    assert summary["handoffs"] == 2
    assert summary["sessions"] == 2  # the turnless one counts when it is handed off
    assert summary["handoff_rate"] == 1.0
    texts = [q["text"] for q in summary["unanswered"]]
    assert texts == ["blorp blorp", "blorp"]  # the quiet turn is not "unanswered"


def test_the_last_rating_of_a_message_is_what_counts(services: World) -> None:
    session = _session(services)
    reply = _turn(services, session, "blorp")
    rate = {
        "history": services.history,
        "analytics": services.analytics,
        "tenant_id": "bank",
        "session_id": session,
        "message_id": reply.message_id,
    }

    give_feedback(**rate, rating=Rating.UP)  # type: ignore[arg-type]
    give_feedback(**rate, rating=Rating.DOWN, comment="  useless  ")  # type: ignore[arg-type]
    give_feedback(**rate, rating=Rating.DOWN)  # type: ignore[arg-type]

    summary = _summary(services)
    assert summary["feedback"] == {"up": 0, "down": 1}
    assert summary["thumbs_down_rate"] == 1.0
    stored = services.history.get_feedback(
        tenant_id="bank", session_id=session, message_id=reply.message_id
    )
    assert stored is not None and stored.rating is Rating.DOWN and stored.comment is None


def test_only_the_bots_replies_in_the_tenants_session_can_be_rated(services: World) -> None:
    session = _session(services)
    reply = _turn(services, session, "blorp")
    user_message = next(
        m
        for m in services.history.list_messages(tenant_id="bank", session_id=session).items
        if m.role is Role.USER
    )
    common = {"history": services.history, "analytics": services.analytics}
    with pytest.raises(Unprocessable):
        give_feedback(
            **common,  # type: ignore[arg-type]
            tenant_id="bank",
            session_id=session,
            message_id=user_message.message_id,
            rating=Rating.UP,
        )
    for tenant_id, session_id in (("other", session), ("bank", "s_missing")):
        with pytest.raises(NotFound):
            give_feedback(
                **common,  # type: ignore[arg-type]
                tenant_id=tenant_id,
                session_id=session_id,
                message_id=reply.message_id,
                rating=Rating.UP,
            )
    assert _summary(services)["feedback"] == {"up": 0, "down": 0}


def test_a_failing_analytics_store_never_fails_the_turn(services: World) -> None:
    class Broken(MemoryAnalyticsStore):
        def _add(self, *args: object, **kwargs: object) -> dict[str, int]:
            raise RuntimeError("store down")

    services.conversation.analytics = Broken()
    reply = _turn(services, _session(services), "blorp")
    assert reply.text


@pytest.mark.parametrize(
    ("previous", "rating", "expected"),
    [
        (None, Rating.UP, {"feedback_up": 1}),
        (Rating.UP, Rating.UP, {}),
        (Rating.UP, Rating.DOWN, {"feedback_down": 1, "feedback_up": -1}),
    ],
)
def test_feedback_counts(previous: Rating | None, rating: Rating, expected: dict[str, int]) -> None:
    assert feedback_counts(rating, previous) == expected


def test_latency_buckets_grow_by_a_quarter() -> None:
    assert latency_bucket(0.2) == 0 and latency_bucket(1.0) == 0
    assert latency_bucket(1.1) == 1 and latency_bucket(1.25) == 1 and latency_bucket(1.3) == 2
    assert latency_bucket(10**9) == analytics.LATENCY_BUCKETS - 1
    for ms in (3.0, 47.0, 980.0, 12_000.0):
        index = latency_bucket(ms)
        assert 1.25 ** (index - 1) < ms <= 1.25**index


def test_percentiles_from_the_histogram_stay_within_their_bucket() -> None:
    latencies = [float(v) for v in range(10, 1010, 10)]  # 10 ms .. 1000 ms, 100 turns
    buckets: dict[int, int] = {}
    for ms in latencies:
        buckets[latency_bucket(ms)] = buckets.get(latency_bucket(ms), 0) + 1

    for q, exact in ((50, 500.0), (95, 950.0)):
        estimate = percentile_from_histogram(buckets, q)
        assert estimate is not None
        assert exact / 1.25 <= estimate <= exact * 1.25
    assert percentile_from_histogram({}, 50) is None


def test_similar_questions_are_grouped_and_exported_as_training_rows() -> None:
    questions = [
        "Can I pay with bitcoin?",
        "do you accept bitcoin payments",
        "how do I change my address",
        "bitcoin payment possible?",
        "change of address please",
        "what's the weather like",
    ]

    groups = group_questions(questions)

    assert [g["questions"] for g in groups] == [
        ["Can I pay with bitcoin?", "do you accept bitcoin payments", "bitcoin payment possible?"],
        ["how do I change my address", "change of address please"],
        ["what's the weather like"],
    ]
    bitcoin = groups[0]
    assert bitcoin["intent"] == "bitcoin_payment"
    rows = list(csv.reader(io.StringIO(bitcoin["csv"])))
    assert rows == [[q, "bitcoin_payment"] for q in bitcoin["questions"]]


def test_training_rows_quote_commas_and_defuse_formulas() -> None:
    rows = training_rows(['=HYPERLINK("x")', "card, lost", "two\nlines"], "new_intent")
    assert list(csv.reader(io.StringIO(rows))) == [
        ['\'=HYPERLINK("x")', "new_intent"],
        ["card, lost", "new_intent"],
        ["two lines", "new_intent"],
    ]


def test_the_summary_window_has_every_day_and_is_bounded(services: World) -> None:
    assert services.analytics is not None
    end = date(2026, 11, 30)
    summary = summarize(
        analytics=services.analytics, tenant_id="bank", start=end - timedelta(days=6), end=end
    )
    assert summary["days"][0]["day"] == "2026-11-24"
    assert len(summary["days"]) == 7 and summary["turns"] == 0
    with pytest.raises(ValueError):
        summarize(
            analytics=services.analytics,
            tenant_id="bank",
            start=end - timedelta(days=400),
            end=end,
        )


def test_unanswered_questions_are_read_for_the_last_days_of_a_window_only(
    services: World,
) -> None:
    store = services.analytics
    assert store is not None
    end = utcnow()
    for days_ago, text in ((0, "recent question"), (analytics.UNANSWERED_DAYS, "older question")):
        store.add_unanswered(
            tenant_id="bank",
            question=UnansweredQuestion(
                session_id="s1", text=text, at=end - timedelta(days=days_ago)
            ),
        )

    summary = summarize(
        analytics=store, tenant_id="bank", start=end.date() - timedelta(days=29), end=end.date()
    )

    assert [q["text"] for q in summary["unanswered"]] == ["recent question"]
    first = end.date() - timedelta(days=analytics.UNANSWERED_DAYS - 1)
    assert summary["unanswered_from"] == first.isoformat()
