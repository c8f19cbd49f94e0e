"""Domain models shared by every layer: tenants and keys, messages and session state, jobs,
conversation-log records, and the request/reply families of the HTTP API.

Plain Pydantic models with no I/O. Stores persist them with `model_dump(mode="json")` and read them
back with `model_validate`, so a field added here travels through every backend unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$"
_TENANT_ID_RE = re.compile(TENANT_ID_PATTERN)


def utcnow() -> datetime:
    return datetime.now(UTC)


def validate_tenant_id(value: str) -> str:
    """Tenant ids become stage names, key prefixes and path parts: lowercase, digits, dashes."""
    if not _TENANT_ID_RE.match(value):
        raise ValueError(
            "tenant id must be 3-40 characters of lowercase letters, digits and dashes, "
            "starting and ending with a letter or digit"
        )
    return value


# --------------------------------------------------------------------------- tenants and keys


class KeyRole(StrEnum):
    ADMIN = "admin"  # server-to-server: everything for its tenant
    WIDGET = "widget"  # public, safe in a web page: may only open sessions from allowed origins


class Tenant(BaseModel):
    """A business using lambdesk, with the settings its bot runs with."""

    tenant_id: str
    name: str = ""
    allowed_origins: list[str] = Field(default_factory=list)
    # The intent model already rejects what falls below the out-of-scope threshold tuned on
    # held-out data when it was trained; a tenant may demand more confidence on top of that.
    intent_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    knowledge_threshold: float = Field(default=0.45, ge=-1.0, le=1.0)
    handoff_after: int = Field(default=2, ge=1)
    fallback_text: str = (
        "Sorry, I didn't quite get that. Could you rephrase, or ask to talk to a person?"
    )
    handoff_text: str = (
        "I'm handing you over to a member of our team. They will reply here shortly."
    )
    greeting: str = "Hi! How can I help you today?"
    # intent name -> the bot's written answer; an intent without one never answers on its own.
    responses: dict[str, str] = Field(default_factory=dict)
    # Built-in dialogue act (greet, thanks, goodbye, are_you_a_bot, what_can_you_do, affirm, deny,
    # abuse) -> the tenant's own response, replacing the default of its language.
    act_responses: dict[str, str] = Field(default_factory=dict)
    # What "what can you do?" lists; empty: the most asked topics, else the first responses.
    topics: list[str] = Field(default_factory=list, max_length=20)
    # Per-tenant overrides of the process limits (None: the process default).
    max_text_chars: int | None = None
    turns_per_minute: int | None = None
    tts_voice: str | None = None
    # The customers' language (ISO 639-1), a hint that spares speech recognition from detecting
    # it on every clip; None: detect per clip.
    language: str | None = "en"
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("tenant_id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return validate_tenant_id(value)


class ApiKey(BaseModel):
    """A stored credential: only the SHA-256 of the secret is ever kept."""

    key_hash: str
    tenant_id: str
    role: KeyRole
    created_at: datetime = Field(default_factory=utcnow)
    revoked: bool = False


# --------------------------------------------------------------------------- conversations


class Role(StrEnum):
    USER = "user"
    BOT = "bot"
    AGENT = "agent"


class Source(StrEnum):
    """Where a bot reply came from (DESIGN.md, the conversation policy)."""

    INTENT = "intent"
    KNOWLEDGE = "knowledge"
    FALLBACK = "fallback"
    HANDOFF = "handoff"
    AGENT = "agent"
    SMALL_TALK = "small_talk"  # a built-in dialogue act answered (greet, thanks, …)
    CLARIFY = "clarify"  # "Did you mean …?": two close intents, neither confident


class Channel(StrEnum):
    TEXT = "text"
    VOICE = "voice"


class Citation(BaseModel):
    """Where a knowledge answer came from: the document, its section (`heading`, the heading path)
    and `anchor`, the section heading's slug (`<document URL>#<anchor>` links to it)."""

    doc_id: str
    title: str
    chunk_id: str
    score: float
    snippet: str = ""
    heading: str = ""
    anchor: str = ""


class Message(BaseModel):
    """One message of a session. `message_id` is a ULID: sorting by it is the session's order."""

    model_config = ConfigDict(use_enum_values=False)

    message_id: str = ""  # assigned by HistoryStore.append_messages
    tenant_id: str
    session_id: str
    role: Role
    text: str
    channel: Channel = Channel.TEXT
    intent: str | None = None
    confidence: float | None = None
    source: Source | None = None
    citations: list[Citation] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None


