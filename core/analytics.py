"""Per-tenant conversation analytics, computed from the history store: turns, sessions, top
intents, answer sources, fallback rate, handoffs, unanswered questions and turn latency.

A turn is a user message followed by the bot's reply (both appended together by
`core.conversation`); the reply's `metadata.latency_ms` is the turn's latency.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from itertools import pairwise
from typing import Any

from core.models import HandoffStatus, Message, Role, SessionState, Source
from core.ports import HistoryStore

UNANSWERED_LIMIT = 20
TOP_INTENTS = 10
_PAGE = 500


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)


def _all_sessions(history: HistoryStore, tenant_id: str) -> list[SessionState]:
    sessions: list[SessionState] = []
    cursor: str | None = None
    while True:
        page = history.list_sessions(tenant_id=tenant_id, limit=_PAGE, cursor=cursor)
        sessions.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return sessions


def _all_messages(history: HistoryStore, tenant_id: str, session_id: str) -> list[Message]:
    messages: list[Message] = []
    cursor: str | None = None
    while True:
        page = history.list_messages(
            tenant_id=tenant_id, session_id=session_id, limit=_PAGE, cursor=cursor
        )
        messages.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return messages


def summarize(
    *, history: HistoryStore, tenant_id: str, since: datetime | None = None
) -> dict[str, Any]:
    """The tenant's numbers, counting only turns at or after `since` when given."""
    turns = 0
    sources: Counter[str] = Counter()
    intents: Counter[str] = Counter()
    latencies: list[float] = []
    unanswered: list[tuple[datetime, dict[str, Any]]] = []
    active_sessions = 0
    handoffs = 0

    for state in _all_sessions(history, tenant_id):
        if since is not None and state.last_activity < since:
            continue  # sessions come most recent first, but keep it simple and exact
        messages = _all_messages(history, tenant_id, state.session_id)
        session_turns = 0
        for user, reply in pairwise(messages):
            if user.role is not Role.USER or reply.role is not Role.BOT:
                continue
            if since is not None and user.created_at < since:
                continue
            session_turns += 1
            source = reply.source or Source.FALLBACK
            sources[source.value] += 1
            if reply.intent and source is Source.INTENT:
                intents[reply.intent] += 1
            latency = reply.metadata.get("latency_ms")
            if isinstance(latency, int | float):
                latencies.append(float(latency))
            if source is Source.FALLBACK or (
                source is Source.HANDOFF
                and "fallback" in str(reply.metadata.get("handoff_reason") or "")
            ):
                unanswered.append(
                    (
                        user.created_at,
                        {
                            "session_id": state.session_id,
                            "text": user.text,
                            "at": user.created_at.isoformat(),
                        },
                    )
                )
        turns += session_turns
        if session_turns or since is None:
            active_sessions += 1
            if state.handoff is not HandoffStatus.NONE:
                handoffs += 1

    unanswered.sort(key=lambda pair: pair[0], reverse=True)
    return {
        "tenant_id": tenant_id,
        "since": since.isoformat() if since else None,
        "sessions": active_sessions,
        "turns": turns,
        "sources": dict(sources),
        "top_intents": [
            {"intent": name, "count": count} for name, count in intents.most_common(TOP_INTENTS)
        ],
        "fallback_rate": round(sources[Source.FALLBACK.value] / turns, 4) if turns else 0.0,
        "handoffs": handoffs,
        "unanswered": [item for _, item in unanswered[:UNANSWERED_LIMIT]],
        "latency_ms": {
            "avg": round(sum(latencies) / len(latencies), 2) if latencies else None,
            "p50": _percentile(latencies, 50),
            "p95": _percentile(latencies, 95),
        },
    }
