"""The conversation service: one text turn from the customer's words to the stored reply.

`handle_turn` fans the intent and retrieval skills out concurrently (each with its own timeout; a
failed skill degrades the turn, never fails it), decides with `core.policy`, then — under a
process-local per-session lock plus the store's optimistic version check — writes the session
state and appends the user and bot messages in one call, and logs one `TurnRecord`.

`run_idempotent` wraps a turn in the `Idempotency-Key` protocol of the history store.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from core import analytics
from core.auth import Principal, PrincipalRole
from core.bootstrap import Container
from core.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unprocessable,
    VersionConflict,
)
from core.models import (
    Channel,
    ChatReply,
    ChatRequest,
    Message,
    Role,
    SessionState,
    Tenant,
    TurnRecord,
    utcnow,
)
from core.policy import Decision, apply_decision, decide, rate_limited
from core.sessions import create_session_state

logger = logging.getLogger("lambdesk.conversation")

STATE_WRITE_ATTEMPTS = 5
IDEMPOTENCY_WAIT_S = 5.0
_LOCKS_KEY = "session_locks"


# --------------------------------------------------------------------------- validation


def check_text(*, tenant: Tenant, max_text_chars: int, text: str) -> str:
    """The text of a turn, stripped: 422 when empty, 413 `text_too_long` over the limit."""
    stripped = text.strip()
    if not stripped:
        raise Unprocessable("text must not be empty", code="empty_text")
    limit = tenant.max_text_chars or max_text_chars
    if len(stripped) > limit:
        raise PayloadTooLarge(
            f"text is {len(stripped)} characters; the limit is {limit}", code="text_too_long"
        )
    return stripped


# --------------------------------------------------------------------------- skills


async def _call_skill(
    container: Container, name: str, event: Mapping[str, Any], timeout: float
) -> tuple[dict[str, Any] | None, float]:
    """(result or None when the skill failed or timed out, latency in ms)."""
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(
            container.skills.invoke(name, event, timeout=timeout), timeout=timeout + 1.0
        )
    except Exception as exc:  # a skill never fails the turn: it degrades it
        logger.warning(
            json.dumps({"event": "skill_degraded", "skill": name, "error": repr(exc)[:300]})
        )
        result = None
    return result, (time.perf_counter() - started) * 1000.0


async def _understand(
    container: Container, tenant_id: str, text: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, float], list[str]]:
    """Intent and retrieval, concurrently: (intent result, hits, latency per skill, degraded)."""
    settings = container.settings
    (intent, intent_ms), (retrieval, retrieval_ms) = await asyncio.gather(
        _call_skill(
            container,
            "intent",
            {"tenant_id": tenant_id, "text": text},
            settings.intent_timeout_s,
        ),
        _call_skill(
            container,
            "retrieval",
            {"op": "search", "tenant_id": tenant_id, "query": text, "top_k": 3},
            settings.retrieval_timeout_s,
        ),
    )
    degraded = [name for name, r in (("intent", intent), ("retrieval", retrieval)) if r is None]
    hits = [h for h in (retrieval or {}).get("hits") or [] if isinstance(h, Mapping)]
    latency = {"intent": round(intent_ms, 2), "retrieval": round(retrieval_ms, 2)}
    return intent, [dict(h) for h in hits], latency, degraded


# --------------------------------------------------------------------------- the turn


def session_lock(container: Container, *, tenant_id: str, session_id: str) -> asyncio.Lock:
    """The process-local lock of one session (kept only while someone holds a reference)."""
    locks = container.extras.setdefault(_LOCKS_KEY, weakref.WeakValueDictionary())
    key = (tenant_id, session_id)
    lock: asyncio.Lock | None = locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        locks[key] = lock
    return lock


def _load_state(container: Container, *, tenant_id: str, session_id: str) -> SessionState:
    state = container.history.get_state(tenant_id=tenant_id, session_id=session_id)
    if state is None:
        raise NotFound(f"session {session_id!r} not found")
    return state


def _turn_limit(container: Container, tenant: Tenant) -> int:
    return tenant.turns_per_minute or container.settings.turns_per_minute


async def handle_turn(
    *,
    container: Container,
    tenant: Tenant,
    session_id: str,
    text: str,
    channel: Channel = Channel.TEXT,
    request_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ChatReply:
    """Answer one customer message in a session of `tenant` and store both sides of the turn."""
    started = time.perf_counter()
    tenant_id = tenant.tenant_id
    text = check_text(tenant=tenant, max_text_chars=container.settings.max_text_chars, text=text)
    state = _load_state(container, tenant_id=tenant_id, session_id=session_id)
    limit = _turn_limit(container, tenant)
    if rate_limited(state=state, limit=limit, now=utcnow()):
        raise RateLimited(f"more than {limit} turns per minute in this session")

    intent_result: dict[str, Any] | None = None
    hits: list[dict[str, Any]] = []
    latency: dict[str, float] = {}
    degraded: list[str] = []
    if state.handoff.value not in ("waiting", "active"):  # handed off: the bot stays quiet
        intent_result, hits, latency, degraded = await _understand(container, tenant_id, text)

    async with session_lock(container, tenant_id=tenant_id, session_id=session_id):
        for attempt in range(STATE_WRITE_ATTEMPTS):
            state = _load_state(container, tenant_id=tenant_id, session_id=session_id)
            now = utcnow()
            if rate_limited(state=state, limit=limit, now=now):
                raise RateLimited(f"more than {limit} turns per minute in this session")
            decision = decide(
                tenant=tenant, state=state, text=text, intent_result=intent_result, hits=hits
            )
            try:
                container.history.put_state(
                    apply_decision(state=state, decision=decision, now=now),
                    expected_version=state.version,
                )
                break
            except VersionConflict:
                await asyncio.sleep(0.005 * (attempt + 1))
        else:
            raise Conflict("the session is busy; retry the request", code="session_busy")

        latency["total"] = round((time.perf_counter() - started) * 1000.0, 2)
        user, bot = container.history.append_messages(
            tenant_id=tenant_id,
            session_id=session_id,
            messages=_turn_messages(
                tenant_id, session_id, text, channel, decision, metadata, latency, degraded
            ),
        )

    record = TurnRecord(
        tenant_id=tenant_id,
        session_id=session_id,
        request_id=request_id,
        user_message_id=user.message_id,
        bot_message_id=bot.message_id,
        channel=channel,
        user_text=text,
        bot_text=decision.text,
        intent=decision.intent,
        confidence=decision.confidence,
        source=decision.source,
        latency_ms=latency,
        degraded=degraded,
    )
    _record_turn(container, record)
    analytics.record_turn(
        container.analytics,
        record=record,
        decision=decision,
        first_turn=state.turns == 0,
        metadata=metadata,
    )
    return ChatReply(
        session_id=session_id,
        message_id=bot.message_id,
        text=decision.text,
        intent=decision.intent,
        confidence=decision.confidence,
        source=decision.source,
        citations=decision.citations,
        suggestions=decision.suggestions,
        handoff=decision.handoff,
    )


def _record_turn(container: Container, record: TurnRecord) -> None:
    """Log the turn; a failing log sink is reported, never turned into a failed request."""
    try:
        container.log.record_turn(record)
    except Exception:
        logger.exception("conversation log write failed")


def _turn_messages(
    tenant_id: str,
    session_id: str,
    text: str,
    channel: Channel,
    decision: Decision,
    metadata: Mapping[str, Any] | None,
    latency: dict[str, float],
    degraded: list[str],
) -> list[Message]:
    user = Message(
        tenant_id=tenant_id,
        session_id=session_id,
        role=Role.USER,
        text=text,
        channel=channel,
        metadata=dict(metadata or {}),
    )
    bot = Message(
        tenant_id=tenant_id,
        session_id=session_id,
        role=Role.BOT,
        text=decision.text,
        channel=channel,
        intent=decision.intent,
        confidence=decision.confidence,
        source=decision.source,
        citations=decision.citations,
        metadata={
            "latency_ms": latency["total"],
            "skill_latency_ms": {k: v for k, v in latency.items() if k != "total"},
            "degraded": degraded,
            "suggestions": decision.suggestions,
            **({"quiet": True} if decision.quiet else {}),
            **(
                {"handoff_reason": decision.handoff_reason}
                if decision.handoff_reason and not decision.quiet
                else {}
            ),
        },
    )
    return [user, bot]


# --------------------------------------------------------------------------- idempotency


def request_fingerprint(payload: Mapping[str, Any]) -> str:
    """A stable hash of a request body (what `Idempotency-Key` compares)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_idempotent(
    *,
    container: Container,
    tenant_id: str,
    key: str | None,
    request_hash: str,
    run: Callable[[], Awaitable[ChatReply]],
) -> ChatReply:
    """Run `run` once per (tenant, key): a retry with the same request gets the stored reply; the
    same key with another request is 409; a duplicate still in progress waits briefly, then 409."""
    if not key:
        return await run()
    history = container.history
    ttl_s = container.settings.idempotency_ttl_s
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_S
    while True:
        existing = history.claim_idempotency(
            tenant_id=tenant_id, key=key, request_hash=request_hash, ttl_s=ttl_s
        )
        if existing is None:
            break  # claimed: this request runs
        if existing.request_hash != request_hash:
            raise Conflict(
                "Idempotency-Key was already used with a different request",
                code="idempotency_key_reused",
            )
        if existing.response is not None:
            return ChatReply.model_validate(existing.response)
        if time.monotonic() >= deadline:
            raise Conflict(
                "a request with this Idempotency-Key is still in progress",
                code="idempotency_in_progress",
            )
        await asyncio.sleep(0.05)
    try:
        reply = await run()
    except BaseException:
        history.release_idempotency(tenant_id=tenant_id, key=key)
        raise
    history.complete_idempotency(
        tenant_id=tenant_id, key=key, response=reply.model_dump(mode="json")
    )
    return reply


