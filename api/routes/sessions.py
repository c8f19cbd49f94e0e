"""Sessions: open one (widget key from an allowed origin, or admin key), read its history
(oldest first, cursor paging), erase it with everything it produced (admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import AdminSessionDep, ClientDep, OpenerDep, ServicesDep, SessionDep, TenantDep
from api.errors import API_ERRORS
from core.models import MessagePage, SessionCreate, SessionCreated

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=API_ERRORS)


@router.post("", status_code=201)
async def create_session(
    request: Request,
    principal: OpenerDep,
    tenant: TenantDep,
    services: ServicesDep,
    client: ClientDep,
    body: SessionCreate | None = None,
) -> SessionCreated:
    return services.sessions.open(
        tenant=tenant,
        principal=principal,
        origin=request.headers.get("origin"),
        request=body,
        client=client,
    )


@router.get("/{session_id}/messages")
async def list_messages(
    state: SessionDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MessagePage:
    return services.history.list_messages(
        tenant_id=state.tenant_id, session_id=state.session_id, limit=limit, cursor=cursor
    )


@router.delete("/{session_id}", status_code=204)
async def delete_session(state: AdminSessionDep, services: ServicesDep) -> Response:
    await asyncio.to_thread(
        services.erasure.erase_session, tenant_id=state.tenant_id, session_id=state.session_id
    )
    return Response(status_code=204)
