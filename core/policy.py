"""The conversation policy (DESIGN.md): pure functions from what the skills found to the bot's
decision, and from a decision to the next session state. No I/O; unit-tested as a table.

Order of precedence:

1. The session is already handed off (waiting for or talking to an agent): the bot stays quiet.
   The user's message is still stored, and the reply is `source=handoff` with the short
   `AGENT_WILL_REPLY` text (not empty, so a widget always has something to show).
2. The customer asks for a human (`wants_human`; not "are you human?", the are_you_a_bot act):
   hand off now.
3. The previous reply asked "Did you mean …?": choosing an option (its text, its number, "the
   first one", or yes for the first) answers that intent; rejecting both ("no", "neither")
   counts as a fallback toward handoff; anything else is a new question.
4. A message that is only small talk (the intent skill's dialogue-act model: greet, thanks,
   goodbye, are_you_a_bot, what_can_you_do, affirm, deny, abuse) gets the act's response
   (`source=small_talk`; the tenant's override, else its language's default). A tenant intent
   of the same name wins. A message with a request in it goes on, with the request part.
5. A confident intent (accepted by the model, score ≥ `intent_threshold`) with a configured
   response answers; then, for a follow-up ("and on Sunday?") whose message alone is not
   confident, the intent and knowledge found for it read with the previous question
   (`context_used`).
6. The best knowledge hit scoring ≥ `knowledge_threshold` (its dense cosine similarity) answers
   with the passage the retrieval skill selected for the question (its best sentences, or the
   FAQ pair's answer), trimmed to a readable length, and a citation to its section.
7. When the two best intents are close and neither is confident: "Did you mean …?" with both as
   suggestions (`source=clarify`; it does not count as a fallback).
8. Otherwise the fallback text; the `handoff_after`-th fallback in a row hands off instead.

Suggestions: what other customers asked next after the same topic (`core.suggestions`), else
semantic neighbours of the message (the intent model's next-best intents and the other pages
retrieval found close to it, above a floor), never popular topics picked at random.

A turn with an image (`image`: the vision skill's best label and its score) is answered first by
the tenant's response for that label (`Tenant.image_responses`, `source=image`) when the score
reaches `Tenant.image_threshold`, unless the session is handed off or the customer asks for a
human; otherwise the text decides as above, and a fallback says what the bot saw
(`mention_image`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from core.dialogue_acts import (
    AFFIRM,
    ARE_YOU_A_BOT,
    DENY,
    WHAT_CAN_YOU_DO,
    act_response,
    main_act,
)
from core.followups import CONTEXT_SLOT, MAX_OFFERED, MAX_OFFERED_CHARS, clip, context_of
from core.models import Citation, HandoffStatus, SessionState, Source, Tenant, is_handed_off
from core.skill_contracts import Hit, IntentResult, RankedIntent
from core.suggestions import TopicStats

AGENT_WILL_REPLY = "Thanks, your message was passed on. An agent will reply here shortly."
MAX_ANSWER_CHARS = 600
MAX_SUGGESTIONS = 3
RATE_WINDOW = timedelta(minutes=1)
CLARIFY_SLOT = "clarify"
CLARIFY_MARGIN = 0.15  # top-2 intents this close ...
CLARIFY_MIN_TOP = 0.25  # ... the best at least this likely, the second at least CLARIFY_MIN,
CLARIFY_MIN = 0.15  # ... and both together holding CLARIFY_MIN_PAIR of the probability:
CLARIFY_MIN_PAIR = 0.45  # ask which one was meant (a flat ranking is out of scope, not a doubt)
NEIGHBOUR_MIN_INTENT = 0.01  # next-best intents offered beside an intent's answer
NEIGHBOUR_MIN_SCORE = 0.35  # other pages offered (cosine), beside an answer or a fallback
PLAUSIBLE_INTENT = 0.25  # intents offered beside a knowledge answer or a fallback: this likely

# Small on purpose: phrases that mean "let me talk to a person".
_HUMAN_RE = re.compile(
    r"\b("
    r"(live |human |real |customer service |support )?agent"
    r"|human( being)?"
    r"|(real|actual|live) (person|people|human)"
    r"|(talk|speak|chat) (to|with) (someone|somebody|a person|a human|a people|staff|support)"
    r"|representative|operator"
    r")\b",
    re.IGNORECASE,
)
_FIRST = frozenset({"1", "1st", "first", "the first", "the first one", "first one", "former"})
_FIRST |= {"option 1", "number 1", "the former", "the 1st", "one", "the top one"}
_SECOND = frozenset({"2", "2nd", "second", "the second", "the second one", "second one"})
_SECOND |= {"option 2", "number 2", "latter", "the latter", "the 2nd", "two", "the other one"}
_SECOND |= {"last", "the last", "the last one", "last one", "the bottom one"}
_NEITHER = frozenset(
    {"no", "nope", "neither", "neither one", "neither of them", "neither of those", "none"}
    | {"none of them", "none of those", "none of these", "something else", "other"}
)
_PUNCT = re.compile(r"[^\w\s]+")


def wants_human(text: str) -> bool:
    """Whether the customer asks for a human."""
    return _HUMAN_RE.search(text) is not None


@dataclass(frozen=True)
class FollowUp:
    """What the skills found for a follow-up read with the previous question (`query`)."""

    query: str
    intent_result: IntentResult | None
    hits: Sequence[Hit] = ()


@dataclass(frozen=True)
class Decision:
    """What the bot answers, and how the session's handoff state and context move."""

    text: str
    source: Source
    intent: str | None = None
    confidence: float | None = None
    citations: list[Citation] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    handoff: HandoffStatus = HandoffStatus.NONE
    handoff_reason: str | None = None
    consecutive_fallbacks: int = 0
    quiet: bool = False  # the session was already handed off: the bot only acknowledged
    topic: str | None = None  # the answered topic's label (an intent's name, a page's title)
    doc_id: str | None = None
    context_used: bool = False
    context_text: str | None = None  # what later follow-ups lean on (None: keep the old one)
    pending: dict[str, Any] | None = None  # an open "Did you mean …?"
    acts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImageFinding:
    """What the vision skill saw in a turn's image: its best label and that label's score."""

    label: str
    score: float


