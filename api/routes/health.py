"""`GET /healthz`: liveness and the backend name (no credentials needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(services: ServicesDep) -> dict[str, Any]:
    return {"status": "ok", "backend": services.settings.backend}
