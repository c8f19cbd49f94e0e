"""`POST /v1/sessions/{id}/messages/{mid}/feedback`: 👍/👎 (and an optional comment) on one of the
bot's replies, by the session's token or the tenant's admin key. Idempotent per message: the
last rating wins, and analytics count each message once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import ServicesDep, SessionDep
from api.errors import API_ERRORS
from core.feedback import MAX_COMMENT_CHARS, give_feedback
from core.models import Rating

router = APIRouter(prefix="/v1/sessions", tags=["feedback"], responses=API_ERRORS)

MessageIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")]


class FeedbackCreate(BaseModel):
    rating: Rating
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class FeedbackView(BaseModel):
    session_id: str
    message_id: str
    rating: Rating
    comment: str | None = None


@router.post("/{session_id}/messages/{message_id}/feedback")
async def post_feedback(
    state: SessionDep, message_id: MessageIdPath, body: FeedbackCreate, services: ServicesDep
) -> FeedbackView:
    stored = give_feedback(
        history=services.history,
        analytics=services.analytics,
        tenant_id=state.tenant_id,
        session_id=state.session_id,
        message_id=message_id,
        rating=body.rating,
        comment=body.comment,
    )
    return FeedbackView(
        session_id=stored.session_id,
        message_id=stored.message_id,
        rating=stored.rating,
        comment=stored.comment,
    )