def _image_answer(
    *,
    tenant: Tenant,
    state: SessionState,
    text: str,
    image: ImageFinding,
    intent: IntentResult | None,
    stats: TopicStats | None,
) -> Decision | None:
    """The tenant's response to a confidently seen label, or None (the text decides)."""
    if is_handed_off(state) or wants_human(text) or image.score < tenant.image_threshold:
        return None
    response = tenant.image_responses.get(image.label)
    if not response:
        return None
    return Decision(
        text=response,
        source=Source.IMAGE,
        intent=intent.intent if intent else None,
        confidence=intent.confidence if intent else None,
        suggestions=suggest(
            tenant=tenant, topic=None, intent=intent, hits=(), stats=stats, plausible_only=True
        ),
    )


def mention_image(*, tenant: Tenant, decision: Decision, image: ImageFinding | None) -> Decision:
    """A fallback reply that also says what the bot saw in the image (when it is confident)."""
    if (
        image is None
        or decision.source is not Source.FALLBACK
        or image.score < tenant.image_threshold
    ):
        return decision
    seen = humanize(image.label).lower()
    return replace(decision, text=f"I can see {seen} in your picture. {decision.text}")


def humanize(name: str) -> str:
    """`track_order` / `card-arrival` → `Track order`."""
    words = re.sub(r"[_\-.?]+", " ", name).strip()
    return words[:1].upper() + words[1:]


