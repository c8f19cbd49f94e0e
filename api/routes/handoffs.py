"""Human handoff: a customer's (or admin's) request, the agents' queue, an agent's reply, and
the agent giving the session back to the bot."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AdminDep, AdminSessionDep, ServicesDep, SessionDep, TenantDep
from api.errors import API_ERRORS
from core.models import HandoffStatus, Message, SessionState

router = APIRouter(prefix="/v1", tags=["handoff"], responses=API_ERRORS)


class HandoffRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class HandoffInfo(BaseModel):
    session_id: str
    handoff: HandoffStatus
    reason: str | None = None
    last_activity: datetime
    turns: int

    @classmethod
    def of(cls, state: SessionState) -> HandoffInfo:
        return cls(
            session_id=state.session_id,
            handoff=state.handoff,
            reason=state.handoff_reason,
            last_activity=state.last_activity,
            turns=state.turns,
        )


class HandoffQueue(BaseModel):
    items: list[HandoffInfo]


class AgentMessageCreate(BaseModel):
    text: str = Field(max_length=10_000)
    agent: str | None = Field(default=None, max_length=200)


@router.post("/sessions/{session_id}/handoff")
async def request_handoff(
    state: SessionDep,
    tenant: TenantDep,
    services: ServicesDep,
    body: HandoffRequest | None = None,
) -> HandoffInfo:
    updated = await services.handoffs.request(
        tenant=tenant, state=state, reason=body.reason if body else None
    )
    return HandoffInfo.of(updated)


@router.delete("/sessions/{session_id}/handoff")
async def close_handoff(state: AdminSessionDep, services: ServicesDep) -> HandoffInfo:
    """The agent is done: the bot answers the session again (admin key)."""
    closed = await services.handoffs.close(state=state)
    return HandoffInfo.of(closed)


@router.get("/handoffs")
async def list_handoffs(
    principal: AdminDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HandoffQueue:
    states = services.handoffs.queue(tenant_id=principal.tenant_id, limit=limit)
    return HandoffQueue(items=[HandoffInfo.of(s) for s in states])


@router.post("/sessions/{session_id}/agent-messages", status_code=201)
async def add_agent_message(
    state: AdminSessionDep, services: ServicesDep, body: AgentMessageCreate
) -> Message:
    return await services.handoffs.add_agent_message(state=state, text=body.text, agent=body.agent)
