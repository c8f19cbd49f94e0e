"""Domain models shared by every layer: tenants and keys, messages and session state, jobs,
conversation-log records, and the request/reply families of the HTTP API.

Plain Pydantic models with no I/O. Stores persist them with `model_dump(mode="json")` and read them
back with `model_validate`, so a field added here travels through every backend unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

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
    # Where this tenant's job callbacks may go (scheme://host[:port]); empty: any public https
    # address. Callbacks never go to loopback, private, link-local or reserved addresses.
    callback_origins: list[str] = Field(default_factory=list)
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
    # Images in chat: a label of the tenant's image model -> the bot's written answer, given
    # when the image is classified with at least `image_threshold` (a softmax probability).
    image_responses: dict[str, str] = Field(default_factory=dict)
    image_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    # Video moderation: a frame is flagged when one of these labels scores at or above the
    # threshold.
    blocked_labels: list[str] = Field(default_factory=list)
    moderation_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # The customers' language (ISO 639-1), a hint that spares speech recognition from detecting
    # it on every clip; None: detect per clip.
    language: str | None = "en"
    # How `lambdesk intents train` and training jobs train this tenant's intent model when not
    # told: "frozen" (a head on the packaged encoder, fast) or "finetune" (the encoder too).
    intent_training_mode: Literal["frozen", "finetune"] = "frozen"
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
    IMAGE = "image"  # the tenant's response to a label its image model saw in the customer's image
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


class MessageImage(BaseModel):
    """An image attached to a customer's message: where it is (a blob of the session, erased
    with it; `url` serves it to the session's token and the tenant's admin key) and what the
    tenant's image model saw in it (None when the vision skill could not tell)."""

    key: str  # sessions/<session_id>/images/<name>
    name: str  # <ulid>.<ext>
    url: str
    content_type: str
    bytes: int
    width: int
    height: int
    label: str | None = None
    score: float | None = None
    model_version: str | None = None


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
    image: MessageImage | None = None  # a customer's message with an image attached
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
    """A claimed `Idempotency-Key`: in progress until `response` is set.

    The claim carries an `owner` (the request that runs it) and a lease: when the owner dies
    (a crash, a kill) its lease runs out and a retry takes the claim over and runs the request
    itself. The response is stored in the same atomic write as the turn it answers, and only by
    the claim's current owner, so the turn happens exactly once."""

    tenant_id: str
    key: str
    request_hash: str
    response: dict[str, Any] | None = None
    owner: str = ""
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class IdempotencyCompletion(BaseModel):
    """The answer of a claimed request, stored with the turn (`HistoryStore.commit`)."""

    tenant_id: str
    key: str
    owner: str
    response: dict[str, Any]


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
    # The session the job belongs to (erased with it); None for tenant-level work (training).
    session_id: str | None = None
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
    # A turn with an image: what the vision skill saw (None without an image, or when it failed)
    image_label: str | None = None
    image_score: float | None = None
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


# An image of `max_image_bytes` (5 MB by default) is about 7 MB as base64; the byte limit of the
# deployment is checked on the decoded bytes.
MAX_IMAGE_B64_CHARS = 8 * 1024 * 1024


class ChatRequest(BaseModel):
    session_id: str | None = Field(default=None, min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=20_000)  # the tenant's own limit is checked too
    metadata: dict[str, Any] = Field(default_factory=dict)
    # An image with the message (PNG, JPEG, WebP or GIF; base64, or a `data:image/...;base64,`
    # URL), classified with the text and stored with the message.
    image_b64: str | None = Field(default=None, min_length=1, max_length=MAX_IMAGE_B64_CHARS)
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
    image: MessageImage | None = None  # the turn's image as stored, and what the bot saw in it
    # The message was understood with the session's previous turn (a follow-up such as "and on
    # Sunday?").
    context_used: bool = False
