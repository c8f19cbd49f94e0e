"""The conversing parts of the policy as tables: small talk, mixed messages, follow-ups, the
clarification flow both ways, suggestions, and the bounded context the session keeps."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from core.dialogue_acts import DEFAULT_RESPONSES, act_response, main_act
from core.followups import CONTEXT_SLOT, MAX_CONTEXT_CHARS
from core.models import HandoffStatus, SessionState, Source, Tenant, utcnow
from core.policy import (
    CLARIFY_SLOT,
    REJECTED,
    Decision,
    FollowUp,
    apply_decision,
    decide,
    resolve_choice,
)
from core.skill_contracts import Hit, IntentResult
from core.suggestions import TopicStats, turn_topic_counts

RESPONSES = {
    "lost_or_stolen_card": "Freeze your card in the app.",
    "card_arrival": "Cards arrive in 3-5 working days.",
    "card_delivery_estimate": "Delivery takes 3-5 working days.",
    "terminate_account": "Close your account in Profile.",
    "getting_spare_card": "A spare card costs £5.",
}
TENANT = Tenant(tenant_id="bank", responses=RESPONSES, handoff_after=2, knowledge_threshold=0.45)
HOURS = "Monday to Friday 9:00-17:00. Saturday 9:00-13:00. Sunday: closed."


def state(**kw: Any) -> SessionState:
    return SessionState(tenant_id="bank", session_id="s_1", **kw)


def understood(
    intent: str | None = None,
    confidence: float = 0.1,
    *,
    ranking: list[tuple[str, float]] | None = None,
    acts: list[str] | None = None,
    small_talk: bool = False,
    request: str | None = None,
) -> IntentResult:
    """What the intent skill returns (`acts` with confidence 0.99 each)."""
    rows = ranking if ranking is not None else ([(intent, confidence)] if intent else [])
    return IntentResult.model_validate(
        {
            "intent": intent,
            "confidence": confidence,
            "ranking": [{"intent": n, "confidence": c} for n, c in rows],
            "acts": [{"act": a, "confidence": 0.99} for a in acts or []],
            "small_talk": small_talk,
            "request_text": request,
        }
    )


def hit(score: float, doc: str = "hours", title: str = "Opening hours", **kw: Any) -> Hit:
    return Hit(doc_id=doc, chunk_id=f"{doc}-0", title=title, text=HOURS, score=score, **kw)


def turn(text: str, intent: IntentResult | None, hits: list[Hit] | None = None, **kw: Any) -> Any:
    return decide(
        tenant=kw.pop("tenant", TENANT),
        state=kw.pop("state", state()),
        text=text,
        intent_result=intent,
        hits=hits or [],
        **kw,
    )


# --------------------------------------------------------------------------- dialogue acts

ACT_TABLE = [
    # (message, what the intent skill found, expected source, expected intent, reply contains)
    ("hello", understood(None, 0.11, acts=["greet"], small_talk=True), Source.SMALL_TALK, "greet",
     "How can I help"),
    ("thanks, bye", understood("terminate_account", 0.55, acts=["thanks", "goodbye"],
     small_talk=True), Source.SMALL_TALK, "goodbye", "Goodbye"),
    ("great, thank you", understood(None, 0.2, acts=["affirm", "thanks"], small_talk=True),
     Source.SMALL_TALK, "thanks", "You're welcome"),
    ("are you a bot?", understood(None, 0.15, acts=["are_you_a_bot"], small_talk=True),
     Source.SMALL_TALK, "are_you_a_bot", "virtual assistant"),
    ("hi, are you human?", understood(None, 0.15, acts=["greet", "are_you_a_bot"],
     small_talk=True), Source.SMALL_TALK, "are_you_a_bot", "not a person"),
    ("you're useless", understood(None, 0.37, acts=["abuse"], small_talk=True),
     Source.SMALL_TALK, "abuse", "frustrating"),
    ("yes", understood(None, 0.18, acts=["affirm"], small_talk=True), Source.SMALL_TALK,
     "affirm", "anything else"),
    ("no", understood(None, 0.12, acts=["deny"], small_talk=True), Source.SMALL_TALK, "deny",
     "anything else"),
    # a request in the message is answered for the request
    ("hi, my card was stolen", understood("lost_or_stolen_card", 0.95, acts=["greet"],
     request="my card was stolen"), Source.INTENT, "lost_or_stolen_card", "Freeze your card"),
    ("card stolen", understood("lost_or_stolen_card", 0.94), Source.INTENT,
     "lost_or_stolen_card", "Freeze your card"),
    ("thanks, and how do I close my account?", understood("terminate_account", 0.9,
     acts=["thanks"], request="how do I close my account"), Source.INTENT, "terminate_account",
     "Profile"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "intent", "source", "name", "reply"), ACT_TABLE)
def test_dialogue_acts(
    text: str, intent: IntentResult, source: Source, name: str, reply: str
) -> None:
    decision = turn(text, intent, [hit(0.2)])
    assert (decision.source, decision.intent) == (source, name)
    assert reply in decision.text


def test_what_can_you_do_lists_the_tenants_topics() -> None:
    asked = understood(None, 0.6, acts=["what_can_you_do"], small_talk=True)
    listed = Tenant(tenant_id="bank", responses=RESPONSES, topics=["Cards", "Transfers"])
    decision = turn("what can you do?", asked, tenant=listed)
    assert decision.source is Source.SMALL_TALK and "cards and transfers" in decision.text
    assert decision.suggestions == ["Cards", "Transfers"]
    # without a list: the most asked topics, then the first written answers
    stats = TopicStats.from_counts(
        {date(2026, 1, 1): turn_topic_counts(previous=None, topic="Card arrival", clicked=None)}
    )
    decision = turn("what can you do?", asked, stats=stats)
    assert decision.suggestions == ["Card arrival", "Lost or stolen card", "Card delivery estimate"]


def test_small_talk_neither_answers_nor_counts_as_a_fallback() -> None:
    greeting = understood(acts=["greet"], small_talk=True)
    decision = turn("hi", greeting, state=state(consecutive_fallbacks=1))
    assert decision.consecutive_fallbacks == 1 and decision.handoff is HandoffStatus.NONE


def test_the_tenant_overrides_an_acts_response_and_its_language_picks_the_default() -> None:
    german = Tenant(tenant_id="bank", language="de")
    assert act_response(tenant=german, act="greet") == DEFAULT_RESPONSES["de"]["greet"]
    own = Tenant(tenant_id="bank", act_responses={"greet": "Ahoy!"}, language="fr")
    assert turn("hi", understood(acts=["greet"], small_talk=True), tenant=own).text == "Ahoy!"
    unknown = Tenant(tenant_id="bank", language="xx")
    assert act_response(tenant=unknown, act="thanks") == DEFAULT_RESPONSES["en"]["thanks"]


def test_a_tenant_intent_with_an_acts_name_wins() -> None:
    own = Tenant(tenant_id="bank", responses={**RESPONSES, "greet": "Welcome to Acme Bank!"})
    modelled = understood("greet", 0.9, acts=["greet"], small_talk=True)
    decision = turn("hello", modelled, tenant=own)
    assert (decision.source, decision.intent, decision.text) == (
        Source.INTENT,
        "greet",
        "Welcome to Acme Bank!",
    )
    # its response answers even when its model did not pick it
    decision = turn("hiya", understood(None, 0.2, acts=["greet"], small_talk=True), tenant=own)
    assert decision.text == "Welcome to Acme Bank!"


def test_main_act_prefers_the_closing_act() -> None:
    assert main_act(["thanks", "goodbye"]) == "goodbye"
    assert main_act(["greet", "what_can_you_do"]) == "what_can_you_do"
    assert main_act([]) is None


# --------------------------------------------------------------------------- follow-ups


def test_a_follow_up_uses_the_previous_question_when_alone_it_is_not_confident() -> None:
    sunday = hit(0.62, answer="Sunday: closed.", anchor="branches", heading="Hours › Branches")
    followup = FollowUp(
        query="What are your opening hours on Saturday? and on Sunday?",
        intent_result=understood(None, 0.2),
        hits=[sunday],
    )
    before = state(slots={CONTEXT_SLOT: {"text": "What are your opening hours on Saturday?"}})
    decision = turn(
        "and on Sunday?", understood(None, 0.2), [hit(0.3)], state=before, followup=followup
    )
    assert decision.source is Source.KNOWLEDGE and decision.context_used
    assert decision.text == "Sunday: closed."
    assert decision.citations[0].anchor == "branches"
    # what later follow-ups lean on stays the base question, not the follow-up
    after = apply_decision(state=before, decision=decision, now=utcnow())
    assert after.slots[CONTEXT_SLOT]["text"] == "What are your opening hours on Saturday?"


def test_a_follow_up_can_reach_an_intent_through_the_context() -> None:
    followup = FollowUp(
        query="can I get a spare card how much is it?",
        intent_result=understood("getting_spare_card", 0.86),
    )
    before = state(slots={CONTEXT_SLOT: {"text": "can I get a spare card"}})
    decision = turn("how much is it?", understood(None, 0.3), followup=followup, state=before)
    assert (decision.source, decision.intent, decision.context_used) == (
        Source.INTENT,
        "getting_spare_card",
        True,
    )


def test_a_message_confident_alone_does_not_use_the_context() -> None:
    followup = FollowUp(query="x what about visa?", intent_result=understood("card_arrival", 0.9))
    decision = turn("what about my card?", understood("card_arrival", 0.93), followup=followup)
    assert decision.source is Source.INTENT and not decision.context_used


def test_the_context_stays_small_whatever_the_conversation() -> None:
    current = state()
    for i in range(50):
        decision = Decision(
            text="answer",
            source=Source.KNOWLEDGE,
            topic="T" * 500,
            doc_id="doc",
            context_text=f"question {i} " + "x" * 2000,
            suggestions=["s" * 400] * 5,
        )
        current = apply_decision(state=current, decision=decision, now=utcnow())
    context = current.slots[CONTEXT_SLOT]
    assert len(context["text"]) <= MAX_CONTEXT_CHARS and len(context["offered"]) == 3
    assert len(json.dumps(current.slots)) < 1200


# --------------------------------------------------------------------------- clarification

CLOSE = understood(
    None,
    0.38,
    ranking=[("card_arrival", 0.38), ("card_delivery_estimate", 0.31), ("terminate_account", 0.1)],
)


def clarified() -> SessionState:
    decision = turn("where's my card", CLOSE, [hit(0.2)])
    assert decision.source is Source.CLARIFY
    assert decision.text == "Did you mean “Card arrival” or “Card delivery estimate”?"
    assert decision.suggestions == ["Card arrival", "Card delivery estimate"]
    assert decision.consecutive_fallbacks == 0
    return apply_decision(state=state(), decision=decision, now=utcnow())


@pytest.mark.parametrize(
    ("reply", "acts", "intent"),
    [
        ("Card delivery estimate", [], "card_delivery_estimate"),
        ("card arrival", [], "card_arrival"),
        ("2", [], "card_delivery_estimate"),
        ("the first one", [], "card_arrival"),
        ("yes", ["affirm"], "card_arrival"),
    ],
)
def test_choosing_an_option_answers_it(reply: str, acts: list[str], intent: str) -> None:
    pending = clarified()
    answer = understood(None, 0.2, acts=acts, small_talk=bool(acts))
    decision = turn(reply, answer, state=pending)
    assert (decision.source, decision.intent) == (Source.INTENT, intent)
    assert decision.text == RESPONSES[intent]
    after = apply_decision(state=pending, decision=decision, now=utcnow())
    assert CLARIFY_SLOT not in after.slots
    assert after.slots[CONTEXT_SLOT]["text"] == "where's my card"


@pytest.mark.parametrize(
    ("reply", "acts"), [("neither", ["deny"]), ("no", ["deny"]), ("none of them", [])]
)
def test_rejecting_both_counts_as_a_fallback_toward_handoff(reply: str, acts: list[str]) -> None:
    pending = clarified()
    first = turn(reply, understood(None, 0.1, acts=acts, small_talk=bool(acts)), state=pending)
    assert first.source is Source.FALLBACK and first.consecutive_fallbacks == 1
    after = apply_decision(state=pending, decision=first, now=utcnow())
    assert CLARIFY_SLOT not in after.slots
    again = turn("???", understood(None, 0.05), state=after)
    assert again.source is Source.HANDOFF and again.handoff is HandoffStatus.WAITING


def test_a_new_question_after_a_clarification_is_answered_as_usual() -> None:
    decision = turn("I lost my card", understood("lost_or_stolen_card", 0.9), state=clarified())
    assert decision.intent == "lost_or_stolen_card"


@pytest.mark.parametrize(
    "ranking",
    [
        [("card_arrival", 0.55), ("card_delivery_estimate", 0.2)],  # not close
        [("card_arrival", 0.19), ("card_delivery_estimate", 0.12)],  # a flat, out-of-scope one
        [("card_arrival", 0.3), ("not_answered", 0.25)],  # the second has no response
    ],
)
def test_no_clarification_without_two_close_plausible_intents(
    ranking: list[tuple[str, float]],
) -> None:
    decision = turn("hmm", understood(None, ranking[0][1], ranking=ranking))
    assert decision.source is Source.FALLBACK


def test_a_knowledge_answer_comes_before_a_clarification() -> None:
    assert turn("where's my card", CLOSE, [hit(0.6)]).source is Source.KNOWLEDGE


def test_resolve_choice_of_something_else_is_none() -> None:
    pending = {"options": ["a_b", "c_d"], "labels": ["A b", "C d"]}
    assert resolve_choice(pending, "what are your opening hours", []) is None
    assert resolve_choice(pending, "neither", []) == REJECTED
    assert resolve_choice(pending, "the last one", []) == 1


# --------------------------------------------------------------------------- suggestions


def seeded(*transitions: tuple[str, str, int]) -> TopicStats:
    counts: dict[str, int] = {}
    for before, after, times in transitions:
        for key, value in turn_topic_counts(previous=before, topic=after, clicked=None).items():
            counts[key] = counts.get(key, 0) + value * times
    return TopicStats.from_counts({date(2026, 1, 1): counts})


def test_suggestions_come_from_what_customers_asked_next() -> None:
    stats = seeded(
        ("Lost or stolen card", "Card arrival", 5),
        ("Lost or stolen card", "Card delivery estimate", 3),
        ("Lost or stolen card", "Opening hours", 1),  # seen once: anecdote
        ("Card arrival", "Terminate account", 9),  # after another topic
    )
    ranked = understood(
        "lost_or_stolen_card",
        0.95,
        ranking=[("lost_or_stolen_card", 0.95), ("getting_spare_card", 0.03)],
    )
    decision = turn("my card was stolen", ranked, stats=stats)
    assert decision.suggestions == ["Card arrival", "Card delivery estimate", "Getting spare card"]


def test_without_history_suggestions_are_semantic_neighbours() -> None:
    ranked = understood(
        "lost_or_stolen_card",
        0.9,
        ranking=[("lost_or_stolen_card", 0.9), ("card_arrival", 0.04), ("unanswered", 0.03)],
    )
    pages = [hit(0.55, "cards", "Your card"), hit(0.2, "fees", "Fees")]
    decision = turn("my card was stolen", ranked, pages)
    assert decision.suggestions == ["Card arrival", "Your card"]


def test_a_fallback_never_suggests_random_topics() -> None:
    weather = understood(
        None, 0.19, ranking=[("card_delivery_estimate", 0.19), ("card_arrival", 0.12)]
    )
    decision = turn("what's the weather tomorrow", weather, [hit(0.18), hit(0.15, "fees")])
    assert decision.source is Source.FALLBACK and decision.suggestions == []
    # plausible neighbours are offered
    close = understood(None, 0.3, ranking=[("card_arrival", 0.3), ("lost_or_stolen_card", 0.05)])
    decision = turn("card?", close, [hit(0.4, "cards", "Your card")])
    assert decision.suggestions == ["Card arrival", "Your card"]
