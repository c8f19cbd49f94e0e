"""The conversation service on in-memory stores and scripted skills (no I/O): the policy as a
customer meets it, degraded turns, rate limits, idempotency, and what each turn stores and logs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from core.bootstrap import Container
from core.conversation import handle_turn, request_fingerprint, run_idempotent
from core.errors import Conflict, RateLimited, SkillError, SkillTimeout
from core.models import ChatReply, Role, Source, Tenant, TurnRecord
from core.ports import ConversationLog, SkillInvoker
from core.sessions import create_session_state
from core.settings import Settings
from tests.memory_stores import (
    MemoryBlobStore,
    MemoryHistoryStore,
    MemoryJobStore,
    MemoryTenantStore,
)

CARD_ANSWER = "New cards arrive within 3-5 working days."
HOURS = "Branches are open 9:00-17:00 on weekdays and 9:00-13:00 on Saturdays."


class ScriptedSkills(SkillInvoker):
    """Each skill answers from a script: a result dict, or an exception to raise."""

    def __init__(self) -> None:
        self.script: dict[str, dict[str, Any] | Exception] = {}
        self.calls: list[str] = []

    async def invoke(
        self, name: str, event: Mapping[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        self.calls.append(name)
        await asyncio.sleep(0)
        answer = self.script.get(name, {})
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def invoke_async(self, name: str, event: Mapping[str, Any]) -> None:
        self.calls.append(name)


class MemoryLog(ConversationLog):
    def __init__(self) -> None:
        self.records: list[TurnRecord] = []

    def _write(self, record: TurnRecord) -> None:
        self.records.append(record)


def intent(name: str | None, confidence: float) -> dict[str, Any]:
    return {"intent": name, "confidence": confidence, "ranking": [], "model_version": "v1"}


def hits(score: float) -> dict[str, Any]:
    hit = {"doc_id": "d1", "chunk_id": "d1-0", "title": "Hours", "text": HOURS, "score": score}
    return {"hits": [hit], "index_version": "i1"}


@pytest.fixture
def container(tmp_path: Path) -> Container:
    skills = ScriptedSkills()
    skills.script = {"intent": intent(None, 0.1), "retrieval": {"hits": []}}
    built = Container(
        settings=Settings(data_dir=tmp_path, log_stdout=False, warmup=False),
        tenants=MemoryTenantStore(),
        history=MemoryHistoryStore(),
        jobs=MemoryJobStore(),
        blobs=MemoryBlobStore(),
        skills=skills,
        log=MemoryLog(),
        token_secret=b"secret",
    )
    built.tenants.create_tenant(
        Tenant(tenant_id="bank", responses={"card_arrival": CARD_ANSWER}, handoff_after=2)
    )
    return built


def script(container: Container, **answers: dict[str, Any] | Exception) -> None:
    assert isinstance(container.skills, ScriptedSkills)
    container.skills.script.update(answers)


def turn(container: Container, session_id: str, text: str) -> ChatReply:
    tenant = container.tenants.get_tenant(tenant_id="bank")
    return asyncio.run(
        handle_turn(container=container, tenant=tenant, session_id=session_id, text=text)
    )


def new_session(container: Container) -> str:
    return create_session_state(history=container.history, tenant_id="bank").session_id


def test_a_confident_intent_answers_and_the_turn_is_stored_and_logged(
    container: Container,
) -> None:
    session = new_session(container)
    script(container, intent=intent("card_arrival", 0.93), retrieval=hits(0.9))
    reply = turn(container, session, "my card hasn't arrived, mail me at jo@example.com")
    assert (reply.source, reply.intent, reply.text) == (Source.INTENT, "card_arrival", CARD_ANSWER)
    stored = container.history.list_messages(tenant_id="bank", session_id=session).items
    assert [m.role for m in stored] == [Role.USER, Role.BOT]
    assert stored[1].message_id == reply.message_id
    assert stored[0].message_id < stored[1].message_id
    (record,) = container.log.records  # type: ignore[attr-defined]
    assert record.source is Source.INTENT and record.degraded == []
    assert "jo@example.com" not in record.user_text and "[email]" in record.user_text
    assert set(record.latency_ms) >= {"intent", "retrieval"}


def test_an_intent_without_a_written_answer_falls_through_to_knowledge(
    container: Container,
) -> None:
    session = new_session(container)
    script(container, intent=intent("branch_hours", 0.95), retrieval=hits(0.7))
    reply = turn(container, session, "when are you open on saturday?")
    assert reply.source is Source.KNOWLEDGE
    assert reply.text == HOURS and reply.citations[0].doc_id == "d1"


def test_a_failing_skill_degrades_the_turn_instead_of_failing_it(container: Container) -> None:
    session = new_session(container)
    script(container, intent=SkillError("intent", "boom"), retrieval=hits(0.7))
    reply = turn(container, session, "when are you open on saturday?")
    assert reply.source is Source.KNOWLEDGE
    (record,) = container.log.records  # type: ignore[attr-defined]
    assert record.degraded == ["intent"]


def test_fallbacks_in_a_row_hand_the_session_to_a_human(container: Container) -> None:
    session = new_session(container)
    script(
        container,
        intent=SkillTimeout("intent", "slow"),
        retrieval=SkillTimeout("retrieval", "slow"),
    )
    first = turn(container, session, "blorp?")
    assert first.source is Source.FALLBACK
    second = turn(container, session, "blorp blorp?")
    assert second.source is Source.HANDOFF and second.handoff == "waiting"
    state = container.history.get_state(tenant_id="bank", session_id=session)
    assert state is not None and state.handoff == "waiting"
    # handed off: the bot stays quiet even when it would know the answer
    script(container, intent=intent("card_arrival", 0.99))
    assert turn(container, session, "where is my card").source is Source.HANDOFF


def test_the_rate_limit_refuses_a_turn_and_stores_nothing(container: Container) -> None:
    tenant = container.tenants.get_tenant(tenant_id="bank")
    container.tenants.update_tenant(tenant.model_copy(update={"turns_per_minute": 2}))
    session = new_session(container)
    turn(container, session, "one")
    turn(container, session, "two")
    with pytest.raises(RateLimited):
        turn(container, session, "three")
    stored = container.history.list_messages(tenant_id="bank", session_id=session).items
    assert [m.text for m in stored if m.role is Role.USER] == ["one", "two"]


def test_an_idempotent_retry_gets_the_same_reply_and_stores_nothing_twice(
    container: Container,
) -> None:
    session = new_session(container)
    script(container, intent=intent("card_arrival", 0.93))
    fingerprint = request_fingerprint({"session_id": session, "text": "where is my card"})

    def once(request_hash: str) -> ChatReply:
        return asyncio.run(
            run_idempotent(
                container=container,
                tenant_id="bank",
                key="retry-1",
                request_hash=request_hash,
                run=lambda: handle_turn(
                    container=container,
                    tenant=container.tenants.get_tenant(tenant_id="bank"),
                    session_id=session,
                    text="where is my card",
                ),
            )
        )

    first, again = once(fingerprint), once(fingerprint)
    assert again == first
    assert len(container.history.list_messages(tenant_id="bank", session_id=session).items) == 2
    with pytest.raises(Conflict):
        once(request_fingerprint({"session_id": session, "text": "something else"}))
