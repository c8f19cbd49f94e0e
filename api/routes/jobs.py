"""`GET /v1/jobs/{id}` (status and result) and `GET /v1/jobs/{id}/audio` (the spoken reply).

A job is visible to its tenant's admin key and to the session token of the session it belongs
to; any other caller gets 404, exactly as for a missing job.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import PrincipalDep, ServicesDep
from api.errors import API_ERRORS
from core.auth import Principal, PrincipalRole
from core.bootstrap import Services
from core.errors import NotFound
from core.jobs import job_view
from core.models import Job

router = APIRouter(prefix="/v1", tags=["jobs"], responses=API_ERRORS)

JobIdPath = Annotated[str, Path(min_length=1, max_length=128)]


def _owned_job(services: Services, principal: Principal, job_id: str) -> Job:
    job = services.jobs.get_job(tenant_id=principal.tenant_id, job_id=job_id)
    if principal.role is PrincipalRole.SESSION and job.payload.get("session_id") != (
        principal.session_id
    ):
        raise NotFound(f"job {job_id!r} not found")
    return job


@router.get("/jobs/{job_id}")
async def get_job(job_id: JobIdPath, principal: PrincipalDep, services: ServicesDep) -> Any:
    job = _owned_job(services, principal, job_id)
    return {
        **job_view(job),
        "session_id": job.payload.get("session_id"),
        "status_url": f"/v1/jobs/{job.job_id}",
    }


@router.get("/jobs/{job_id}/audio", response_class=Response)
async def get_job_audio(
    job_id: JobIdPath,
    principal: PrincipalDep,
    services: ServicesDep,
    format: Annotated[str, Query(pattern="^(ogg|wav|mp3)$")] = "ogg",
) -> Response:
    job = _owned_job(services, principal, job_id)
    data, media_type = await services.voice.reply_audio(job=job, fmt=format)
    return Response(content=data, media_type=media_type)
