"""The conversation service: one text turn from the customer's words to the stored reply.

`ConversationService` is built once per process by `core.bootstrap` with the ports it uses (the
skill invoker, the conversation log, the session service over the history store) and the
settings; it imports none of them itself.

A turn reads the session state once (the caller usually passes the state it already read) and
uses the tenant the credential resolved. It fans the intent and retrieval skills out concurrently
(each with its own timeout; a failed skill degrades the turn, never fails it), with the refresh
of the tenant's topic table (`core.suggestions`) from the analytics counters when it is older
than `stats_ttl_s`. A follow-up that looks elliptical ("and on Sunday?") and is not answered by
its own intent is then read with the previous question too (`core.followups`). The turn decides
with `core.policy`, then stores the new session state and both messages in one atomic commit
through `SessionService.change` (re-reading only if another writer got there first), logs one
`TurnRecord`, and counts the turn (with its topic, what it followed, and a clicked suggestion).

`run_idempotent` wraps a turn in the `Idempotency-Key` protocol of the history store: the key is
claimed with an owner and a lease, the turn's answer is stored in the same atomic commit as the
turn (so a crash leaves either both or neither), and a retry after the owner died takes the claim
over once its lease ran out: the turn happens exactly once.

Everything is validated before anything is written: the text (not empty, within the limit,
valid Unicode), the metadata (size, depth), an attached image (`core.vision`: bytes, format,
header, pixels), the rate limits.

A message may carry an image (`ChatRequest.image_b64`): it is stored with the session
(`sessions/<session_id>/images/<name>`, removed again if the turn fails), classified by the vision
skill concurrently with the text skills (a failing vision skill degrades the turn; an image the
skill cannot decode is the customer's 422), and the label and its score go to the policy, the
user's message (`Message.image`), the reply and the conversation log.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core import analytics as counters
from core.auth import Principal, PrincipalRole
from core.errors import (
    Conflict,
    IdempotencyLost,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unprocessable,
)
from core.followups import context_of, followup_query, is_offered
from core.ids import new_ulid
from core.models import (
    Channel,
    ChatReply,
    ChatRequest,
    IdempotencyCompletion,
    Message,
    MessageImage,
    Role,
    SessionState,
    Tenant,
    TurnRecord,
    is_handed_off,
    utcnow,
)
from core.policy import (
    Decision,
    FollowUp,
    ImageFinding,
    apply_decision,
    confident_intent,
    decide,
    mention_image,
    rate_limited,
)
from core.ports import (
    AnalyticsStore,
    ConversationLog,
    HistoryStore,
    RateLimitStore,
    SkillInvoker,
)
from core.sessions import SessionService, StateChange, check_metadata
from core.settings import Settings
from core.skill_contracts import (
    Hit,
    IntentEvent,
    IntentResult,
    SearchEvent,
    SearchResult,
    VisionEvent,
    VisionResult,
    fault_error,
)
from core.suggestions import WINDOW_DAYS, TopicStats
from core.vision import CheckedImage, VisionService

logger = logging.getLogger("lambdesk.conversation")

IDEMPOTENCY_WAIT_S = 5.0
STATS_TTL_S = 300.0


@dataclass(frozen=True)
class Claim:
    """This request's hold on an `Idempotency-Key`."""

    key: str
    owner: str


class IdempotencyBusy(Conflict):
    """Another request with the same key is running; retry after `retry_after` seconds."""

    code = "idempotency_in_progress"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))


def check_text(*, tenant: Tenant, max_text_chars: int, text: str) -> str:
    """The text of a turn, stripped: 422 when empty or not valid Unicode, 413 `text_too_long`
    over the limit."""
    stripped = text.strip()
    if not stripped:
        raise Unprocessable("text must not be empty", code="empty_text")
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError:
        raise Unprocessable("text is not valid Unicode", code="invalid_text") from None
    limit = tenant.max_text_chars or max_text_chars
    if len(stripped) > limit:
        raise PayloadTooLarge(
            f"text is {len(stripped)} characters; the limit is {limit}", code="text_too_long"
        )
    return stripped


