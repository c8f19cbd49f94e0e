"""👍/👎 on a bot reply: stored beside the message in the history store (one per message, the
last rating wins) and counted in the tenant's analytics on the day of the rated reply."""

from __future__ import annotations

from core.analytics import record_feedback
from core.errors import NotFound, Unprocessable
from core.models import Feedback, Rating, Role
from core.ports import AnalyticsStore, HistoryStore

MAX_COMMENT_CHARS = 1000


def give_feedback(
    *,
    history: HistoryStore,
    analytics: AnalyticsStore | None,
    tenant_id: str,
    session_id: str,
    message_id: str,
    rating: Rating,
    comment: str | None = None,
) -> Feedback:
    """Rate one bot message of a session. `NotFound` for a message that is not in this tenant's
    session; `Unprocessable` (`not_a_bot_message`) for a customer's or an agent's message."""
    message = history.get_message(tenant_id=tenant_id, session_id=session_id, message_id=message_id)
    if message is None:
        raise NotFound(f"message {message_id!r} not found")
    if message.role is not Role.BOT:
        raise Unprocessable("only the bot's replies can be rated", code="not_a_bot_message")
    comment = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
    feedback = Feedback(
        tenant_id=tenant_id,
        session_id=session_id,
        message_id=message_id,
        rating=rating,
        comment=comment,
        message_created_at=message.created_at,
        expires_at=message.expires_at,
    )
    previous = history.put_feedback(feedback)
    record_feedback(
        analytics,
        tenant_id=tenant_id,
        day=message.created_at.date(),
        rating=rating,
        previous=previous.rating if previous else None,
    )
    return feedback
