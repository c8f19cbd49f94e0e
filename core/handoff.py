"""Handing a session to human agents: the customer's (or an admin's) request, the agents' queue,
an agent's reply (stored in the session's history with `source=agent`), and giving the session
back to the bot. Every state change goes through `SessionService.change`, so the new handoff
status and the message that goes with it are stored together."""

from __future__ import annotations

from core.analytics import record_handoff
from core.errors import Unprocessable
from core.models import (
    HandoffStatus,
    Message,
    Role,
    SessionState,
    Source,
    Tenant,
    is_handed_off,
)
from core.ports import AnalyticsStore, HistoryStore
from core.sessions import SessionService, StateChange

HANDED_BACK_TEXT = "You're back with the virtual assistant. How else can I help?"


def _moved(state: SessionState, handoff: HandoffStatus, reason: str | None) -> SessionState:
    return state.model_copy(
        update={"handoff": handoff, "handoff_reason": reason, "consecutive_fallbacks": 0}
    )


class HandoffService:
    """The agents' side of a session."""

    def __init__(
        self,
        *,
        sessions: SessionService,
        history: HistoryStore,
        analytics: AnalyticsStore | None = None,
    ) -> None:
        self.sessions = sessions
        self.history = history
        self.analytics = analytics

    async def request(
        self,
        *,
        tenant: Tenant,
        state: SessionState,
        reason: str | None = None,
    ) -> SessionState:
        """Hand the session to humans (status `waiting`) and tell the customer so, once."""
        tenant_id = tenant.tenant_id

        def change(current: SessionState) -> StateChange | None:
            if is_handed_off(current):
                return None
            notice = Message(
                tenant_id=tenant_id,
                session_id=current.session_id,
                role=Role.BOT,
                text=tenant.handoff_text,
                source=Source.HANDOFF,
                metadata={"event": "handoff_requested"},
            )
            moved = _moved(current, HandoffStatus.WAITING, reason or "requested")
            return StateChange(state=moved, messages=[notice])

        committed = await self.sessions.change(
            tenant_id=tenant_id, session_id=state.session_id, change=change, state=state
        )
        if committed.changed:
            record_handoff(self.analytics, tenant_id=tenant_id, turnless=committed.state.turns == 0)
        return committed.state

    async def add_agent_message(
        self, *, state: SessionState, text: str, agent: str | None = None
    ) -> Message:
        """Store an agent's reply; the session becomes (or stays) `active` so the bot stays
        quiet."""
        text = text.strip()
        if not text:
            raise Unprocessable("text must not be empty", code="empty_text")

        def change(current: SessionState) -> StateChange:
            reply = Message(
                tenant_id=current.tenant_id,
                session_id=current.session_id,
                role=Role.AGENT,
                text=text,
                source=Source.AGENT,
                metadata={"agent": agent} if agent else {},
            )
            moved = _moved(current, HandoffStatus.ACTIVE, current.handoff_reason or "agent replied")
            return StateChange(state=moved, messages=[reply])

        committed = await self.sessions.change(
            tenant_id=state.tenant_id, session_id=state.session_id, change=change, state=state
        )
        return committed.messages[0]

    async def close(self, *, state: SessionState) -> SessionState:
        """Give the session back to the bot, and tell the customer so (once)."""

        def change(current: SessionState) -> StateChange | None:
            if current.handoff is HandoffStatus.CLOSED and current.handoff_reason is None:
                return None
            notice = Message(
                tenant_id=current.tenant_id,
                session_id=current.session_id,
                role=Role.BOT,
                text=HANDED_BACK_TEXT,
                source=Source.HANDOFF,
                metadata={"event": "handoff_closed"},
            )
            messages = [notice] if is_handed_off(current) else []
            return StateChange(state=_moved(current, HandoffStatus.CLOSED, None), messages=messages)

        committed = await self.sessions.change(
            tenant_id=state.tenant_id, session_id=state.session_id, change=change, state=state
        )
        return committed.state

    def queue(self, *, tenant_id: str, limit: int = 50) -> list[SessionState]:
        """The agents' queue: sessions waiting for or talking to an agent, most recent first."""
        out: list[SessionState] = []
        cursor: str | None = None
        while len(out) < limit:
            page = self.history.list_sessions(
                tenant_id=tenant_id, limit=limit, cursor=cursor, handoff_only=True
            )
            out.extend(s for s in page.items if is_handed_off(s))
            cursor = page.next_cursor
            if cursor is None:
                break
        return out[:limit]
