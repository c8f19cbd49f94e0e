"""`GET /v1/analytics/summary?from=&to=`: the tenant's conversation numbers per day and in
total, answered from the daily counters (admin). Days are UTC and inclusive; the default window
is the last 30 days; at most 366 days at a time."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AdminDep, ServicesDep
from api.errors import API_ERRORS
from core.analytics import default_window, summarize
from core.errors import Unprocessable

router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=API_ERRORS)


@router.get("/summary")
async def summary(
    principal: AdminDep,
    services: ServicesDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    default_start, default_end = default_window()
    end = end or default_end
    start = start or min(default_start, end)
    try:
        return summarize(
            analytics=services.analytics, tenant_id=principal.tenant_id, start=start, end=end
        )
    except ValueError as exc:
        raise Unprocessable(str(exc), code="bad_window") from exc