def request_fingerprint(payload: Mapping[str, Any]) -> str:
    """A stable hash of a request body (what `Idempotency-Key` compares)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ConversationService:
    """Text turns (`chat`, `handle_turn`) for every tenant of one deployment."""

    def __init__(
        self,
        *,
        sessions: SessionService,
        history: HistoryStore,
        skills: SkillInvoker,
        log: ConversationLog,
        analytics: AnalyticsStore | None,
        settings: Settings,
        limits: RateLimitStore | None = None,
        vision: VisionService | None = None,
        stats_ttl_s: float = STATS_TTL_S,
    ) -> None:
        self.limits = limits
        self.vision = vision
        self.sessions = sessions
        self.history = history
        self.skills = skills
        self.log = log
        self.analytics = analytics
        self.settings = settings
        self.stats_ttl_s = stats_ttl_s
        self._stats: dict[str, tuple[float, TopicStats]] = {}

    # ------------------------------------------------------------------ the chat request
    async def chat(
        self,
        *,
        tenant: Tenant,
        principal: Principal,
        request: ChatRequest,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> ChatReply:
        """`POST /v1/chat`: a session token talks in its own session; an admin key in any session
        of its tenant, or in a new one when `session_id` is omitted. Honours `Idempotency-Key`."""
        check_text(tenant=tenant, max_text_chars=self.settings.max_text_chars, text=request.text)
        check_metadata(request.metadata, max_bytes=self.settings.max_metadata_bytes)
        checked = self._check_image(request.image_b64)
        session_id = request.session_id
        if principal.role is PrincipalRole.SESSION:
            if session_id is not None and session_id != principal.session_id:
                raise NotFound(f"session {session_id!r} not found")
            session_id = principal.session_id
        state: SessionState | None = None
        if session_id is not None:
            state = self.sessions.require(tenant_id=tenant.tenant_id, session_id=session_id)
        else:
            self._throttle_sessionless(tenant, principal)

        async def run(claim: Claim | None) -> ChatReply:
            current = state or self.sessions.create(tenant_id=tenant.tenant_id)
            image = await self._store_image(tenant.tenant_id, current.session_id, checked)
            try:
                return await self.handle_turn(
                    tenant=tenant,
                    state=current,
                    text=request.text,
                    request_id=request_id,
                    metadata=request.metadata,
                    claim=claim,
                    image=image,
                    suggestion=request.suggestion,
                )
            except BaseException:
                if image is not None:  # the turn is not stored: neither is its image
                    await asyncio.to_thread(
                        self._vision().blobs.delete, tenant_id=tenant.tenant_id, key=image.key
                    )
                raise

        fingerprint = request_fingerprint(
            {
                "caller": principal.session_id or principal.role.value,
                "session_id": session_id,
                "text": request.text,
                "metadata": request.metadata,
                "image": _digest(request.image_b64),
                "suggestion": request.suggestion,
            }
        )
        return await self.run_idempotent(
            tenant_id=tenant.tenant_id,
            key=idempotency_key,
            request_hash=fingerprint,
            run=run,
        )

    # ------------------------------------------------------------------ one turn
    async def handle_turn(
        self,
        *,
        tenant: Tenant,
        state: SessionState,
        text: str,
        channel: Channel = Channel.TEXT,
        request_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        claim: Claim | None = None,
        image: MessageImage | None = None,
        suggestion: bool = False,
    ) -> ChatReply:
        """Answer one customer message in the session whose current `state` the caller read, and
        store both sides of the turn with the new state — and, under an `Idempotency-Key`
        `claim`, the reply as the key's answer — at once. `suggestion`: the customer clicked one
        of the previous reply's suggestions."""
        started = time.perf_counter()
        tenant_id, session_id = tenant.tenant_id, state.session_id
        text = check_text(tenant=tenant, max_text_chars=self.settings.max_text_chars, text=text)
        limit = tenant.turns_per_minute or self.settings.turns_per_minute
        self._check_rate(state, limit)

        intent: IntentResult | None = None
        hits: list[Hit] = []
        followup: FollowUp | None = None
        stats: TopicStats | None = None
        latency: dict[str, float] = {}
        degraded: list[str] = []
        seen: VisionResult | None = None
        if not is_handed_off(state):  # handed off: the bot stays quiet, no skill is asked
            (
                (intent, hits, followup, stats, latency, degraded),
                (seen, vision_ms),
            ) = await asyncio.gather(
                self._understand(tenant, text, followup_query(state, text)),
                self._see(tenant_id, image),
            )
            if image is not None:
                latency["vision"] = round(vision_ms, 2)
                degraded += [] if seen is not None else ["vision"]
        image, finding = _labelled(image, seen)

        decisions: list[Decision] = []
        replies: list[ChatReply] = []
        previous: list[SessionState] = []

        def change(current: SessionState) -> StateChange:
            now = utcnow()
            self._check_rate(current, limit)
            decision = decide(
                tenant=tenant,
                state=current,
                text=text,
                intent_result=intent,
                hits=hits,
                image=finding,
                followup=followup,
                stats=stats,
            )
            decision = mention_image(tenant=tenant, decision=decision, image=finding)
            decisions.append(decision)
            previous.append(current)
            latency["total"] = round((time.perf_counter() - started) * 1000.0, 2)
            messages = _turn_messages(
                tenant_id, session_id, text, channel, decision, metadata, latency, degraded, image
            )
            reply = _reply(session_id, messages[1].message_id, decision, image)
            replies.append(reply)
            completion = None
            if claim is not None:
                completion = IdempotencyCompletion(
                    tenant_id=tenant_id,
                    key=claim.key,
                    owner=claim.owner,
                    response=reply.model_dump(mode="json"),
                )
            return StateChange(
                state=apply_decision(state=current, decision=decision, now=now),
                messages=messages,
                completion=completion,
            )

        committed = await self.sessions.change(
            tenant_id=tenant_id, session_id=session_id, change=change, state=state
        )
        decision, before = decisions[-1], previous[-1]
        user, bot = committed.messages
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
            image_label=finding.label if finding else None,
            image_score=finding.score if finding else None,
        )
        self._record_turn(record)
        clicked = suggestion or bool((metadata or {}).get(counters.SUGGESTION_METADATA))
        counters.record_turn(
            self.analytics,
            record=record,
            decision=decision,
            first_turn=before.turns == 0,
            metadata=metadata,
            previous_topic=context_of(before).get("topic"),
            clicked=" ".join(text.split()) if clicked or is_offered(before, text) else None,
        )
        return replies[-1]

    def _throttle_sessionless(self, tenant: Tenant, principal: Principal) -> None:
        """Turns outside any session (an admin key's one-off questions) have no session rate
        limit of their own: they count per key."""
        if self.limits is None:
            return
        limit = self.settings.admin_turns_per_minute
        wait = self.limits.hit(
            key=f"turns:{tenant.tenant_id}:{principal.key_id}", limit=limit, window_s=60
        )
        if wait is not None:
            raise RateLimited(
                f"more than {limit} turns a minute without a session for this key",
                retry_after=wait,
            )

    @staticmethod
    def _check_rate(state: SessionState, limit: int) -> None:
        if rate_limited(state=state, limit=limit, now=utcnow()):
            raise RateLimited(f"more than {limit} turns per minute in this session")

    async def _understand(
        self, tenant: Tenant, text: str, combined: str | None
    ) -> tuple[
        IntentResult | None,
        list[Hit],
        FollowUp | None,
        TopicStats | None,
        dict[str, float],
        list[str],
    ]:
        """Intent and retrieval, concurrently, about the message and (for a follow-up) about
        the `combined` text, with the topic table's refresh when it is due: (intent, hits,
        follow-up, topic table, latency per skill, degraded)."""
        settings = self.settings
        tenant_id = tenant.tenant_id

        def intent_call(query: str) -> Awaitable[tuple[Any | None, float]]:
            event = IntentEvent(tenant_id=tenant_id, text=query)
            return self._call("intent", event, IntentResult, settings.intent_timeout_s)

        def search_call(query: str, focus: str | None = None) -> Awaitable[tuple[Any, float]]:
            event = SearchEvent(tenant_id=tenant_id, query=query, top_k=3, focus=focus)
            return self._call("retrieval", event, SearchResult, settings.retrieval_timeout_s)

        (intent, intent_ms), (search, search_ms), stats = await asyncio.gather(
            intent_call(text), search_call(text), self._topics(tenant_id)
        )
        degraded = [name for name, r in (("intent", intent), ("retrieval", search)) if r is None]
        latency = {"intent": round(intent_ms, 2), "retrieval": round(search_ms, 2)}
        followup = None
        # The context is read only when the message alone is not answered by its intent (the
        # policy would not look at it otherwise): a confident follow-up costs no extra call.
        if combined and not confident_intent(tenant, intent):
            (more, more_ms), (found, found_ms) = await asyncio.gather(
                intent_call(combined), search_call(combined, focus=text)
            )
            followup = FollowUp(
                query=combined, intent_result=more, hits=found.hits if found else []
            )
            latency["followup"] = round(max(more_ms, found_ms), 2)
        return intent, list(search.hits) if search else [], followup, stats, latency, degraded

    async def _topics(self, tenant_id: str) -> TopicStats | None:
        """The tenant's topic table (what customers asked next, popular topics), refreshed from
        the analytics counters at most every `stats_ttl_s`; None when it cannot be read (the
        turn then suggests semantic neighbours only)."""
        if self.analytics is None:
            return None
        cached = self._stats.get(tenant_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.stats_ttl_s:
            return cached[1]
        analytics = self.analytics

        def load() -> TopicStats:
            end = utcnow().date()
            start = end - timedelta(days=WINDOW_DAYS - 1)
            return TopicStats.from_counts(
                analytics.daily_counts(tenant_id=tenant_id, start=start, end=end)
            )

        try:
            stats = await asyncio.to_thread(load)
        except Exception as exc:  # suggestions degrade to neighbours; the turn goes on
            logger.warning(json.dumps({"event": "topic_stats_failed", "error": repr(exc)[:300]}))
            return cached[1] if cached else None
        self._stats[tenant_id] = (now, stats)
        if len(self._stats) > 1000:  # a pool of many tenants: keep the table bounded
            self._stats.pop(next(iter(self._stats)))
        return stats

    # ------------------------------------------------------------------ images
    def _vision(self) -> VisionService:
        if self.vision is None:
            raise Unprocessable("this deployment takes no images", code="images_not_supported")
        return self.vision

    def _check_image(self, image_b64: str | None) -> CheckedImage | None:
        """The upfront checks of an attached image (413, 415, 422), before anything is stored."""
        return None if image_b64 is None else self._vision().check_b64(image_b64)

    async def _store_image(
        self, tenant_id: str, session_id: str, image: CheckedImage | None
    ) -> MessageImage | None:
        if image is None:
            return None
        return await asyncio.to_thread(
            self._vision().store_session_image,
            tenant_id=tenant_id,
            session_id=session_id,
            image=image,
        )

    async def _see(
        self, tenant_id: str, image: MessageImage | None
    ) -> tuple[VisionResult | None, float]:
        """The vision skill's answer for a stored image (None: no image, or the skill failed)."""
        if image is None:
            return None, 0.0
        event = VisionEvent(tenant_id=tenant_id, image_key=image.key, top_k=3)
        answer: tuple[VisionResult | None, float] = await self._call(
            "vision", event, VisionResult, self.settings.vision_timeout_s
        )
        return answer

    async def _call(
        self, name: str, event: Any, result: type[Any], timeout: float
    ) -> tuple[Any | None, float]:
        """(result or None when the skill failed or timed out, latency in ms)."""
        started = time.perf_counter()
        try:
            answer = await asyncio.wait_for(
                self.skills.call(name, event, result, timeout=timeout), timeout=timeout + 1.0
            )
        except Exception as exc:  # a skill never fails the turn: it degrades it
            logger.warning(
                json.dumps({"event": "skill_degraded", "skill": name, "error": repr(exc)[:300]})
            )
            answer = None
        return answer, (time.perf_counter() - started) * 1000.0

    def _record_turn(self, record: TurnRecord) -> None:
        """Log the turn; a failing log sink is reported, never turned into a failed request."""
        try:
            self.log.record_turn(record)
        except Exception:
            logger.exception("conversation log write failed")

    # ------------------------------------------------------------------ idempotency
    async def run_idempotent(
        self,
        *,
        tenant_id: str,
        key: str | None,
        request_hash: str,
        run: Callable[[Claim | None], Awaitable[ChatReply]],
    ) -> ChatReply:
        """Run `run` once per (tenant, key): a retry with the same request gets the stored reply;
        the same key with another request is 409; a duplicate still in progress waits briefly,
        then 409 with `Retry-After`; a claim whose owner died (its lease ran out) is taken over
        and run here."""
        if not key:
            return await run(None)
        history = self.history
        owner = new_ulid()
        deadline = time.monotonic() + IDEMPOTENCY_WAIT_S
        while True:
            existing = history.claim_idempotency(
                tenant_id=tenant_id,
                key=key,
                request_hash=request_hash,
                ttl_s=self.settings.idempotency_ttl_s,
                owner=owner,
                lease_s=self.settings.idempotency_lease_s,
            )
            if existing is None:
                break  # claimed (or taken over): this request runs
            if existing.request_hash != request_hash:
                raise Conflict(
                    "Idempotency-Key was already used with a different request",
                    code="idempotency_key_reused",
                )
            if existing.response is not None:
                return ChatReply.model_validate(existing.response)
            if time.monotonic() >= deadline:
                lease_left = (
                    (existing.lease_until - utcnow()).total_seconds()
                    if existing.lease_until
                    else self.settings.idempotency_lease_s
                )
                raise IdempotencyBusy(
                    "a request with this Idempotency-Key is still in progress",
                    retry_after=max(lease_left, 1.0),
                )
            await asyncio.sleep(0.05)
        try:
            return await run(Claim(key=key, owner=owner))
        except IdempotencyLost:
            raise  # another request holds the key now: not ours to release
        except BaseException:
            history.release_idempotency(tenant_id=tenant_id, key=key, owner=owner)
            raise


def _digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def _labelled(
    image: MessageImage | None, seen: VisionResult | None
) -> tuple[MessageImage | None, ImageFinding | None]:
    """The image with what the vision skill saw in it, and that finding for the policy. An
    image the skill refused (undecodable, …) is the customer's error: raised, the turn fails."""
    if image is None or seen is None:
        return image, None
    if seen.fault is not None:
        raise fault_error(seen.fault)
    if seen.label is None or seen.score is None:
        return image, None
    labelled = image.model_copy(
        update={"label": seen.label, "score": seen.score, "model_version": seen.model_version}
    )
    return labelled, ImageFinding(label=seen.label, score=seen.score)


def _reply(
    session_id: str, message_id: str, decision: Decision, image: MessageImage | None = None
) -> ChatReply:
    return ChatReply(
        session_id=session_id,
        message_id=message_id,
        text=decision.text,
        intent=decision.intent,
        confidence=decision.confidence,
        source=decision.source,
        citations=decision.citations,
        suggestions=decision.suggestions,
        handoff=decision.handoff,
        image=image,
        context_used=decision.context_used,
    )


def _turn_messages(
    tenant_id: str,
    session_id: str,
    text: str,
    channel: Channel,
    decision: Decision,
    metadata: Mapping[str, Any] | None,
    latency: dict[str, float],
    degraded: list[str],
    image: MessageImage | None = None,
) -> list[Message]:
    user = Message(
        message_id=new_ulid(),  # ids now, not at commit: the reply names the bot's message
        tenant_id=tenant_id,
        session_id=session_id,
        role=Role.USER,
        text=text,
        channel=channel,
        metadata=dict(metadata or {}),
        image=image,
    )
    bot = Message(
        message_id=new_ulid(),
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
            **({"context_used": True} if decision.context_used else {}),
            **({"acts": decision.acts} if decision.acts else {}),
            **({"quiet": True} if decision.quiet else {}),
            **(
                {"handoff_reason": decision.handoff_reason}
                if decision.handoff_reason and not decision.quiet
                else {}
            ),
        },
    )
    return [user, bot]