def trim_passage(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """A passage cut to `limit` characters at a sentence (else word) boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    sentence_end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if sentence_end >= limit // 3:
        return cut[: sentence_end + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(",;:") + "…"


# --------------------------------------------------------------------------- suggestions


def _ranked(intent: IntentResult | None) -> list[RankedIntent]:
    return sorted(intent.ranking, key=lambda r: r.confidence, reverse=True) if intent else []


def _neighbour_intents(
    tenant: Tenant, intent: IntentResult | None, *, floor: float, exclude: str | None
) -> list[str]:
    return [
        humanize(r.intent)
        for r in _ranked(intent)
        if r.intent != exclude and r.intent in tenant.responses and r.confidence >= floor
    ]


def _neighbour_pages(hits: Sequence[Hit], *, exclude_doc: str | None) -> list[str]:
    return [
        h.title.strip()
        for h in sorted(hits, key=lambda h: h.score, reverse=True)
        if h.title.strip() and h.doc_id != exclude_doc and h.score >= NEIGHBOUR_MIN_SCORE
    ]


def _pick(candidates: Sequence[str], *, exclude: Sequence[str | None]) -> list[str]:
    seen = {e.casefold() for e in exclude if e}
    out: list[str] = []
    for label in candidates:
        key = label.casefold()
        if label and key not in seen:
            seen.add(key)
            out.append(label)
    return out[:MAX_SUGGESTIONS]


def suggest(
    *,
    tenant: Tenant,
    topic: str | None,
    intent: IntentResult | None,
    hits: Sequence[Hit],
    stats: TopicStats | None,
    exclude_intent: str | None = None,
    exclude_doc: str | None = None,
    pages_first: bool = False,
    plausible_only: bool = False,
) -> list[str]:
    """Up to three suggestions: what customers asked next after `topic`, then semantic
    neighbours of the message: the intent model's next-best intents (beside a knowledge answer or
    a fallback only plausible ones: the model's ranking of a message it did not understand is
    noise) and the other pages found close to it. Never random topics."""
    following = stats.next_after(topic, limit=MAX_SUGGESTIONS) if stats and topic else []
    floor = PLAUSIBLE_INTENT if plausible_only else NEIGHBOUR_MIN_INTENT
    intents = _neighbour_intents(tenant, intent, floor=floor, exclude=exclude_intent)
    pages = _neighbour_pages(hits, exclude_doc=exclude_doc)
    neighbours = pages + intents if pages_first else intents + pages
    return _pick([*following, *neighbours], exclude=[topic])


def top_topics(tenant: Tenant, stats: TopicStats | None, limit: int = 5) -> list[str]:
    """What "what can you do?" lists: the tenant's own list, else its most asked topics, else
    its first written responses."""
    if tenant.topics:
        return tenant.topics[:limit]
    asked = stats.top(limit) if stats else []
    if len(asked) >= limit:
        return asked
    return _pick([*asked, *(humanize(i) for i in tenant.responses)], exclude=[])[:limit] or []


# --------------------------------------------------------------------------- clarification


def _normal(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.casefold()).split())


def pending_clarification(state: SessionState) -> dict[str, Any] | None:
    found = state.slots.get(CLARIFY_SLOT)
    if isinstance(found, dict) and isinstance(found.get("options"), list) and found["options"]:
        return found
    return None


REJECTED = -1


def resolve_choice(pending: dict[str, Any], text: str, acts: Sequence[str]) -> int | None:
    """Which option of an open "Did you mean …?" the message picks (0, 1, …), `REJECTED` when it
    turns them all down, None when it is something else (a new question)."""
    norm = _normal(text)
    options = [str(o) for o in pending.get("options", [])]
    labels = [str(lbl) for lbl in pending.get("labels", [])]
    for i, option in enumerate(options):
        names = {_normal(option), _normal(humanize(option))}
        if i < len(labels):
            names.add(_normal(labels[i]))
        if norm in names:
            return i
    stripped = re.sub(r"^(yes|yeah|yep|ok|okay|sure|i meant|i mean)\s+", "", norm)
    if stripped in _FIRST:
        return 0
    if stripped in _SECOND and len(options) > 1:
        return (
            1
            if stripped not in {"last", "the last", "the last one", "last one"}
            else (len(options) - 1)
        )
    if norm in _NEITHER or DENY in acts:
        return REJECTED
    if AFFIRM in acts:
        return 0
    return None


def _clarify(
    tenant: Tenant, state: SessionState, intent: IntentResult | None, asked: str
) -> Decision | None:
    ranked = [r for r in _ranked(intent) if r.intent in tenant.responses]
    if len(ranked) < 2:
        return None
    first, second = ranked[0], ranked[1]
    if (
        first.confidence - second.confidence > CLARIFY_MARGIN
        or first.confidence < CLARIFY_MIN_TOP
        or second.confidence < CLARIFY_MIN
        or first.confidence + second.confidence < CLARIFY_MIN_PAIR
    ):
        return None
    labels = [humanize(first.intent), humanize(second.intent)]
    return Decision(
        text=f"Did you mean “{labels[0]}” or “{labels[1]}”?",
        source=Source.CLARIFY,
        confidence=first.confidence,
        suggestions=labels,
        consecutive_fallbacks=state.consecutive_fallbacks,
        pending={
            "options": [first.intent, second.intent],
            "labels": labels,
            "confidences": [round(first.confidence, 4), round(second.confidence, 4)],
            "asked": clip(asked),
        },
    )


# --------------------------------------------------------------------------- answers


def confident_intent(tenant: Tenant, intent: IntentResult | None) -> bool:
    """The intent answers on its own: the model accepted it, its score reaches the tenant's
    threshold, and the tenant wrote a response for it (then no follow-up reading is needed)."""
    return bool(
        intent
        and intent.intent
        and intent.confidence >= tenant.intent_threshold
        and tenant.responses.get(intent.intent)
    )


def _intent_answer(
    tenant: Tenant,
    intent: IntentResult,
    hits: Sequence[Hit],
    stats: TopicStats | None,
    *,
    context_text: str,
    context_used: bool = False,
) -> Decision:
    name = intent.intent or ""
    topic = humanize(name)
    return Decision(
        text=tenant.responses[name],
        source=Source.INTENT,
        intent=name,
        confidence=intent.confidence,
        suggestions=suggest(
            tenant=tenant, topic=topic, intent=intent, hits=hits, stats=stats, exclude_intent=name
        ),
        topic=topic,
        context_used=context_used,
        context_text=context_text,
    )


def _best_hit(tenant: Tenant, hits: Sequence[Hit]) -> Hit | None:
    """The first hit, in the retrieval skill's ranking (dense and lexical fused, best first),
    whose cosine `score` reaches the tenant's `knowledge_threshold`."""
    return next((h for h in hits if h.score >= tenant.knowledge_threshold), None)


