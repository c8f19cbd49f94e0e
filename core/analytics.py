"""Per-tenant conversation analytics, answered from daily counters (no message scans).

Every turn adds to its tenant's counters for the day once (`record_turn`, called by the
conversation service where the turn is logged): turns, sessions (a session counts on its first
turn), answer sources, intents that answered, fallbacks, handoffs, suggestion clicks and a
latency histogram. Ratings (`record_feedback`) and handoffs asked for outside a turn
(`record_handoff`) add to the same counters. Unanswered questions (fallbacks) are kept, redacted,
in a bounded ring per tenant and day. `summarize` reads one record per day of the window and the
kept questions, and groups those by lexical similarity (`group_questions`).

Latency percentiles come from a histogram of log-spaced buckets (each 25 % wider than the last,
from 1 ms to about a minute): a percentile is interpolated inside its bucket, so it is exact to
within that bucket's width.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from core.models import Rating, Source, TurnRecord, UnansweredQuestion, utcnow
from core.policy import Decision
from core.ports import UNANSWERED_SEQ, AnalyticsStore
from core.redaction import redact
from core.suggestions import clicked_suggestions, turn_topic_counts

logger = logging.getLogger("lambdesk.analytics")

TOP_INTENTS = 10
UNANSWERED_LIMIT = 20
UNANSWERED_DAYS = 7  # unanswered questions are read for the last days of a window only
MAX_GROUPED = 500  # the most recent questions grouped per summary
MAX_GROUPS = 30
DEFAULT_DAYS = 30
LATENCY_RATIO = 1.25
LATENCY_BUCKETS = 50  # bucket 49 ends near 56 s; slower turns land in it too
MAX_QUESTION_CHARS = 500
GROUP_THRESHOLD = 0.35
SUGGESTION_METADATA = "suggestion"  # ChatRequest.metadata flag the widget sets on a click

_INTENT_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")
DAILY_FIELDS = ("turns", "sessions", "fallbacks", "handoffs", "feedback_up", "feedback_down")


# --------------------------------------------------------------------------- writing


def latency_bucket(ms: float) -> int:
    """The histogram bucket of a latency: bucket i holds (1.25^(i-1), 1.25^i] ms, bucket 0 ≤ 1."""
    if ms <= 1.0:
        return 0
    return min(LATENCY_BUCKETS - 1, math.ceil(math.log(ms) / math.log(LATENCY_RATIO)))


def _counter_key(name: str) -> str:
    return _INTENT_SAFE.sub("_", name)[:100] or "_"


def turn_counts(
    record: TurnRecord, *, decision: Decision, first_turn: bool, suggestion: bool
) -> dict[str, int]:
    """What one turn adds to its day's counters."""
    counts: Counter[str] = Counter(turns=1)
    counts[f"source:{record.source.value}"] += 1
    if first_turn:
        counts["sessions"] += 1
    if record.source is Source.FALLBACK:
        counts["fallbacks"] += 1
    if record.source is Source.INTENT and record.intent:
        counts[f"intent:{_counter_key(record.intent)}"] += 1
    if decision.handoff.value == "waiting" and not decision.quiet:
        counts["handoffs"] += 1
    if suggestion:
        counts["suggestion_clicks"] += 1
    total = record.latency_ms.get("total")
    if total is not None:
        counts[f"lat:{latency_bucket(float(total))}"] += 1
    return dict(counts)


def is_unanswered(decision: Decision) -> bool:
    """A fallback, or a handoff the fallbacks caused (not one the customer asked for)."""
    if decision.quiet:
        return False
    if decision.source is Source.FALLBACK:
        return True
    return decision.source is Source.HANDOFF and "fallback" in (decision.handoff_reason or "")


def record_turn(
    analytics: AnalyticsStore | None,
    *,
    record: TurnRecord,
    decision: Decision,
    first_turn: bool,
    metadata: Mapping[str, Any] | None = None,
    previous_topic: str | None = None,
    clicked: str | None = None,
) -> None:
    """Count one turn (and keep its question when the bot could not answer), with the topic it
    answered, the session's previous topic and the suggestion clicked (`core.suggestions`).
    Never raises: analytics must not fail a customer's request."""
    if analytics is None:
        return
    try:
        suggestion = clicked is not None or bool((metadata or {}).get(SUGGESTION_METADATA))
        day = record.timestamp.date()
        counts = turn_counts(
            record, decision=decision, first_turn=first_turn, suggestion=suggestion
        )
        counts.update(
            turn_topic_counts(previous=previous_topic, topic=decision.topic, clicked=clicked)
        )
        analytics.add_counts(tenant_id=record.tenant_id, day=day, counts=counts)
        if is_unanswered(decision):
            analytics.add_unanswered(
                tenant_id=record.tenant_id,
                question=UnansweredQuestion(
                    session_id=record.session_id,
                    text=redact(record.user_text)[:MAX_QUESTION_CHARS],
                    at=record.timestamp,
                ),
            )
    except Exception:
        logger.exception("analytics write failed")


