"""AnalyticsStore contract: atomic daily counters (new values returned, negative increments,
concurrent writers), day ranges, tenant isolation, retention, the bounded ring of unanswered
questions, and input bounds — over every backend (memory, SQLite, DynamoDB on moto)."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest

from core.models import UnansweredQuestion, utcnow
from core.ports import MAX_ANALYTICS_DAYS, AnalyticsStore
from tests.contract.conftest import RING

DAY = date(2026, 11, 20)


def test_counters_add_up_and_return_their_new_values(analytics_store: AnalyticsStore) -> None:
    first = analytics_store.add_counts(
        tenant_id="acme", day=DAY, counts={"turns": 1, "intent:card_arrival": 1, "fallbacks": 0}
    )
    second = analytics_store.add_counts(
        tenant_id="acme", day=DAY, counts={"turns": 2, "feedback_up": 1}
    )
    third = analytics_store.add_counts(
        tenant_id="acme", day=DAY, counts={"feedback_up": -1, "feedback_down": 1}
    )

    assert first == {"turns": 1, "intent:card_arrival": 1}  # a zero is not written
    assert second == {"turns": 3, "feedback_up": 1}
    assert third == {"feedback_up": 0, "feedback_down": 1}
    assert analytics_store.daily_counts(tenant_id="acme", start=DAY, end=DAY) == {
        DAY: {"turns": 3, "intent:card_arrival": 1, "feedback_up": 0, "feedback_down": 1}
    }


def test_days_are_read_inclusively_and_per_tenant(analytics_store: AnalyticsStore) -> None:
    for offset in range(5):
        day = DAY + timedelta(days=offset)
        analytics_store.add_counts(tenant_id="acme", day=day, counts={"turns": offset + 1})
    analytics_store.add_counts(tenant_id="globex", day=DAY, counts={"turns": 100})

    window = analytics_store.daily_counts(
        tenant_id="acme", start=DAY + timedelta(days=1), end=DAY + timedelta(days=3)
    )

    assert window == {DAY + timedelta(days=i): {"turns": i + 1} for i in (1, 2, 3)}
    assert analytics_store.daily_counts(tenant_id="globex", start=DAY, end=DAY) == {
        DAY: {"turns": 100}
    }
    assert analytics_store.daily_counts(tenant_id="initech", start=DAY, end=DAY) == {}


def test_concurrent_increments_are_never_lost(
    analytics_store: AnalyticsStore, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.params.get("analytics_store") == "dynamodb":
        # DynamoDB applies `ADD` atomically; moto's server updates items without a lock, so two
        # threads can both read the old value there (seen: 39 of 40).
        pytest.skip("moto does not serialise concurrent UpdateItem calls")

    def work() -> None:
        for _ in range(10):
            analytics_store.add_counts(tenant_id="acme", day=DAY, counts={"turns": 1, "lat:7": 1})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    counts = analytics_store.daily_counts(tenant_id="acme", start=DAY, end=DAY)[DAY]
    assert counts == {"turns": 40, "lat:7": 40}


def _question(text: str, at: datetime) -> UnansweredQuestion:
    return UnansweredQuestion(session_id="s1", text=text, at=at)


def test_unanswered_questions_keep_only_the_last_few_per_day(
    analytics_store: AnalyticsStore,
) -> None:
    start = datetime(2026, 11, 20, 9, 0, tzinfo=utcnow().tzinfo)
    for i in range(RING + 2):
        analytics_store.add_unanswered(
            tenant_id="acme", question=_question(f"question {i}", start + timedelta(minutes=i))
        )
    analytics_store.add_unanswered(
        tenant_id="acme", question=_question("next day", start + timedelta(days=1))
    )
    analytics_store.add_unanswered(tenant_id="globex", question=_question("globex", start))

    kept = analytics_store.list_unanswered(tenant_id="acme", start=DAY, end=DAY + timedelta(days=1))
    first_day = analytics_store.list_unanswered(tenant_id="acme", start=DAY, end=DAY)

    assert [q.text for q in kept] == ["next day", "question 4", "question 3", "question 2"]
    assert [q.text for q in first_day] == ["question 4", "question 3", "question 2"]
    seen = analytics_store.daily_counts(tenant_id="acme", start=DAY, end=DAY)[DAY]
    assert seen == {"unanswered_seq": RING + 2}  # how many there were, beyond those kept


def test_days_past_retention_are_not_read(analytics_store: AnalyticsStore) -> None:
    old = utcnow().date() - analytics_store.retention - timedelta(days=2)
    analytics_store.add_counts(tenant_id="acme", day=old, counts={"turns": 5})

    assert analytics_store.daily_counts(tenant_id="acme", start=old, end=old) == {}


def test_bad_names_and_windows_are_refused(analytics_store: AnalyticsStore) -> None:
    for name in ("Turns", "intent:", "intent:a b", "x" * 40, "lat:1:2"):
        with pytest.raises(ValueError):
            analytics_store.add_counts(tenant_id="acme", day=DAY, counts={name: 1})
    with pytest.raises(ValueError):
        analytics_store.daily_counts(tenant_id="acme", start=DAY, end=DAY - timedelta(days=1))
    with pytest.raises(ValueError):
        analytics_store.daily_counts(
            tenant_id="acme", start=DAY, end=DAY + timedelta(days=MAX_ANALYTICS_DAYS)
        )
    with pytest.raises(ValueError):
        analytics_store.add_counts(tenant_id="Bad Tenant", day=DAY, counts={"turns": 1})
    assert analytics_store.daily_counts(tenant_id="acme", start=DAY, end=DAY) == {}