def _knowledge_answer(
    tenant: Tenant,
    best: Hit,
    intent: IntentResult | None,
    hits: Sequence[Hit],
    stats: TopicStats | None,
    *,
    context_text: str,
    context_used: bool = False,
) -> Decision | None:
    passage = trim_passage(best.answer or best.text)
    if not passage:
        return None
    topic = best.title.strip() or None
    citation = Citation(
        doc_id=best.doc_id,
        title=best.title,
        chunk_id=best.chunk_id,
        score=best.score,
        snippet=passage[:200],
        heading=best.heading,
        anchor=best.anchor,
    )
    return Decision(
        text=passage,
        source=Source.KNOWLEDGE,
        intent=intent.intent if intent else None,
        confidence=intent.confidence if intent else None,
        citations=[citation],
        suggestions=suggest(
            tenant=tenant,
            topic=topic,
            intent=intent,
            hits=hits,
            stats=stats,
            exclude_doc=best.doc_id,
            pages_first=True,
            plausible_only=True,
        ),
        topic=topic,
        doc_id=best.doc_id,
        context_used=context_used,
        context_text=context_text,
    )


def _fallback(
    tenant: Tenant,
    state: SessionState,
    intent: IntentResult | None,
    hits: Sequence[Hit],
    *,
    reason: str = "fallbacks in a row",
) -> Decision:
    name = intent.intent if intent else None
    confidence = intent.confidence if intent else None
    fallbacks = state.consecutive_fallbacks + 1
    if fallbacks >= tenant.handoff_after:
        return Decision(
            text=tenant.handoff_text,
            source=Source.HANDOFF,
            intent=name,
            confidence=confidence,
            handoff=HandoffStatus.WAITING,
            handoff_reason=f"{fallbacks} {reason}",
            consecutive_fallbacks=fallbacks,
        )
    return Decision(
        text=tenant.fallback_text,
        source=Source.FALLBACK,
        intent=name,
        confidence=confidence,
        suggestions=suggest(
            tenant=tenant, topic=None, intent=intent, hits=hits, stats=None, plausible_only=True
        ),
        consecutive_fallbacks=fallbacks,
    )


