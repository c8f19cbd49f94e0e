"""HistoryStore contract: messages (order, paging, expiry, tenant isolation), optimistic session
state, erasure, the sessions listing and handoff queue, idempotency records, and concurrent
appends — over every backend."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from core.errors import IdempotencyLost, VersionConflict
from core.models import (
    HandoffStatus,
    IdempotencyCompletion,
    IdempotencyRecord,
    Message,
    Role,
    SessionState,
    utcnow,
)
from core.ports import HistoryStore


def _msg(tenant_id: str, session_id: str, text: str, **extra: object) -> Message:
    return Message(
        tenant_id=tenant_id,
        session_id=session_id,
        role=Role.USER,
        text=text,
        **extra,
    )


def _append(store: HistoryStore, tenant_id: str, session_id: str, *texts: str) -> list[Message]:
    return store.append_messages(
        tenant_id=tenant_id,
        session_id=session_id,
        messages=[_msg(tenant_id, session_id, t) for t in texts],
    )


def _texts(store: HistoryStore, tenant_id: str, session_id: str, limit: int = 500) -> list[str]:
    page = store.list_messages(tenant_id=tenant_id, session_id=session_id, limit=limit)
    return [m.text for m in page.items]


def _new_state(store: HistoryStore, tenant_id: str, session_id: str, **extra: object) -> None:
    state = SessionState(tenant_id=tenant_id, session_id=session_id, **extra)
    store.put_state(state, expected_version=None)


# --------------------------------------------------------------------------- messages


def test_appended_messages_come_back_oldest_first(history_store: HistoryStore) -> None:
    stored = _append(history_store, "acme", "s1", "hello", "where is my order?")
    stored += history_store.append_messages(
        tenant_id="acme",
        session_id="s1",
        messages=[
            Message(
                tenant_id="acme",
                session_id="s1",
                role=Role.BOT,
                text="It ships tomorrow.",
                intent="order_status",
                confidence=0.91,
                metadata={"channel": "widget"},
            )
        ],
    )

    page = history_store.list_messages(tenant_id="acme", session_id="s1")

    assert page.items == stored
    assert [m.text for m in page.items] == ["hello", "where is my order?", "It ships tomorrow."]
    assert page.items[2].intent == "order_status" and page.items[2].role is Role.BOT
    assert all(m.message_id and m.expires_at for m in page.items)
    assert page.next_cursor is None


def test_cursor_paging_walks_every_message_once_in_order(history_store: HistoryStore) -> None:
    texts = [f"message {i}" for i in range(23)]
    _append(history_store, "acme", "s1", *texts)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = history_store.list_messages(
            tenant_id="acme", session_id="s1", limit=5, cursor=cursor
        )
        pages += 1
        assert len(page.items) <= 5
        seen += [m.text for m in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == texts
    assert pages == 5


def test_expired_messages_are_filtered_on_read(history_store: HistoryStore) -> None:
    past = utcnow() - timedelta(minutes=1)
    history_store.append_messages(
        tenant_id="acme",
        session_id="s1",
        messages=[_msg("acme", "s1", f"old {i}", expires_at=past) for i in range(4)],
    )
    _append(history_store, "acme", "s1", "new 0", "new 1", "new 2")

    first = history_store.list_messages(tenant_id="acme", session_id="s1", limit=2)
    second = history_store.list_messages(
        tenant_id="acme", session_id="s1", limit=2, cursor=first.next_cursor
    )

    assert [m.text for m in first.items] == ["new 0", "new 1"]
    assert [m.text for m in second.items] == ["new 2"]
    assert second.next_cursor is None


def test_sessions_with_the_same_id_never_mix_across_tenants(history_store: HistoryStore) -> None:
    _append(history_store, "acme", "shared", "acme says hi")
    _append(history_store, "globex", "shared", "globex says hi")
    _new_state(history_store, "acme", "shared", last_intent="acme_intent")

    assert _texts(history_store, "acme", "shared") == ["acme says hi"]
    assert _texts(history_store, "globex", "shared") == ["globex says hi"]
    assert history_store.get_state(tenant_id="globex", session_id="shared") is None
    assert [s.session_id for s in history_store.list_sessions(tenant_id="globex").items] == []


def test_messages_of_another_tenant_or_session_are_refused(history_store: HistoryStore) -> None:
    with pytest.raises(ValueError):
        history_store.append_messages(
            tenant_id="acme", session_id="s1", messages=[_msg("globex", "s1", "sneaky")]
        )
    with pytest.raises(ValueError):
        history_store.append_messages(
            tenant_id="acme", session_id="s1", messages=[_msg("acme", "s2", "wrong session")]
        )
    assert _texts(history_store, "acme", "s1") == []


# --------------------------------------------------------------------------- session state


def test_state_is_created_once_then_updated_by_version(history_store: HistoryStore) -> None:
    created = history_store.put_state(
        SessionState(tenant_id="acme", session_id="s1", origin="https://acme.example"),
        expected_version=None,
    )
    assert created.version == 0
    with pytest.raises(VersionConflict):  # it exists now: creating again loses
        history_store.put_state(
            SessionState(tenant_id="acme", session_id="s1"), expected_version=None
        )

    updated = history_store.put_state(
        created.model_copy(update={"turns": 1, "last_intent": "greeting"}), expected_version=0
    )

    stored = history_store.get_state(tenant_id="acme", session_id="s1")
    assert updated.version == 1
    assert stored == updated
    assert stored is not None and stored.origin == "https://acme.example"


def test_of_two_writers_of_one_version_exactly_one_wins(history_store: HistoryStore) -> None:
    base = history_store.put_state(
        SessionState(tenant_id="acme", session_id="s1"), expected_version=None
    )
    first = base.model_copy(update={"last_intent": "refund"})
    second = base.model_copy(update={"last_intent": "shipping"})

    history_store.put_state(first, expected_version=base.version)
    with pytest.raises(VersionConflict):
        history_store.put_state(second, expected_version=base.version)

    stored = history_store.get_state(tenant_id="acme", session_id="s1")
    assert stored is not None
    assert (stored.version, stored.last_intent) == (1, "refund")


def test_a_commit_stores_the_state_and_its_messages_together(history_store: HistoryStore) -> None:
    _new_state(history_store, "acme", "s1")
    state = history_store.get_state(tenant_id="acme", session_id="s1")
    assert state is not None
    stored, messages = history_store.commit(
        state.model_copy(update={"turns": 1}),
        expected_version=state.version,
        messages=[_msg("acme", "s1", "hello"), _msg("acme", "s1", "hi there")],
    )
    assert stored.version == state.version + 1 and stored.turns == 1
    assert [m.text for m in messages] == ["hello", "hi there"]
    assert all(m.message_id for m in messages)
    assert _texts(history_store, "acme", "s1") == ["hello", "hi there"]


def test_a_commit_that_loses_the_race_writes_nothing(history_store: HistoryStore) -> None:
    _new_state(history_store, "acme", "s1")
    state = history_store.get_state(tenant_id="acme", session_id="s1")
    assert state is not None
    history_store.put_state(state, expected_version=state.version)  # another writer moved it
    with pytest.raises(VersionConflict):
        history_store.commit(
            state.model_copy(update={"turns": 9}),
            expected_version=state.version,
            messages=[_msg("acme", "s1", "lost")],
        )
    assert _texts(history_store, "acme", "s1") == []
    after = history_store.get_state(tenant_id="acme", session_id="s1")
    assert after is not None and after.turns == 0 and after.version == state.version + 1


def test_updating_a_missing_state_conflicts(history_store: HistoryStore) -> None:
    with pytest.raises(VersionConflict):
        history_store.put_state(SessionState(tenant_id="acme", session_id="s9"), expected_version=3)
    assert history_store.get_state(tenant_id="acme", session_id="s9") is None


def test_concurrent_writers_never_lose_an_update(history_store: HistoryStore) -> None:
    history_store.put_state(SessionState(tenant_id="acme", session_id="s1"), expected_version=None)

    def add_turns(count: int) -> None:
        done = 0
        while done < count:
            state = history_store.get_state(tenant_id="acme", session_id="s1")
            assert state is not None
            try:
                history_store.put_state(
                    state.model_copy(update={"turns": state.turns + 1}),
                    expected_version=state.version,
                )
            except VersionConflict:
                continue  # re-read and retry, as a caller should
            done += 1

    threads = [threading.Thread(target=add_turns, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = history_store.get_state(tenant_id="acme", session_id="s1")
    assert stored is not None
    assert (stored.turns, stored.version) == (40, 40)


def test_an_expired_state_is_invisible_and_can_be_created_again(
    history_store: HistoryStore,
) -> None:
    history_store.ttl = timedelta(seconds=-1)  # every write is already past its TTL
    history_store.put_state(
        SessionState(tenant_id="acme", session_id="s1", last_intent="old"),
        expected_version=None,
    )
    assert history_store.get_state(tenant_id="acme", session_id="s1") is None
    assert history_store.list_sessions(tenant_id="acme").items == []

    history_store.ttl = timedelta(days=1)
    fresh = history_store.put_state(
        SessionState(tenant_id="acme", session_id="s1", last_intent="new"),
        expected_version=None,
    )

    assert history_store.get_state(tenant_id="acme", session_id="s1") == fresh


# --------------------------------------------------------------------------- erasure


def test_delete_session_erases_messages_and_state_of_that_tenant_only(
    history_store: HistoryStore,
) -> None:
    _append(history_store, "acme", "s1", "a", "b")
    _new_state(history_store, "acme", "s1")
    _append(history_store, "acme", "s2", "keep me")
    _append(history_store, "globex", "s1", "other tenant")

    assert history_store.delete_session(tenant_id="acme", session_id="s1") is True

    assert _texts(history_store, "acme", "s1") == []
    assert history_store.get_state(tenant_id="acme", session_id="s1") is None
    assert _texts(history_store, "acme", "s2") == ["keep me"]
    assert _texts(history_store, "globex", "s1") == ["other tenant"]
    assert history_store.delete_session(tenant_id="acme", session_id="s1") is False


def test_delete_session_erases_more_than_one_page(history_store: HistoryStore) -> None:
    _append(history_store, "acme", "s1", *[f"m{i}" for i in range(60)])

    assert history_store.delete_session(tenant_id="acme", session_id="s1") is True

    assert _texts(history_store, "acme", "s1") == []


# --------------------------------------------------------------------------- sessions listing


def test_sessions_are_listed_most_recently_active_first(history_store: HistoryStore) -> None:
    for session_id in ("s1", "s2", "s3"):
        _new_state(history_store, "acme", session_id)
    s1 = history_store.get_state(tenant_id="acme", session_id="s1")
    assert s1 is not None
    history_store.put_state(s1, expected_version=s1.version)  # s1 is active again

    page = history_store.list_sessions(tenant_id="acme")

    assert [s.session_id for s in page.items] == ["s1", "s3", "s2"]
    assert page.next_cursor is None


def test_sessions_listing_pages_with_a_cursor(history_store: HistoryStore) -> None:
    for i in range(7):
        _new_state(history_store, "acme", f"s{i}")
    _new_state(history_store, "globex", "g1")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = history_store.list_sessions(tenant_id="acme", limit=3, cursor=cursor)
        assert len(page.items) <= 3
        seen += [s.session_id for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [f"s{i}" for i in reversed(range(7))]


def test_handoff_filter_gives_the_agents_queue(history_store: HistoryStore) -> None:
    statuses = {
        "none": HandoffStatus.NONE,
        "waiting": HandoffStatus.WAITING,
        "active": HandoffStatus.ACTIVE,
        "closed": HandoffStatus.CLOSED,
    }
    for session_id, status in statuses.items():
        _new_state(history_store, "acme", session_id, handoff=status)
    _new_state(history_store, "globex", "g-waiting", handoff=HandoffStatus.WAITING)

    queue = history_store.list_sessions(tenant_id="acme", handoff_only=True)

    assert [s.session_id for s in queue.items] == ["active", "waiting"]
    everything = history_store.list_sessions(tenant_id="acme")
    assert len(everything.items) == 4

    # Leaving the queue: a closed handoff drops out of it.
    active = history_store.get_state(tenant_id="acme", session_id="active")
    assert active is not None
    history_store.put_state(
        active.model_copy(update={"handoff": HandoffStatus.CLOSED}),
        expected_version=active.version,
    )
    queue = history_store.list_sessions(tenant_id="acme", handoff_only=True)
    assert [s.session_id for s in queue.items] == ["waiting"]


# --------------------------------------------------------------------------- idempotency


def test_idempotency_claim_then_complete_replays_the_response(history_store: HistoryStore) -> None:
    claimed = history_store.claim_idempotency(
        tenant_id="acme", key="k1", request_hash="h1", ttl_s=3600
    )
    assert claimed is None  # we own it

    in_progress = history_store.claim_idempotency(
        tenant_id="acme", key="k1", request_hash="h1", ttl_s=3600
    )
    assert in_progress is not None
    assert (in_progress.request_hash, in_progress.response) == ("h1", None)

    history_store.complete_idempotency(
        tenant_id="acme", key="k1", response={"text": "Hi!", "status": 200}
    )
    done = history_store.claim_idempotency(
        tenant_id="acme", key="k1", request_hash="h1", ttl_s=3600
    )
    assert done is not None
    assert done.response == {"text": "Hi!", "status": 200}


def _claim(store: HistoryStore, key: str, owner: str, lease_s: float) -> IdempotencyRecord | None:
    return store.claim_idempotency(
        tenant_id="acme", key=key, request_hash="h", ttl_s=3600, owner=owner, lease_s=lease_s
    )


def test_an_in_progress_claim_is_taken_over_once_its_lease_ran_out(
    history_store: HistoryStore,
) -> None:
    assert _claim(history_store, "k1", "first", 3600) is None
    held = _claim(history_store, "k1", "second", 3600)
    assert held is not None and held.owner == "first" and held.response is None
    history_store.release_idempotency(tenant_id="acme", key="k1", owner="second")  # not its own
    assert _claim(history_store, "k1", "third", 3600) is not None  # still the first's
    # an owner that died: its lease (here already over) lets a retry take the claim over
    assert _claim(history_store, "k2", "dead", -1) is None
    assert _claim(history_store, "k2", "retry", 60) is None
    again = _claim(history_store, "k2", "third", 60)
    assert again is not None and again.owner == "retry"


def test_a_commit_stores_the_idempotent_answer_with_the_turn_for_its_owner_only(
    history_store: HistoryStore,
) -> None:
    _new_state(history_store, "acme", "s1")
    assert _claim(history_store, "k1", "dead", -1) is None
    assert _claim(history_store, "k1", "alive", 60) is None  # took the claim over
    state = history_store.get_state(tenant_id="acme", session_id="s1")
    assert state is not None
    stale = IdempotencyCompletion(tenant_id="acme", key="k1", owner="dead", response={"n": 1})
    with pytest.raises(IdempotencyLost):  # the dead owner's late commit stores nothing
        history_store.commit(
            state,
            expected_version=state.version,
            messages=[_msg("acme", "s1", "x")],
            completion=stale,
        )
    assert _texts(history_store, "acme", "s1") == []
    mine = stale.model_copy(update={"owner": "alive", "response": {"n": 2}})
    history_store.commit(
        state,
        expected_version=state.version,
        messages=[_msg("acme", "s1", "y")],
        completion=mine,
    )
    assert _texts(history_store, "acme", "s1") == ["y"]
    done = _claim(history_store, "k1", "late", 60)
    assert done is not None and done.response == {"n": 2}


def test_idempotency_keys_are_per_tenant(history_store: HistoryStore) -> None:
    assert (
        history_store.claim_idempotency(tenant_id="acme", key="k", request_hash="a", ttl_s=60)
        is None
    )
    assert (
        history_store.claim_idempotency(tenant_id="globex", key="k", request_hash="b", ttl_s=60)
        is None
    )


def test_released_claims_can_be_claimed_again(history_store: HistoryStore) -> None:
    history_store.claim_idempotency(tenant_id="acme", key="k1", request_hash="h1", ttl_s=3600)

    history_store.release_idempotency(tenant_id="acme", key="k1")

    again = history_store.claim_idempotency(
        tenant_id="acme", key="k1", request_hash="h1", ttl_s=3600
    )
    assert again is None


def test_expired_idempotency_records_are_replaced(history_store: HistoryStore) -> None:
    history_store.claim_idempotency(tenant_id="acme", key="k1", request_hash="old", ttl_s=-1)
    history_store.complete_idempotency(tenant_id="acme", key="k1", response={"text": "stale"})

    claimed = history_store.claim_idempotency(
        tenant_id="acme", key="k1", request_hash="new", ttl_s=3600
    )

    assert claimed is None
    current = history_store.claim_idempotency(
        tenant_id="acme", key="k1", request_hash="new", ttl_s=3600
    )
    assert current is not None
    assert (current.request_hash, current.response) == ("new", None)


def test_only_one_of_many_concurrent_claims_wins(history_store: HistoryStore) -> None:
    results: list[object] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        result = history_store.claim_idempotency(
            tenant_id="acme", key="race", request_hash="h", ttl_s=60
        )
        with lock:
            results.append(result)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result is None for result in results) == 1


# --------------------------------------------------------------------------- concurrency


def test_concurrent_appends_store_every_message_once_in_order(history_store: HistoryStore) -> None:
    """200 appends from 20 threads over 10 sessions."""
    sessions = [f"s{i}" for i in range(10)]
    errors: list[BaseException] = []

    def worker(thread_no: int) -> None:
        try:
            for i in range(10):  # two messages to each of five sessions
                session_id = sessions[(thread_no + i) % 5 + (thread_no % 2) * 5]
                _append(history_store, "acme", session_id, f"t{thread_no}-m{i}")
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    all_texts: list[str] = []
    for session_id in sessions:
        page = history_store.list_messages(tenant_id="acme", session_id=session_id, limit=500)
        ids = [m.message_id for m in page.items]
        assert ids == sorted(set(ids))  # strictly increasing: no duplicates, stable order
        assert len(page.items) == 20
        texts = [m.text for m in page.items]
        # One thread's messages to one session keep the order it appended them in.
        for thread_no in range(20):
            own = [t for t in texts if t.startswith(f"t{thread_no}-")]
            assert own == sorted(own, key=lambda t: int(t.split("-m")[1]))
        all_texts += texts
    expected = {f"t{n}-m{i}" for n in range(20) for i in range(10)}
    assert sorted(all_texts) == sorted(expected)