class HandoffStatus(StrEnum):
    NONE = "none"
    WAITING = "waiting"  # handed to humans, no agent has answered yet
    ACTIVE = "active"  # an agent has answered; the bot stays quiet
    CLOSED = "closed"


class SessionState(BaseModel):
    """Mutable per-session state, written with optimistic concurrency on `version`."""

    tenant_id: str
    session_id: str
    version: int = 0
    channel: Channel = Channel.TEXT
    origin: str | None = None
    handoff: HandoffStatus = HandoffStatus.NONE
    handoff_reason: str | None = None
    consecutive_fallbacks: int = 0
    last_intent: str | None = None
    turns: int = 0
    slots: dict[str, Any] = Field(default_factory=dict)
    # Rate limit window: turns counted since window_start (one-minute windows).
    window_start: datetime | None = None
    window_turns: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    last_activity: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None


def is_handed_off(state: SessionState) -> bool:
    """THE predicate for "humans have this session" (waiting for an agent, or talking to one):
    the bot stays quiet and the session is in the agents' queue."""
    return state.handoff in (HandoffStatus.WAITING, HandoffStatus.ACTIVE)


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None = None


class SessionPage(BaseModel):
    items: list[SessionState]
    next_cursor: str | None = None


class IdempotencyRecord(BaseModel):
    """A claimed `Idempotency-Key`: in progress until `response` is set."""

    tenant_id: str
    key: str
    request_hash: str
    response: dict[str, Any] | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class Rating(StrEnum):
    UP = "up"
    DOWN = "down"


class Feedback(BaseModel):
    """A customer's (or admin's) 👍/👎 on one bot reply; one per message, the last one wins."""

    tenant_id: str
    session_id: str
    message_id: str
    rating: Rating
    comment: str | None = None
    # When the rated reply was written: analytics counts the rating on that reply's day.
    message_created_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None


class UnansweredQuestion(BaseModel):
    """A customer message the bot could not answer (fallback), kept for the analytics page."""

    session_id: str
    text: str  # redacted before it is stored
    at: datetime


# --------------------------------------------------------------------------- jobs


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(BaseModel):
    """Long work (voice turns, training, ingestion) tracked across retries and restarts."""

    job_id: str
    tenant_id: str
    kind: str  # "voice", "intent_training", "ingestion", ...
    status: JobStatus = JobStatus.QUEUED
    payload: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    max_attempts: int = 3
    next_attempt_at: datetime | None = None
    callback_url: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None


# --------------------------------------------------------------------------- conversation log


class TurnRecord(BaseModel):
    """One structured conversation-log record per turn. Texts are redacted before writing."""

    tenant_id: str
    session_id: str
    request_id: str | None = None
    user_message_id: str | None = None
    bot_message_id: str | None = None
    channel: Channel = Channel.TEXT
    user_text: str
    bot_text: str
    intent: str | None = None
    confidence: float | None = None
    source: Source
    latency_ms: dict[str, float] = Field(default_factory=dict)  # per skill and "total"
    degraded: list[str] = Field(default_factory=list)  # skills that failed or timed out
    timestamp: datetime = Field(default_factory=utcnow)


# --------------------------------------------------------------------------- API families


class SessionCreate(BaseModel):
    channel: Channel = Channel.TEXT
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Optional identity verification (core.identity): the business's server signs the customer's
    # id; an unsigned or badly signed id is ignored, never trusted.
    user_id: str | None = Field(default=None, max_length=256)
    user_signature: str | None = Field(default=None, max_length=128)


class SessionCreated(BaseModel):
    session_id: str
    session_token: str
    expires_at: datetime
    greeting: str
    user_verified: bool = False


class ChatRequest(BaseModel):
    session_id: str | None = None
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The text is a suggestion of the previous reply the customer clicked (the widget sets it;
    # a text equal to an offered suggestion counts as a click too).
    suggestion: bool = False


class ChatReply(BaseModel):
    session_id: str
    message_id: str
    text: str
    intent: str | None = None
    confidence: float | None = None
    source: Source
    citations: list[Citation] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
    handoff: HandoffStatus = HandoffStatus.NONE
    # The message was understood with the session's previous turn (a follow-up such as "and on
    # Sunday?").
    context_used: bool = False