def decide(
    *,
    tenant: Tenant,
    state: SessionState,
    text: str,
    intent_result: IntentResult | None,
    hits: Sequence[Hit],
    image: ImageFinding | None = None,
    followup: FollowUp | None = None,
    stats: TopicStats | None = None,
) -> Decision:
    """The bot's reply to `text` given the skills' results (None / [] when a skill failed)."""
    if image is not None:
        seen = _image_answer(
            tenant=tenant, state=state, text=text, image=image, intent=intent_result, stats=stats
        )
        if seen is not None:
            return seen
    if is_handed_off(state):
        return Decision(
            text=AGENT_WILL_REPLY,
            source=Source.HANDOFF,
            handoff=state.handoff,
            handoff_reason=state.handoff_reason,
            consecutive_fallbacks=state.consecutive_fallbacks,
            quiet=True,
        )

    intent = intent_result.intent if intent_result else None
    confidence = intent_result.confidence if intent_result else None
    acts = [a.act for a in intent_result.acts] if intent_result else []

    # "are you human?" asks what the bot is, not for a person
    asks_what_it_is = bool(intent_result and intent_result.small_talk and ARE_YOU_A_BOT in acts)
    if wants_human(text) and not asks_what_it_is:
        return Decision(
            text=tenant.handoff_text,
            source=Source.HANDOFF,
            intent=intent,
            confidence=confidence,
            handoff=HandoffStatus.WAITING,
            handoff_reason="customer asked for a human",
        )

    pending = pending_clarification(state)
    if pending is not None:
        choice = resolve_choice(pending, text, acts)
        if choice == REJECTED:
            return _fallback(
                tenant, state, None, (), reason="fallbacks in a row (no option fitted)"
            )
        options = pending["options"]
        if choice is not None and 0 <= choice < len(options):
            chosen = str(options[choice])
            if tenant.responses.get(chosen):
                confidences = pending.get("confidences") or []
                picked = IntentResult(
                    intent=chosen,
                    confidence=float(confidences[choice]) if choice < len(confidences) else 0.0,
                )
                question = str(pending.get("asked") or "") or humanize(chosen)
                return _intent_answer(tenant, picked, (), stats, context_text=question)

    request = (intent_result.request_text if intent_result else None) or text
    if intent_result is not None and intent_result.small_talk and acts:
        act = main_act(acts)
        tenant_intent_wins = (
            intent is not None and intent in acts and confident_intent(tenant, intent_result)
        )
        if act and not tenant_intent_wins:
            if tenant.responses.get(act):  # the tenant's own intent of that name
                return Decision(
                    text=tenant.responses[act],
                    source=Source.INTENT,
                    intent=act,
                    confidence=max(a.confidence for a in intent_result.acts),
                    consecutive_fallbacks=state.consecutive_fallbacks,
                    acts=acts,
                )
            topics = top_topics(tenant, stats)
            return Decision(
                text=act_response(tenant=tenant, act=act, topics=topics),
                source=Source.SMALL_TALK,
                intent=act,
                confidence=max(a.confidence for a in intent_result.acts if a.act == act),
                suggestions=topics[:MAX_SUGGESTIONS] if act == WHAT_CAN_YOU_DO else [],
                consecutive_fallbacks=state.consecutive_fallbacks,
                acts=acts,
            )

    if intent_result is not None and confident_intent(tenant, intent_result):
        return _with_acts(
            _intent_answer(tenant, intent_result, hits, stats, context_text=request), acts
        )

    base = str(context_of(state).get("text") or "")
    if followup is not None:
        if followup.intent_result is not None and confident_intent(tenant, followup.intent_result):
            return _with_acts(
                _intent_answer(
                    tenant,
                    followup.intent_result,
                    followup.hits,
                    stats,
                    context_text=base or request,
                    context_used=True,
                ),
                acts,
            )
        best = _best_hit(tenant, followup.hits)
        if best is not None:
            answer = _knowledge_answer(
                tenant,
                best,
                followup.intent_result,
                followup.hits,
                stats,
                context_text=base or request,
                context_used=True,
            )
            if answer is not None:
                return _with_acts(answer, acts)

    best = _best_hit(tenant, hits)
    if best is not None:
        answer = _knowledge_answer(tenant, best, intent_result, hits, stats, context_text=request)
        if answer is not None:
            return _with_acts(answer, acts)

    clarify = _clarify(tenant, state, intent_result, request)
    if clarify is not None:
        return _with_acts(clarify, acts)
    return _with_acts(_fallback(tenant, state, intent_result, hits), acts)


