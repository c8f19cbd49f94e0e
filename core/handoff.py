"""Handing a session to human agents: the customer's (or an admin's) request, the agents' queue,
and an agent's reply, which is stored in the session's history with `source=agent`."""

from __future__ import annotations

import asyncio

from core.analytics import record_handoff
from core.bootstrap import Container
from core.conversation import session_lock
from core.errors import Conflict, Unprocessable, VersionConflict
from core.models import HandoffStatus, Message, Role, SessionState, Source, Tenant
from core.sessions import require_session

_ATTEMPTS = 5
HANDED_BACK_TEXT = "You're back with the virtual assistant. How else can I help?"
_OPEN = (HandoffStatus.WAITING, HandoffStatus.ACTIVE)


async def _update_state(
    container: Container,
    *,
    tenant_id: str,
    session_id: str,
    handoff: HandoffStatus,
    reason: str | None,
    only_if_not_open: bool,
) -> tuple[SessionState, bool]:
    """Move the session's handoff status; (state, changed). Caller holds the session lock."""
    for attempt in range(_ATTEMPTS):
        state = require_session(
            history=container.history, tenant_id=tenant_id, session_id=session_id
        )
        if only_if_not_open and state.handoff in _OPEN:
            return state, False
        if state.handoff == handoff and state.handoff_reason == reason:
            return state, False
        try:
            new = container.history.put_state(
                state.model_copy(
                    update={
                        "handoff": handoff,
                        "handoff_reason": reason,
                        "consecutive_fallbacks": 0,
                    }
                ),
                expected_version=state.version,
            )
            return new, True
        except VersionConflict:
            await asyncio.sleep(0.005 * (attempt + 1))
    raise Conflict("the session is busy; retry the request", code="session_busy")


async def request_handoff(
    *, container: Container, tenant: Tenant, session_id: str, reason: str | None = None
) -> SessionState:
    """Hand the session to humans (status `waiting`) and tell the customer so, once."""
    tenant_id = tenant.tenant_id
    async with session_lock(container, tenant_id=tenant_id, session_id=session_id):
        state, changed = await _update_state(
            container,
            tenant_id=tenant_id,
            session_id=session_id,
            handoff=HandoffStatus.WAITING,
            reason=reason or "requested",
            only_if_not_open=True,
        )
        if changed:
            container.history.append_messages(
                tenant_id=tenant_id,
                session_id=session_id,
                messages=[
                    Message(
                        tenant_id=tenant_id,
                        session_id=session_id,
                        role=Role.BOT,
                        text=tenant.handoff_text,
                        source=Source.HANDOFF,
                        metadata={"event": "handoff_requested"},
                    )
                ],
            )
    if changed:
        record_handoff(container.analytics, tenant_id=tenant_id, turnless=state.turns == 0)
    return state


async def add_agent_message(
    *,
    container: Container,
    tenant_id: str,
    session_id: str,
    text: str,
    agent: str | None = None,
) -> Message:
    """Store an agent's reply; the session becomes (or stays) `active` so the bot stays quiet."""
    text = text.strip()
    if not text:
        raise Unprocessable("text must not be empty", code="empty_text")
    async with session_lock(container, tenant_id=tenant_id, session_id=session_id):
        state = require_session(
            history=container.history, tenant_id=tenant_id, session_id=session_id
        )
        await _update_state(
            container,
            tenant_id=tenant_id,
            session_id=session_id,
            handoff=HandoffStatus.ACTIVE,
            reason=state.handoff_reason or "agent replied",
            only_if_not_open=False,
        )
        (stored,) = container.history.append_messages(
            tenant_id=tenant_id,
            session_id=session_id,
            messages=[
                Message(
                    tenant_id=tenant_id,
                    session_id=session_id,
                    role=Role.AGENT,
                    text=text,
                    source=Source.AGENT,
                    metadata={"agent": agent} if agent else {},
                )
            ],
        )
    return stored


async def close_handoff(*, container: Container, tenant_id: str, session_id: str) -> SessionState:
    """Give the session back to the bot, and tell the customer so (once)."""
    async with session_lock(container, tenant_id=tenant_id, session_id=session_id):
        before = require_session(
            history=container.history, tenant_id=tenant_id, session_id=session_id
        )
        state, changed = await _update_state(
            container,
            tenant_id=tenant_id,
            session_id=session_id,
            handoff=HandoffStatus.CLOSED,
            reason=None,
            only_if_not_open=False,
        )
        if changed and before.handoff in _OPEN:
            container.history.append_messages(
                tenant_id=tenant_id,
                session_id=session_id,
                messages=[
                    Message(
                        tenant_id=tenant_id,
                        session_id=session_id,
                        role=Role.BOT,
                        text=HANDED_BACK_TEXT,
                        source=Source.HANDOFF,
                        metadata={"event": "handoff_closed"},
                    )
                ],
            )
    return state


def list_handoffs(*, container: Container, tenant_id: str, limit: int = 50) -> list[SessionState]:
    """The agents' queue: sessions waiting for or talking to an agent, most recent first."""
    out: list[SessionState] = []
    cursor: str | None = None
    while len(out) < limit:
        page = container.history.list_sessions(
            tenant_id=tenant_id, limit=limit, cursor=cursor, handoff_only=True
        )
        out.extend(s for s in page.items if s.handoff in _OPEN)
        cursor = page.next_cursor
        if cursor is None:
            break
    return out[:limit]