def record_handoff(
    analytics: AnalyticsStore | None, *, tenant_id: str, turnless: bool = False
) -> None:
    """Count a handoff asked for outside a turn (the widget's button, an admin). A session handed
    off before its first turn is counted as a session here (it would otherwise count on its
    first turn only)."""
    if analytics is None:
        return
    counts = {"handoffs": 1, "sessions": 1 if turnless else 0}
    try:
        analytics.add_counts(tenant_id=tenant_id, day=utcnow().date(), counts=counts)
    except Exception:
        logger.exception("analytics write failed")


def feedback_counts(rating: Rating, previous: Rating | None) -> dict[str, int]:
    """A new rating adds one; a changed rating moves one from the old to the new; the same
    rating again changes nothing (the last rating of a message wins)."""
    if previous is rating:
        return {}
    counts = {f"feedback_{rating.value}": 1}
    if previous is not None:
        counts[f"feedback_{previous.value}"] = -1
    return counts


def record_feedback(
    analytics: AnalyticsStore | None,
    *,
    tenant_id: str,
    day: date,
    rating: Rating,
    previous: Rating | None,
) -> None:
    if analytics is None:
        return
    counts = feedback_counts(rating, previous)
    if counts:
        analytics.add_counts(tenant_id=tenant_id, day=day, counts=counts)


# --------------------------------------------------------------------------- reading


def percentile_from_histogram(buckets: Mapping[int, int], q: float) -> float | None:
    """The q-th percentile (0..100) of a latency histogram, interpolated inside its bucket."""
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank = max(1.0, q / 100 * total)
    seen = 0
    for index in sorted(buckets):
        count = buckets[index]
        if count <= 0:
            continue
        if seen + count >= rank:
            upper = LATENCY_RATIO**index
            lower = 0.0 if index == 0 else LATENCY_RATIO ** (index - 1)
            return round(lower + (upper - lower) * (rank - seen) / count, 1)
        seen += count
    return None


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole > 0 else 0.0


def default_window(today: date | None = None) -> tuple[date, date]:
    end = today or utcnow().date()
    return end - timedelta(days=DEFAULT_DAYS - 1), end


def summarize(
    *, analytics: AnalyticsStore, tenant_id: str, start: date, end: date
) -> dict[str, Any]:
    """The tenant's numbers for the days `start`..`end` (inclusive, UTC), from the counters."""
    per_day = analytics.daily_counts(tenant_id=tenant_id, start=start, end=end)
    totals: Counter[str] = Counter()
    for counts in per_day.values():
        totals.update(counts)
    days = []
    current = start
    while current <= end:
        counts = per_day.get(current, {})
        days.append({"day": current.isoformat(), **{f: counts.get(f, 0) for f in DAILY_FIELDS}})
        current += timedelta(days=1)

    def family(prefix: str) -> dict[str, int]:
        return {k[len(prefix) :]: v for k, v in totals.items() if k.startswith(prefix) and v}

    intents = Counter(family("intent:"))
    latency = {int(k): v for k, v in family("lat:").items()}
    turns, sessions = totals["turns"], totals["sessions"]
    up, down = totals["feedback_up"], totals["feedback_down"]
    # At most `UNANSWERED_DAYS` × the ring size (100) questions are read, whatever the window.
    recent = max(start, end - timedelta(days=UNANSWERED_DAYS - 1))
    questions = analytics.list_unanswered(tenant_id=tenant_id, start=recent, end=end)
    return {
        "tenant_id": tenant_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "turns": turns,
        "sessions": sessions,
        "fallbacks": totals["fallbacks"],
        "handoffs": totals["handoffs"],
        "suggestion_clicks": totals["suggestion_clicks"],
        "suggestions_clicked": clicked_suggestions(totals),
        "feedback": {"up": up, "down": down},
        "fallback_rate": _rate(totals["fallbacks"], turns),
        "handoff_rate": _rate(totals["handoffs"], sessions),
        "thumbs_down_rate": _rate(down, up + down),
        "sources": family("source:"),
        "top_intents": [
            {"intent": name, "count": count} for name, count in intents.most_common(TOP_INTENTS)
        ],
        "latency_ms": {
            "p50": percentile_from_histogram(latency, 50),
            "p95": percentile_from_histogram(latency, 95),
            "histogram": [
                {"le_ms": round(LATENCY_RATIO**i, 1), "count": latency[i]} for i in sorted(latency)
            ],
        },
        "days": days,
        "unanswered": [
            {"session_id": q.session_id, "text": q.text, "at": q.at.isoformat()}
            for q in questions[:UNANSWERED_LIMIT]
        ],
        "unanswered_from": recent.isoformat(),
        "unanswered_kept": len(questions),
        "unanswered_seen": totals[UNANSWERED_SEQ],
        "unanswered_groups": group_questions(q.text for q in questions[:MAX_GROUPED]),
    }


