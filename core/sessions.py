"""Chat sessions: opening one (and its session token), origin checks for public credentials, the
tenant-scoped lookup every session route goes through, and the ONE way session state changes.

`SessionService.change(...)` is that way: under the session's process-local lock it takes the
state (the one the caller already read, or a fresh read), asks a pure function for the new state
and the messages to append, and writes both in one conditional, atomic step
(`HistoryStore.commit`). When another writer got there first (`VersionConflict`) it re-reads and
asks again, with one retry policy for every caller: turns, handoffs, agent replies.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.auth import Principal, PrincipalRole, issue_session_token
from core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unprocessable,
    VersionConflict,
)
from core.identity import verified_user_id
from core.ids import new_id
from core.models import (
    Channel,
    IdempotencyCompletion,
    Message,
    SessionCreate,
    SessionCreated,
    SessionState,
    Tenant,
)
from core.ports import HistoryStore, RateLimitStore

STATE_WRITE_ATTEMPTS = 5
RETRY_BASE_S = 0.005


def origin_allowed(*, tenant: Tenant, origin: str | None) -> bool:
    """Whether a browser origin may use this tenant's public credentials (`*` allows any)."""
    if not origin:
        return False
    origin = origin.rstrip("/")
    return any(a == "*" or a.rstrip("/") == origin for a in tenant.allowed_origins)


def check_session_access(*, principal: Principal, session_id: str) -> None:
    """A session token reaches its own session only (others look missing: 404)."""
    if principal.role is PrincipalRole.SESSION and principal.session_id != session_id:
        raise NotFound(f"session {session_id!r} not found")


