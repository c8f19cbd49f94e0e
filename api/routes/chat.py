"""`POST /v1/chat`: one text turn (session token: its own session; admin: any session of its
tenant, or a new one). Honours `Idempotency-Key`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from api.deps import PrincipalDep, RequestIdDep, ServicesDep, TenantDep
from api.errors import API_ERRORS
from core.models import ChatReply, ChatRequest

router = APIRouter(prefix="/v1", tags=["chat"], responses=API_ERRORS)


@router.post("/chat")
async def chat(
    body: ChatRequest,
    principal: PrincipalDep,
    tenant: TenantDep,
    services: ServicesDep,
    request_id: RequestIdDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ChatReply:
    return await services.conversation.chat(
        tenant=tenant,
        principal=principal,
        request=body,
        request_id=request_id,
        idempotency_key=idempotency_key,
    )
