"""Follow-ups: a short or elliptical message ("and on Sunday?", "how much is it?", "what about
Visa?") read with the session's previous turn.

The session keeps a small context in `SessionState.slots["ctx"]` (bounded: a few short strings,
so a DynamoDB state item stays small): the last answered question (`text`), the intent or page
that answered it (`intent`, `doc`, `topic`), and the suggestions that reply offered (`offered`).
When a message looks elliptical and there is such a context, the conversation service asks the
skills about the message alone *and* about `combine(previous, message)` in the same concurrent
fan-out; the policy uses the combined reading only when the message alone is not confident, and
the reply then says `context_used`.
"""

from __future__ import annotations

import re
from typing import Any

from core.models import SessionState

CONTEXT_SLOT = "ctx"
MAX_CONTEXT_CHARS = 300
MAX_ELLIPTICAL_WORDS = 8
MAX_OFFERED = 3
MAX_OFFERED_CHARS = 120

_WORD = re.compile(r"[\w'’]+")
_CONNECTOR = re.compile(
    r"^(and|but|or|also|plus|so|then|what about|how about|what if|and if|same for|same with|"
    r"is that|is it|are they|does it|do they|can it|will it|how much is|how long does|"
    r"how long do|which one|what else|anything else about)\b",
    re.IGNORECASE,
)
_PRONOUNS = frozenset({"it", "its", "it's", "they", "them", "their", "one", "ones", "same"})
# "that", "this", … stand for something only at the end ("how much is that?"); before a noun they
# point at it ("this charge")
_DEMONSTRATIVES = frozenset({"that", "this", "these", "those"})


def looks_elliptical(text: str) -> bool:
    """A message that probably leans on the previous turn: short, and starting with a connector
    ("and …", "what about …"), or holding a pronoun ("how much is it?"), or a question of a few
    words ("on Sunday?", "Visa?"). A few words that ask nothing ("blorp") are not: read with the
    previous question, they would only repeat its answer."""
    words = _WORD.findall(text.lower())
    if not words or len(words) > MAX_ELLIPTICAL_WORDS:
        return False
    if _CONNECTOR.match(text.strip()):
        return True
    if len(words) <= 3 and text.rstrip().endswith("?"):
        return True
    return any(w in _PRONOUNS for w in words) or words[-1] in _DEMONSTRATIVES


def combine(previous: str, text: str) -> str:
    """The follow-up read as a continuation of the previous question."""
    return f"{previous.strip()} {text.strip()}"


def context_of(state: SessionState) -> dict[str, Any]:
    """The session's follow-up context (empty when there is none)."""
    found = state.slots.get(CONTEXT_SLOT)
    return dict(found) if isinstance(found, dict) else {}


def followup_query(state: SessionState, text: str) -> str | None:
    """The combined text to ask the skills about too, or None (not elliptical, or nothing to lean
    on)."""
    previous = str(context_of(state).get("text") or "")
    if not previous or not looks_elliptical(text):
        return None
    return combine(previous, text)


def clip(text: str, limit: int = MAX_CONTEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def offered(state: SessionState) -> list[str]:
    """The suggestions the previous reply offered."""
    found = context_of(state).get("offered")
    return [str(s) for s in found] if isinstance(found, list) else []


def is_offered(state: SessionState, text: str) -> bool:
    """Whether `text` is one of the previous reply's suggestions (a click, or typed the same)."""
    wanted = " ".join(text.split()).casefold()
    return any(wanted == s.casefold() for s in offered(state))