class SessionLocks:
    """Process-local per-session locks: writers of one session in this process queue up instead
    of racing to a version conflict. A lock lives while someone holds a reference to it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def lock(self, *, tenant_id: str, session_id: str) -> asyncio.Lock:
        key = (tenant_id, session_id)
        found = self._locks.get(key)
        if found is None:
            found = asyncio.Lock()
            self._locks[key] = found
        return found


@dataclass(frozen=True)
class StateChange:
    """What a change function asks for: the next state, the messages to append with it, and
    the `Idempotency-Key` answer to store in the same write (a turn run under a claim)."""

    state: SessionState
    messages: Sequence[Message] = field(default_factory=tuple)
    completion: IdempotencyCompletion | None = None


Change = Callable[[SessionState], StateChange | None]


@dataclass(frozen=True)
class Committed:
    """The outcome of `SessionService.change`: the state as stored (the unchanged one when the
    change function asked for nothing) and the stored messages."""

    state: SessionState
    messages: list[Message]
    changed: bool


class SessionService:
    """Opens sessions and changes their state, for one deployment's history store."""

    def __init__(
        self,
        *,
        history: HistoryStore,
        locks: SessionLocks,
        token_secret: bytes,
        token_ttl_s: int,
        limits: RateLimitStore | None = None,
        sessions_per_minute_per_client: int = 30,
        max_metadata_bytes: int = 4096,
    ) -> None:
        self.history = history
        self.locks = locks
        self.token_secret = token_secret
        self.token_ttl_s = token_ttl_s
        self.limits = limits
        self.sessions_per_minute_per_client = sessions_per_minute_per_client
        self.max_metadata_bytes = max_metadata_bytes

    # reading ----------------------------------------------------------------
    def require(self, *, tenant_id: str, session_id: str) -> SessionState:
        """The session's state; `NotFound` for an unknown session or another tenant's."""
        return require_session(history=self.history, tenant_id=tenant_id, session_id=session_id)

    # creating ---------------------------------------------------------------
    def create(
        self,
        *,
        tenant_id: str,
        channel: Channel = Channel.TEXT,
        origin: str | None = None,
        metadata: dict[str, object] | None = None,
        user_id: str | None = None,
    ) -> SessionState:
        """Store the state of a brand-new session (version 0). `user_id` must be verified already
        (`core.identity`): it is stored as the session's trusted `slots["user_id"]`."""
        slots: dict[str, object] = {"metadata": dict(metadata)} if metadata else {}
        if user_id:
            slots["user_id"] = user_id
        state = SessionState(
            tenant_id=tenant_id,
            session_id=new_id("s_"),
            channel=channel,
            origin=origin,
            slots=slots,
        )
        return self.history.put_state(state, expected_version=None)

    def open(
        self,
        *,
        tenant: Tenant,
        principal: Principal,
        origin: str | None,
        request: SessionCreate | None = None,
        client: str | None = None,
    ) -> SessionCreated:
        """Open a session for a widget key (from an allowed origin only; at most
        `sessions_per_minute_per_client` a minute per key and client address) or an admin
        key."""
        if principal.tenant_id != tenant.tenant_id:
            raise NotFound("tenant not found")
        if principal.role is PrincipalRole.WIDGET:
            if not origin_allowed(tenant=tenant, origin=origin):
                raise Forbidden("origin not allowed for this tenant", code="origin_not_allowed")
        elif principal.role is not PrincipalRole.ADMIN:
            raise Forbidden("a session token cannot open sessions", code="forbidden_role")
        request = request or SessionCreate()
        check_metadata(request.metadata, max_bytes=self.max_metadata_bytes)
        if principal.role is PrincipalRole.WIDGET and self.limits is not None:
            limit = self.sessions_per_minute_per_client
            wait = self.limits.hit(
                key=f"open:{tenant.tenant_id}:{principal.key_id}:{client or '-'}",
                limit=limit,
                window_s=60,
            )
            if wait is not None:
                raise RateLimited(
                    f"more than {limit} new sessions a minute from this client", retry_after=wait
                )
        user_id = verified_user_id(
            token_secret=self.token_secret,
            tenant_id=tenant.tenant_id,
            user_id=request.user_id,
            signature=request.user_signature,
        )
        state = self.create(
            tenant_id=tenant.tenant_id,
            channel=request.channel,
            origin=origin,
            metadata=request.metadata,
            user_id=user_id,
        )
        token, expires_at = issue_session_token(
            secret=self.token_secret,
            tenant_id=tenant.tenant_id,
            session_id=state.session_id,
            ttl_s=self.token_ttl_s,
        )
        return SessionCreated(
            session_id=state.session_id,
            session_token=token,
            expires_at=expires_at,
            greeting=tenant.greeting,
            user_verified=user_id is not None,
        )

    # changing ---------------------------------------------------------------
    async def change(
        self,
        *,
        tenant_id: str,
        session_id: str,
        change: Change,
        state: SessionState | None = None,
    ) -> Committed:
        """Apply `change` to the session's state and store the result with its messages, all at
        once. `state` is what the caller already read (spares a read; a stale one only costs a
        retry). `change` may raise to refuse (rate limit, …) and may run more than once, so it
        must be pure. `Conflict` (409 `session_busy`) when writers keep colliding."""
        async with self.locks.lock(tenant_id=tenant_id, session_id=session_id):
            current = state
            for attempt in range(STATE_WRITE_ATTEMPTS):
                if current is None:
                    current = self.require(tenant_id=tenant_id, session_id=session_id)
                wanted = change(current)
                if wanted is None:
                    return Committed(state=current, messages=[], changed=False)
                try:
                    stored, messages = self.history.commit(
                        wanted.state,
                        expected_version=current.version,
                        messages=wanted.messages,
                        completion=wanted.completion,
                    )
                    return Committed(state=stored, messages=messages, changed=True)
                except VersionConflict:
                    current = None
                    await asyncio.sleep(RETRY_BASE_S * (attempt + 1))
        raise Conflict("the session is busy; retry the request", code="session_busy")


METADATA_DEPTH = 8


def check_metadata(metadata: Mapping[str, Any], *, max_bytes: int) -> None:
    """Metadata a caller attaches (to a session or a message) must be small and shallow:
    413 `metadata_too_large` over `max_bytes` as JSON, 422 `metadata_too_deep` past
    `METADATA_DEPTH` levels. Checked before anything is written."""
    stack: list[tuple[Any, int]] = [(metadata, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > METADATA_DEPTH:
                raise Unprocessable(
                    f"metadata is nested deeper than {METADATA_DEPTH} levels",
                    code="metadata_too_deep",
                )
            stack.extend(
                (v, depth + 1) for v in (value.values() if isinstance(value, dict) else value)
            )
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > max_bytes:
        raise PayloadTooLarge(
            f"metadata is {size} bytes as JSON; the limit is {max_bytes} (max_metadata_bytes)",
            code="metadata_too_large",
        )


def require_session(*, history: HistoryStore, tenant_id: str, session_id: str) -> SessionState:
    """The session's state; `NotFound` for an unknown session or another tenant's."""
    state = history.get_state(tenant_id=tenant_id, session_id=session_id)
    if state is None:
        raise NotFound(f"session {session_id!r} not found")
    return state
