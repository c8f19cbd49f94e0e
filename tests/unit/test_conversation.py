"""The conversation service on in-memory stores and scripted skills (no I/O): the policy as a
customer meets it, degraded turns, rate limits, idempotency, and what each turn stores and logs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.conversation import ConversationService, request_fingerprint
from core.errors import Conflict, RateLimited, SkillError, SkillTimeout
from core.handoff import HandoffService
from core.models import ChatReply, Role, Source, Tenant, TurnRecord
from core.ports import ConversationLog, SkillInvoker
from core.sessions import SessionLocks, SessionService
from core.settings import Settings
from tests.memory_stores import (
    MemoryAnalyticsStore,
    MemoryHistoryStore,
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


@dataclass
class World:
    """The conversation service built with in-memory fakes, the way bootstrap wires it."""

    tenants: MemoryTenantStore
    history: MemoryHistoryStore
    skills: ScriptedSkills
    log: MemoryLog
    analytics: MemoryAnalyticsStore
    sessions: SessionService
    conversation: ConversationService
    handoffs: HandoffService


Services = World


def world(tmp_path: Path) -> World:
    """The services over fresh in-memory stores, with the `bank` tenant."""
    skills = ScriptedSkills()
    skills.script = {"intent": intent(None, 0.1), "retrieval": {"hits": []}}
    history = MemoryHistoryStore()
    log = MemoryLog()
    analytics = MemoryAnalyticsStore(unanswered_per_day=50)
    sessions = SessionService(
        history=history, locks=SessionLocks(), token_secret=b"secret", token_ttl_s=3600
    )
    built = World(
        tenants=MemoryTenantStore(),
        history=history,
        skills=skills,
        log=log,
        analytics=analytics,
        sessions=sessions,
        conversation=ConversationService(
            sessions=sessions,
            history=history,
            skills=skills,
            log=log,
            analytics=analytics,
            settings=Settings(data_dir=tmp_path, log_stdout=False, warmup=False),
        ),
        handoffs=HandoffService(sessions=sessions, history=history, analytics=analytics),
    )
    built.tenants.create_tenant(
        Tenant(tenant_id="bank", responses={"card_arrival": CARD_ANSWER}, handoff_after=2)
    )
    return built


@pytest.fixture
def services(tmp_path: Path) -> World:
    return world(tmp_path)


def script(services: Services, **answers: dict[str, Any] | Exception) -> None:
    assert isinstance(services.skills, ScriptedSkills)
    services.skills.script.update(answers)


def turn(services: Services, session_id: str, text: str) -> ChatReply:
    tenant = services.tenants.get_tenant(tenant_id="bank")
    state = services.sessions.require(tenant_id="bank", session_id=session_id)
    return asyncio.run(services.conversation.handle_turn(tenant=tenant, state=state, text=text))


def new_session(services: Services) -> str:
    return services.sessions.create(tenant_id="bank").session_id


def test_a_confident_intent_answers_and_the_turn_is_stored_and_logged(
    services: Services,
) -> None:
    session = new_session(services)
    script(services, intent=intent("card_arrival", 0.93), retrieval=hits(0.9))
    reply = turn(services, session, "my card hasn't arrived, mail me at jo@example.com")
    assert (reply.source, reply.intent, reply.text) == (Source.INTENT, "card_arrival", CARD_ANSWER)
    stored = services.history.list_messages(tenant_id="bank", session_id=session).items
    assert [m.role for m in stored] == [Role.USER, Role.BOT]
    assert stored[1].message_id == reply.message_id
    assert stored[0].message_id < stored[1].message_id
    (record,) = services.log.records
    assert record.source is Source.INTENT and record.degraded == []
    assert "jo@example.com" not in record.user_text and "[email]" in record.user_text
    assert set(record.latency_ms) >= {"intent", "retrieval"}


def test_an_intent_without_a_written_answer_falls_through_to_knowledge(
    services: Services,
) -> None:
    session = new_session(services)
    script(services, intent=intent("branch_hours", 0.95), retrieval=hits(0.7))
    reply = turn(services, session, "when are you open on saturday?")
    assert reply.source is Source.KNOWLEDGE
    assert reply.text == HOURS and reply.citations[0].doc_id == "d1"


def test_a_failing_skill_degrades_the_turn_instead_of_failing_it(services: Services) -> None:
    session = new_session(services)
    script(services, intent=SkillError("intent", "boom"), retrieval=hits(0.7))
    reply = turn(services, session, "when are you open on saturday?")
    assert reply.source is Source.KNOWLEDGE
    (record,) = services.log.records
    assert record.degraded == ["intent"]


def test_fallbacks_in_a_row_hand_the_session_to_a_human(services: Services) -> None:
    session = new_session(services)
    script(
        services,
        intent=SkillTimeout("intent", "slow"),
        retrieval=SkillTimeout("retrieval", "slow"),
    )
    first = turn(services, session, "blorp?")
    assert first.source is Source.FALLBACK
    second = turn(services, session, "blorp blorp?")
    assert second.source is Source.HANDOFF and second.handoff == "waiting"
    state = services.history.get_state(tenant_id="bank", session_id=session)
    assert state is not None and state.handoff == "waiting"
    # handed off: the bot stays quiet even when it would know the answer
    script(services, intent=intent("card_arrival", 0.99))
    assert turn(services, session, "where is my card").source is Source.HANDOFF


def test_the_rate_limit_refuses_a_turn_and_stores_nothing(services: Services) -> None:
    tenant = services.tenants.get_tenant(tenant_id="bank")
    services.tenants.update_tenant(tenant.model_copy(update={"turns_per_minute": 2}))
    session = new_session(services)
    turn(services, session, "one")
    turn(services, session, "two")
    with pytest.raises(RateLimited):
        turn(services, session, "three")
    stored = services.history.list_messages(tenant_id="bank", session_id=session).items
    assert [m.text for m in stored if m.role is Role.USER] == ["one", "two"]


def test_an_idempotent_retry_gets_the_same_reply_and_stores_nothing_twice(
    services: Services,
) -> None:
    session = new_session(services)
    script(services, intent=intent("card_arrival", 0.93))
    fingerprint = request_fingerprint({"session_id": session, "text": "where is my card"})

    def once(request_hash: str) -> ChatReply:
        return asyncio.run(
            services.conversation.run_idempotent(
                tenant_id="bank",
                key="retry-1",
                request_hash=request_hash,
                run=lambda claim: services.conversation.handle_turn(
                    tenant=services.tenants.get_tenant(tenant_id="bank"),
                    state=services.sessions.require(tenant_id="bank", session_id=session),
                    text="where is my card",
                    claim=claim,
                ),
            )
        )

    first, again = once(fingerprint), once(fingerprint)
    assert again == first
    assert len(services.history.list_messages(tenant_id="bank", session_id=session).items) == 2
    with pytest.raises(Conflict):
        once(request_fingerprint({"session_id": session, "text": "something else"}))
