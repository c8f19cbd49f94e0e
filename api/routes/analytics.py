"""`GET /v1/analytics/summary`: the tenant's conversation numbers (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AdminDep, ServicesDep
from core.analytics import summarize

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


@router.get("/summary")
async def summary(
    principal: AdminDep,
    services: ServicesDep,
    since: Annotated[datetime | None, Query()] = None,
) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return summarize(history=services.history, tenant_id=principal.tenant_id, since=since)