# --------------------------------------------------------------------------- grouping

_WORD_RE = re.compile(r"[a-z0-9]+")
_STOP_WORDS = """a an and are am as at be been but by can could did do does doing for from get
    got had has have how i im ive if in into is it its just me my no not of on or
    our please so some than that the their them then there theres these they this
    to too up us was we what whats when where which who why will with would you
    your yours hi hello hey thanks thank any cant dont like want need know tell
    help ok okay"""
_STOP = frozenset(_STOP_WORDS.split())
_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    if word.endswith(("ss", "us", "is")):
        return word
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def keywords(text: str) -> list[str]:
    """Content words of a question, lowercased and crudely stemmed (`payments` → `payment`)."""
    words = _WORD_RE.findall(text.lower().replace("'", "").replace("’", ""))
    return [_stem(w) for w in words if w not in _STOP and len(w) > 1]


def _features(text: str) -> Counter[str]:
    """Word stems plus their character trigrams (so `refund`/`refunded`/`refnud` stay close)."""
    words = keywords(text)
    out: Counter[str] = Counter(f"w:{w}" for w in words)
    for word in words:
        padded = f"^{word}$"
        for i in range(len(padded) - 2):
            out[f"t:{padded[i : i + 3]}"] += 1
    return out


def _csv_cell(text: str) -> str:
    """A spreadsheet must not read a customer's text as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def training_rows(texts: Iterable[str], intent: str) -> str:
    """`text,intent` CSV rows (no header) to append to an intents file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for text in texts:
        writer.writerow([_csv_cell(" ".join(text.split())), intent])
    return buffer.getvalue()


def group_questions(
    texts: Iterable[str], threshold: float = GROUP_THRESHOLD
) -> list[dict[str, Any]]:
    """Group similar questions, biggest group first: each question joins the group whose summed
    features are most similar to its own (cosine, found through an inverted index of features,
    so distinct questions cost little), or starts a new group below `threshold`.

    Each group has a `label` (its most common keywords), a suggested `intent` name, its
    distinct `questions` and `csv`: the questions as `text,intent` training rows.
    """
    groups: list[dict[str, Any]] = []
    index: dict[str, list[int]] = {}  # feature -> the groups whose centroid has it
    for text in texts:
        text = text.strip()
        if not text:
            continue
        features = _features(text)
        norm = math.sqrt(sum(v * v for v in features.values()))
        dots: dict[int, float] = {}
        for feature, value in features.items():
            for g in index.get(feature, ()):
                dots[g] = dots.get(g, 0.0) + value * groups[g]["features"][feature]
        best, best_score = -1, 0.0
        for g, dot in dots.items():
            score = dot / (norm * math.sqrt(groups[g]["norm2"])) if norm else 0.0
            if score > best_score:
                best, best_score = g, score
        if best < 0 or best_score < threshold:
            best = len(groups)
            groups.append({"features": Counter(), "norm2": 0.0, "texts": []})
        group = groups[best]
        centroid: Counter[str] = group["features"]
        for feature, value in features.items():
            old = centroid[feature]
            if not old:
                index.setdefault(feature, []).append(best)
            centroid[feature] = old + value
            group["norm2"] += (old + value) ** 2 - old**2
        group["texts"].append(text)
    groups.sort(key=lambda g: len(g["texts"]), reverse=True)
    out = []
    for group in groups[:MAX_GROUPS]:
        words: Counter[str] = Counter()
        for text in group["texts"]:
            words.update(list(dict.fromkeys(keywords(text))))  # ordered: ties keep first use
        top = [w for w, _ in words.most_common(3)]
        intent = "_".join(top[:2]) or "new_intent"
        distinct = list(dict.fromkeys(group["texts"]))
        out.append(
            {
                "label": " · ".join(top) or distinct[0][:40],
                "intent": _counter_key(intent),
                "count": len(group["texts"]),
                "questions": distinct,
                "csv": training_rows(distinct, _counter_key(intent)),
            }
        )
    return out
