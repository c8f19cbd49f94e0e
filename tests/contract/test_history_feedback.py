"""HistoryStore contract, feedback part: one rating per message (the last wins, the replaced one
comes back), point reads of one message, tenant isolation, expiry and erasure with the session —
over every backend."""

from __future__ import annotations

from datetime import timedelta

from core.models import Feedback, Message, Rating, Role, utcnow
from core.ports import HistoryStore


def _bot_message(store: HistoryStore, tenant_id: str, session_id: str, text: str) -> Message:
    (stored,) = store.append_messages(
        tenant_id=tenant_id,
        session_id=session_id,
        messages=[Message(tenant_id=tenant_id, session_id=session_id, role=Role.BOT, text=text)],
    )
    return stored


def _feedback(message: Message, rating: Rating, **extra: object) -> Feedback:
    return Feedback(
        tenant_id=message.tenant_id,
        session_id=message.session_id,
        message_id=message.message_id,
        rating=rating,
        message_created_at=message.created_at,
        **extra,
    )


def test_one_message_is_read_by_id_within_its_tenant_and_session(
    history_store: HistoryStore,
) -> None:
    message = _bot_message(history_store, "acme", "s1", "It ships tomorrow.")

    found = history_store.get_message(
        tenant_id="acme", session_id="s1", message_id=message.message_id
    )

    assert found == message
    assert history_store.get_message(tenant_id="acme", session_id="s1", message_id="01XYZ") is None
    for tenant_id, session_id in (("globex", "s1"), ("acme", "s2")):
        missing = history_store.get_message(
            tenant_id=tenant_id, session_id=session_id, message_id=message.message_id
        )
        assert missing is None


def test_the_last_rating_wins_and_the_replaced_one_comes_back(history_store: HistoryStore) -> None:
    message = _bot_message(history_store, "acme", "s1", "It ships tomorrow.")

    first = history_store.put_feedback(_feedback(message, Rating.UP))
    second = history_store.put_feedback(_feedback(message, Rating.DOWN, comment="too slow"))
    stored = history_store.get_feedback(
        tenant_id="acme", session_id="s1", message_id=message.message_id
    )

    assert first is None
    assert second is not None and second.rating is Rating.UP
    assert stored is not None
    assert (stored.rating, stored.comment) == (Rating.DOWN, "too slow")
    assert stored.expires_at is not None  # stamped by the port
    page = history_store.list_messages(tenant_id="acme", session_id="s1")
    assert [m.message_id for m in page.items] == [message.message_id]  # ratings are not messages


def test_feedback_never_crosses_tenants(history_store: HistoryStore) -> None:
    acme = _bot_message(history_store, "acme", "shared", "acme answer")
    history_store.put_feedback(_feedback(acme, Rating.DOWN))

    other = history_store.get_feedback(
        tenant_id="globex", session_id="shared", message_id=acme.message_id
    )

    assert other is None


def test_expired_feedback_is_not_read_and_not_replaced(history_store: HistoryStore) -> None:
    message = _bot_message(history_store, "acme", "s1", "answer")
    past = utcnow() - timedelta(minutes=1)
    history_store.put_feedback(_feedback(message, Rating.UP, expires_at=past))

    assert (
        history_store.get_feedback(tenant_id="acme", session_id="s1", message_id=message.message_id)
        is None
    )
    assert history_store.put_feedback(_feedback(message, Rating.DOWN)) is None


def test_erasing_a_session_erases_its_feedback(history_store: HistoryStore) -> None:
    message = _bot_message(history_store, "acme", "s1", "answer")
    history_store.put_feedback(_feedback(message, Rating.UP))

    assert history_store.delete_session(tenant_id="acme", session_id="s1")

    assert (
        history_store.get_feedback(tenant_id="acme", session_id="s1", message_id=message.message_id)
        is None
    )
    assert history_store.put_feedback(_feedback(message, Rating.DOWN)) is None
