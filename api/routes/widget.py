"""`GET /v1/widget/status?key=…`: whether the calling page's origin may use a widget key.

A browser refuses a cross-origin call whose preflight the API declined, and a page cannot read
why: the API answers preflights only for origins some tenant allows. So when the widget cannot
open a session it asks here — a simple GET that needs no preflight, answered to any origin —
and tells the customer "not available on this website" instead of "cannot be reached". The
answer says no more than whether this public key works from this origin (an unknown key: no).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import ServicesDep
from api.errors import error_responses
from core.auth import WIDGET_PREFIX, hash_key
from core.models import KeyRole
from core.sessions import origin_allowed

router = APIRouter(prefix="/v1/widget", tags=["widget"], responses=error_responses(400, 422))


class WidgetStatus(BaseModel):
    origin_allowed: bool


@router.get("/status")
async def widget_status(
    request: Request,
    services: ServicesDep,
    key: Annotated[str, Query(min_length=1, max_length=200)],
) -> WidgetStatus:
    origin = request.headers.get("origin")
    if origin:
        request.state.cors_origin = origin  # this answer is for any page to read
    allowed = False
    if key.isascii() and key.startswith(WIDGET_PREFIX):
        stored = services.tenants.get_key(key_hash=hash_key(key))
        if stored is not None and stored.role is KeyRole.WIDGET:
            tenant = services.tenants.find_tenant(tenant_id=stored.tenant_id)
            allowed = tenant is not None and origin_allowed(tenant=tenant, origin=origin)
    return WidgetStatus(origin_allowed=allowed)
