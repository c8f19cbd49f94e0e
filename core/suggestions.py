"""Suggestions that fit: what other customers of the tenant went on to ask after the same intent
or page, read from counters (never from a scan of messages).

A *topic* is what answered a turn, named by its suggestion label: an intent's readable name
(`Card arrival`) or a knowledge page's title. Every answered turn adds, to its tenant's daily
counters in the `AnalyticsStore` (the same single write as the turn's other counters):

- `tp:<topic>`: the topic answered (its popularity; what "what can you do?" lists);
- `nx:<previous topic>.<topic>`: the session's previous answered topic was followed by this one;
- `sc:<label>`: a suggestion of the previous reply was clicked (or typed as offered).

Counter keys carry labels as unpadded base64url (`[A-Za-z0-9_-]`, the counter-name alphabet) of
at most `MAX_LABEL_BYTES` bytes; the previous topic of `nx:` only needs matching, so it is a
short hash. A day's record grows with the distinct transitions seen that day, which the tenant's
topics bound.

`TopicStats` is the per-tenant table built from those counters over the last `WINDOW_DAYS` days;
the conversation service keeps one per tenant for `ttl_s` seconds and refreshes it off the turn's
critical path (in the same concurrent fan-out as the skills). With no history yet, the policy
falls back to semantic neighbours of the message (other intents and pages close to it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

WINDOW_DAYS = 30
MAX_LABEL_BYTES = 60
MIN_NEXT_COUNT = 2  # a transition seen once is anecdote, not a pattern
TOPIC = "tp"
NEXT = "nx"
CLICKED = "sc"


def encode_label(label: str) -> str:
    """A label as a counter key (unpadded base64url of its first `MAX_LABEL_BYTES` bytes)."""
    raw = label.strip().encode()[:MAX_LABEL_BYTES].decode(errors="ignore").encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") or "_"


def decode_label(key: str) -> str | None:
    """The label of a counter key; None when it is not one."""
    try:
        padded = key + "=" * (-len(key) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def topic_hash(label: str) -> str:
    return hashlib.sha1(label.strip().casefold().encode()).hexdigest()[:10]


def turn_topic_counts(
    *, previous: str | None, topic: str | None, clicked: str | None
) -> dict[str, int]:
    """What one turn adds: its answered `topic`, the transition from the session's `previous`
    topic, and the clicked suggestion."""
    counts: dict[str, int] = {}
    if topic:
        counts[f"{TOPIC}:{encode_label(topic)}"] = 1
        if previous and previous.casefold() != topic.casefold():
            counts[f"{NEXT}:{topic_hash(previous)}.{encode_label(topic)}"] = 1
    if clicked:
        counts[f"{CLICKED}:{encode_label(clicked)}"] = 1
    return counts


def _family(totals: Mapping[str, int], family: str) -> Iterable[tuple[str, int]]:
    prefix = family + ":"
    for name, count in totals.items():
        if name.startswith(prefix) and count > 0:
            yield name[len(prefix) :], count


def clicked_suggestions(totals: Mapping[str, int], limit: int = 10) -> list[dict[str, object]]:
    """The clicked suggestions of summed counters, most clicked first."""
    found: Counter[str] = Counter()
    for key, count in _family(totals, CLICKED):
        label = decode_label(key)
        if label:
            found[label] += count
    return [{"suggestion": s, "count": c} for s, c in found.most_common(limit)]


@dataclass(frozen=True)
class TopicStats:
    """A tenant's topic popularity and what-came-next table (from its counters)."""

    popular: Counter[str] = field(default_factory=Counter)
    following: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, per_day: Mapping[date, Mapping[str, int]]) -> TopicStats:
        popular: Counter[str] = Counter()
        following: dict[str, Counter[str]] = {}
        for counts in per_day.values():
            for key, count in _family(counts, TOPIC):
                label = decode_label(key)
                if label:
                    popular[label] += count
            for key, count in _family(counts, NEXT):
                source, _, target = key.partition(".")
                label = decode_label(target)
                if label and source:
                    following.setdefault(source, Counter())[label] += count
        return cls(popular=popular, following=following)

    def next_after(self, topic: str, *, limit: int = 3) -> list[str]:
        """What customers most often asked next after `topic` (seen at least `MIN_NEXT_COUNT`
        times), most frequent first, ties by label."""
        counts = self.following.get(topic_hash(topic))
        if not counts:
            return []
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [label for label, n in ranked if n >= MIN_NEXT_COUNT][:limit]

    def top(self, limit: int = 5) -> list[str]:
        ranked = sorted(self.popular.items(), key=lambda kv: (-kv[1], kv[0]))
        return [label for label, _ in ranked[:limit]]
