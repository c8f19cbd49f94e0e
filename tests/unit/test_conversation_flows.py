"""Conversations over several turns through the real conversation service, on in-memory stores
and skills that answer from a script keyed by the text they are asked about: follow-ups over two
and three turns, the clarification flow both ways, small talk, suggestions from a seeded history,
and clicked suggestions in the analytics summary."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from core import analytics as counters
from core.conversation import ConversationService
from core.followups import CONTEXT_SLOT
from core.models import ChatReply, HandoffStatus, Role, Source, Tenant, TurnRecord, utcnow
from core.policy import Decision
from core.ports import SkillInvoker
from core.sessions import SessionLocks, SessionService
from core.settings import Settings
from tests.memory_stores import MemoryAnalyticsStore, MemoryHistoryStore
from tests.unit.test_conversation import MemoryLog

SATURDAY = "What are your branch opening hours on Saturday?"
RESPONSES = {
    "card_arrival": "Cards arrive in 3-5 working days.",
    "card_delivery_estimate": "Delivery takes 3-5 working days.",
    "lost_or_stolen_card": "Freeze your card in the app.",
}
TENANT = Tenant(tenant_id="bank", responses=RESPONSES, handoff_after=2)


def hours(answer: str, score: float = 0.7) -> dict[str, Any]:
    return {
        "doc_id": "contact",
        "chunk_id": "contact-3",
        "title": "Contact us and opening hours",
        "heading": "Contact us and opening hours › Branches",
        "text": "Monday to Friday 9-17. Saturday 9-13. Sunday and bank holidays: closed.",
        "score": score,
        "answer": answer,
        "anchor": "branches",
    }


class TextSkills(SkillInvoker):
    """`intent` and `retrieval` answer from scripts keyed by the text (or query) they get; an
    unscripted text is out of scope with no hits. Every event is kept."""

    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any] | Exception] = {}
        self.searches: dict[str, list[dict[str, Any]]] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def invoke(
        self, name: str, event: Mapping[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        self.events.append((name, dict(event)))
        await asyncio.sleep(0)
        if name == "intent":
            found = self.intents.get(str(event["text"]), {"intent": None, "confidence": 0.05})
            if isinstance(found, Exception):
                raise found
            return found
        return {"hits": self.searches.get(str(event["query"]), [])}

    async def invoke_async(self, name: str, event: Mapping[str, Any]) -> None:
        self.events.append((name, dict(event)))


class Chat:
    """One customer in one session of the `bank` tenant."""

    def __init__(self, tmp_path: Path, *, analytics: MemoryAnalyticsStore | None = None) -> None:
        self.skills = TextSkills()
        self.history = MemoryHistoryStore()
        self.analytics = analytics or MemoryAnalyticsStore()
        self.sessions = SessionService(
            history=self.history, locks=SessionLocks(), token_secret=b"s", token_ttl_s=60
        )
        self.service = ConversationService(
            sessions=self.sessions,
            history=self.history,
            skills=self.skills,
            log=MemoryLog(),
            analytics=self.analytics,
            settings=Settings(data_dir=tmp_path, log_stdout=False, warmup=False),
            stats_ttl_s=0,
        )
        self.session_id = self.sessions.create(tenant_id="bank").session_id

    def say(self, text: str, *, suggestion: bool = False) -> ChatReply:
        state = self.sessions.require(tenant_id="bank", session_id=self.session_id)
        return asyncio.run(
            self.service.handle_turn(tenant=TENANT, state=state, text=text, suggestion=suggestion)
        )

    def bot_messages(self) -> list[Any]:
        page = self.history.list_messages(tenant_id="bank", session_id=self.session_id)
        return [m for m in page.items if m.role is Role.BOT]


@pytest.fixture
def chat(tmp_path: Path) -> Chat:
    return Chat(tmp_path)


def test_a_follow_up_over_two_and_three_turns(chat: Chat) -> None:
    chat.skills.searches = {
        SATURDAY: [hours("Saturday: 9:00-13:00.")],
        f"{SATURDAY} and on Sunday?": [hours("Sunday and bank holidays: closed.")],
        f"{SATURDAY} and on bank holidays?": [hours("Sunday and bank holidays: closed.")],
    }
    first = chat.say(SATURDAY)
    assert (first.source, first.context_used) == (Source.KNOWLEDGE, False)
    assert first.citations[0].anchor == "branches"

    second = chat.say("and on Sunday?")
    assert (second.source, second.context_used) == (Source.KNOWLEDGE, True)
    assert second.text == "Sunday and bank holidays: closed."
    # the combined query went out in the same fan-out, with the follow-up's words as focus
    searched = [e for name, e in chat.skills.events if name == "retrieval"]
    assert searched[-1]["focus"] == "and on Sunday?"
    assert searched[-1]["query"] == f"{SATURDAY} and on Sunday?"

    third = chat.say("and on bank holidays?")  # leans on the base question, not on turn two
    assert third.context_used and "bank holidays" in third.text
    stored = chat.bot_messages()
    assert [m.metadata.get("context_used", False) for m in stored] == [False, True, True]
    assert "followup" in stored[-1].metadata["skill_latency_ms"]
    state = chat.sessions.require(tenant_id="bank", session_id=chat.session_id)
    assert state.slots[CONTEXT_SLOT]["text"] == SATURDAY


def test_a_follow_up_without_context_is_just_a_message(chat: Chat) -> None:
    reply = chat.say("and on Sunday?")
    assert reply.source is Source.FALLBACK and not reply.context_used
    assert all("focus" not in e or e["focus"] is None for _, e in chat.skills.events)


def test_a_failing_intent_skill_degrades_a_follow_up_never_the_request(chat: Chat) -> None:
    chat.skills.searches = {
        SATURDAY: [hours("Saturday: 9:00-13:00.")],
        f"{SATURDAY} and on Sunday?": [hours("Sunday and bank holidays: closed.")],
    }
    chat.say(SATURDAY)
    chat.skills.intents["and on Sunday?"] = RuntimeError("model unavailable")
    reply = chat.say("and on Sunday?")
    assert reply.context_used and reply.text == "Sunday and bank holidays: closed."
    assert chat.bot_messages()[-1].metadata["degraded"] == ["intent"]


def close_call() -> dict[str, Any]:
    return {
        "intent": None,
        "confidence": 0.38,
        "ranking": [
            {"intent": "card_arrival", "confidence": 0.38},
            {"intent": "card_delivery_estimate", "confidence": 0.33},
        ],
    }


def test_the_clarification_flow_choosing_an_option(chat: Chat) -> None:
    chat.skills.intents["where's my card"] = close_call()
    asked = chat.say("where's my card")
    assert asked.source is Source.CLARIFY
    assert asked.suggestions == ["Card arrival", "Card delivery estimate"]
    chosen = chat.say("Card delivery estimate", suggestion=True)
    assert (chosen.source, chosen.intent) == (Source.INTENT, "card_delivery_estimate")
    assert chosen.text == RESPONSES["card_delivery_estimate"]


def test_the_clarification_flow_rejecting_both_leads_to_a_handoff(chat: Chat) -> None:
    chat.skills.intents["where's my card"] = close_call()
    chat.skills.intents["neither"] = {
        "intent": None,
        "confidence": 0.1,
        "acts": [{"act": "deny", "confidence": 0.99}],
        "small_talk": True,
    }
    assert chat.say("where's my card").source is Source.CLARIFY
    rejected = chat.say("neither")
    assert rejected.source is Source.FALLBACK
    handed = chat.say("blah")
    assert handed.source is Source.HANDOFF and handed.handoff is HandoffStatus.WAITING


def test_small_talk_and_a_mixed_message(chat: Chat) -> None:
    chat.skills.intents["hello"] = {
        "intent": None,
        "confidence": 0.1,
        "acts": [{"act": "greet", "confidence": 0.99}],
        "small_talk": True,
    }
    chat.skills.intents["hi, my card was stolen"] = {
        "intent": "lost_or_stolen_card",
        "confidence": 0.95,
        "acts": [{"act": "greet", "confidence": 0.99}],
        "request_text": "my card was stolen",
    }
    greeting = chat.say("hello")
    assert (greeting.source, greeting.intent) == (Source.SMALL_TALK, "greet")
    answered = chat.say("hi, my card was stolen")
    assert (answered.source, answered.intent) == (Source.INTENT, "lost_or_stolen_card")
    assert chat.bot_messages()[-1].metadata["acts"] == ["greet"]


def seed(store: MemoryAnalyticsStore, previous: str, topic: str, times: int) -> None:
    for _ in range(times):
        counters.record_turn(
            store,
            record=TurnRecord(
                tenant_id="bank",
                session_id="old",
                user_text="q",
                bot_text="a",
                source=Source.INTENT,
                timestamp=utcnow(),
            ),
            decision=Decision(text="a", source=Source.INTENT, topic=topic),
            first_turn=False,
            previous_topic=previous,
        )


def test_suggestions_from_a_seeded_history_and_clicks_in_the_summary(tmp_path: Path) -> None:
    store = MemoryAnalyticsStore()
    seed(store, "Lost or stolen card", "Card arrival", 4)
    seed(store, "Lost or stolen card", "Contact us and opening hours", 2)
    chat = Chat(tmp_path, analytics=store)
    chat.skills.intents["I lost my card"] = {
        "intent": "lost_or_stolen_card",
        "confidence": 0.93,
        "ranking": [
            {"intent": "lost_or_stolen_card", "confidence": 0.93},
            {"intent": "card_delivery_estimate", "confidence": 0.02},
        ],
    }
    chat.skills.intents["Card arrival"] = {"intent": "card_arrival", "confidence": 0.9}
    reply = chat.say("I lost my card")
    assert reply.suggestions == [
        "Card arrival",
        "Contact us and opening hours",
        "Card delivery estimate",
    ]
    chat.say("Card arrival")  # typed exactly as offered: a click, without the widget's flag
    today = utcnow().date()
    summary = counters.summarize(analytics=store, tenant_id="bank", start=today, end=today)
    assert summary["suggestion_clicks"] == 1
    assert summary["suggestions_clicked"] == [{"suggestion": "Card arrival", "count": 1}]
    # this session's own move is counted for the next customers
    stats = asyncio.run(chat.service._topics("bank"))
    assert stats is not None and stats.next_after("Lost or stolen card")[0] == "Card arrival"