# --------------------------------------------------------------------------- the chat request


async def chat(
    *,
    container: Container,
    tenant: Tenant,
    principal: Principal,
    request: ChatRequest,
    request_id: str | None = None,
    idempotency_key: str | None = None,
) -> ChatReply:
    """`POST /v1/chat`: a session token talks in its own session; an admin key in any session of
    its tenant, or in a new one when `session_id` is omitted. Honours `Idempotency-Key`."""
    check_text(tenant=tenant, max_text_chars=container.settings.max_text_chars, text=request.text)
    session_id = request.session_id
    if principal.role is PrincipalRole.SESSION:
        if session_id is not None and session_id != principal.session_id:
            raise NotFound(f"session {session_id!r} not found")
        session_id = principal.session_id
    if session_id is not None:
        _load_state(container, tenant_id=tenant.tenant_id, session_id=session_id)

    async def run() -> ChatReply:
        target = session_id
        if target is None:
            target = create_session_state(
                history=container.history, tenant_id=tenant.tenant_id
            ).session_id
        return await handle_turn(
            container=container,
            tenant=tenant,
            session_id=target,
            text=request.text,
            request_id=request_id,
            metadata=request.metadata,
        )

    fingerprint = request_fingerprint(
        {
            "caller": principal.session_id or principal.role.value,
            "session_id": session_id,
            "text": request.text,
            "metadata": request.metadata,
        }
    )
    return await run_idempotent(
        container=container,
        tenant_id=tenant.tenant_id,
        key=idempotency_key,
        request_hash=fingerprint,
        run=run,
    )