def _with_acts(decision: Decision, acts: list[str]) -> Decision:
    return replace(decision, acts=acts) if acts else decision


def rate_limited(*, state: SessionState, limit: int, now: datetime) -> bool:
    """Whether one more turn would exceed `limit` turns in the state's one-minute window."""
    if state.window_start is None or now - state.window_start >= RATE_WINDOW:
        return False
    return state.window_turns >= limit


def apply_decision(*, state: SessionState, decision: Decision, now: datetime) -> SessionState:
    """The session state after a turn answered with `decision`."""
    if state.window_start is None or now - state.window_start >= RATE_WINDOW:
        window_start, window_turns = now, 1
    else:
        window_start, window_turns = state.window_start, state.window_turns + 1
    answered_intent = decision.intent if decision.source not in _NOT_INTENTS else None
    return state.model_copy(
        update={
            "handoff": decision.handoff,
            "handoff_reason": decision.handoff_reason,
            "consecutive_fallbacks": decision.consecutive_fallbacks,
            "last_intent": answered_intent or state.last_intent,
            "turns": state.turns + 1,
            "window_start": window_start,
            "window_turns": window_turns,
            "slots": state.slots if decision.quiet else next_slots(state.slots, decision),
        }
    )


_NOT_INTENTS = (Source.SMALL_TALK, Source.CLARIFY)


def next_slots(slots: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """The session's slots after a reply: the follow-up context (`core.followups`: the question
    an answer answered, its topic, the suggestions offered) and the open clarification. Bounded:
    a few short strings whatever the conversation's length."""
    out = dict(slots)
    found = out.get(CONTEXT_SLOT)
    context: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
    if decision.source in (Source.INTENT, Source.KNOWLEDGE) and decision.context_text:
        context = {
            "text": clip(decision.context_text),
            "topic": clip(decision.topic or "", MAX_OFFERED_CHARS) or None,
            "intent": decision.intent if decision.source is Source.INTENT else None,
            "doc": decision.doc_id,
        }
    context["offered"] = [clip(s, MAX_OFFERED_CHARS) for s in decision.suggestions[:MAX_OFFERED]]
    out[CONTEXT_SLOT] = {k: v for k, v in context.items() if v not in (None, "", [])}
    if not out[CONTEXT_SLOT]:
        del out[CONTEXT_SLOT]
    if decision.pending:
        out[CLARIFY_SLOT] = decision.pending
    else:
        out.pop(CLARIFY_SLOT, None)
    return out
