"""The conversation policy (DESIGN.md): pure functions from what the skills found to the bot's
decision, and from a decision to the next session state. No I/O; unit-tested as a table.

Order of precedence:

1. The session is already handed off (waiting for or talking to an agent): the bot stays quiet.
   The user's message is still stored, and the reply is `source=handoff` with the short
   `AGENT_WILL_REPLY` text (not empty, so a widget always has something to show).
2. The customer asks for a human (`wants_human`): hand off now.
3. A confident intent (score ≥ `intent_threshold`) with a configured response: answer it.
4. The best knowledge hit scoring ≥ `knowledge_threshold`: answer with the passage (trimmed to
   a readable length) and its citation.
5. Otherwise the fallback text; the `handoff_after`-th fallback in a row hands off instead.

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

from core.models import Citation, HandoffStatus, SessionState, Source, Tenant, is_handed_off
from core.skill_contracts import Hit, IntentResult

AGENT_WILL_REPLY = "Thanks, your message was passed on. An agent will reply here shortly."
MAX_ANSWER_CHARS = 600
MAX_SUGGESTIONS = 3
RATE_WINDOW = timedelta(minutes=1)

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


def wants_human(text: str) -> bool:
    """Whether the customer asks for a human."""
    return _HUMAN_RE.search(text) is not None


@dataclass(frozen=True)
class Decision:
    """What the bot answers, and how the session's handoff state moves."""

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
        suggestions=_suggest_intents(tenant, intent, exclude=None),
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
    words = re.sub(r"[_\-.]+", " ", name).strip()
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


def _suggest_intents(tenant: Tenant, intent: IntentResult | None, exclude: str | None) -> list[str]:
    ranking = sorted(intent.ranking, key=lambda r: r.confidence, reverse=True) if intent else []
    return [
        humanize(r.intent) for r in ranking if r.intent != exclude and r.intent in tenant.responses
    ][:MAX_SUGGESTIONS]


def _suggest_titles(hits: Sequence[Hit], exclude_doc: str | None) -> list[str]:
    titles: list[str] = []
    for hit in hits:
        title = hit.title.strip()
        if title and hit.doc_id != exclude_doc and title not in titles:
            titles.append(title)
    return titles[:MAX_SUGGESTIONS]


def decide(
    *,
    tenant: Tenant,
    state: SessionState,
    text: str,
    intent_result: IntentResult | None,
    hits: Sequence[Hit],
    image: ImageFinding | None = None,
) -> Decision:
    """The bot's reply to `text` given the skills' results (None / [] when a skill failed)."""
    if image is not None:
        seen = _image_answer(
            tenant=tenant, state=state, text=text, image=image, intent=intent_result
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

    if wants_human(text):
        return Decision(
            text=tenant.handoff_text,
            source=Source.HANDOFF,
            intent=intent,
            confidence=confidence,
            handoff=HandoffStatus.WAITING,
            handoff_reason="customer asked for a human",
        )

    if intent and confidence is not None and confidence >= tenant.intent_threshold:
        response = tenant.responses.get(intent)
        if response:
            return Decision(
                text=response,
                source=Source.INTENT,
                intent=intent,
                confidence=confidence,
                suggestions=_suggest_intents(tenant, intent_result, exclude=intent),
            )

    ordered = sorted(hits, key=lambda h: h.score, reverse=True)
    if ordered and ordered[0].score >= tenant.knowledge_threshold:
        best = ordered[0]
        passage = trim_passage(best.text)
        if passage:
            citation = Citation(
                doc_id=best.doc_id,
                title=best.title,
                chunk_id=best.chunk_id,
                score=best.score,
                snippet=passage[:200],
            )
            return Decision(
                text=passage,
                source=Source.KNOWLEDGE,
                intent=intent,
                confidence=confidence,
                citations=[citation],
                suggestions=_suggest_titles(ordered[1:], exclude_doc=citation.doc_id),
            )

    fallbacks = state.consecutive_fallbacks + 1
    if fallbacks >= tenant.handoff_after:
        return Decision(
            text=tenant.handoff_text,
            source=Source.HANDOFF,
            intent=intent,
            confidence=confidence,
            handoff=HandoffStatus.WAITING,
            handoff_reason=f"{fallbacks} fallbacks in a row",
            consecutive_fallbacks=fallbacks,
        )
    suggestions = _suggest_intents(tenant, intent_result, exclude=None) or _suggest_titles(
        ordered, exclude_doc=None
    )
    return Decision(
        text=tenant.fallback_text,
        source=Source.FALLBACK,
        intent=intent,
        confidence=confidence,
        suggestions=suggestions,
        consecutive_fallbacks=fallbacks,
    )


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
    return state.model_copy(
        update={
            "handoff": decision.handoff,
            "handoff_reason": decision.handoff_reason,
            "consecutive_fallbacks": decision.consecutive_fallbacks,
            "last_intent": decision.intent or state.last_intent,
            "turns": state.turns + 1,
            "window_start": window_start,
            "window_turns": window_turns,
        }
    )
