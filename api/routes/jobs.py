"""`GET /v1/jobs/{id}` (status and result) and `GET /v1/jobs/{id}/audio` (the spoken reply).

A job is visible to its tenant's admin key and to the session token of the session it belongs
to; any other caller gets 404, exactly as for a missing job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from api.deps import PrincipalDep, ServicesDep
from api.errors import API_ERRORS
from api.job_uploads import status_url
from core.auth import Principal, PrincipalRole
from core.bootstrap import Services
from core.errors import NotFound
from core.jobs import job_view
from core.models import ChatReply, Job, JobStatus
from core.voice import REPLY_MEDIA_TYPES

router = APIRouter(prefix="/v1", tags=["jobs"], responses=API_ERRORS)

JobIdPath = Annotated[str, Path(min_length=1, max_length=128)]


class JobView(BaseModel):
    """What the API shows of a job (documentation of `core.jobs.job_view` and the fields the
    routes add): its state, and once a voice job has succeeded, its result. Other kinds of job
    may carry other result fields."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    kind: str
    status: JobStatus
    attempts: int
    created_at: datetime
    updated_at: datetime
    error: str | None
    session_id: str | None
    status_url: str
    transcript: str | None = None
    language: str | None = None
    duration_s: float | None = None
    reply: ChatReply | None = None
    audio_url: str | None = None
    timings: dict[str, float] | None = None


AUDIO_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The spoken reply",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in REPLY_MEDIA_TYPES.values()
        },
    }
}


def _owned_job(services: Services, principal: Principal, job_id: str) -> Job:
    job = services.jobs.get_job(tenant_id=principal.tenant_id, job_id=job_id)
    if principal.role is PrincipalRole.SESSION and job.payload.get("session_id") != (
        principal.session_id
    ):
        raise NotFound(f"job {job_id!r} not found")
    return job


@router.get("/jobs/{job_id}", response_model=None, responses={200: {"model": JobView}})
async def get_job(job_id: JobIdPath, principal: PrincipalDep, services: ServicesDep) -> Any:
    job = _owned_job(services, principal, job_id)
    return {
        **job_view(job),
        "session_id": job.payload.get("session_id"),
        "status_url": status_url(job.job_id),
    }


@router.get("/jobs/{job_id}/audio", response_class=Response, responses=AUDIO_DOC)
async def get_job_audio(
    job_id: JobIdPath,
    principal: PrincipalDep,
    services: ServicesDep,
    format: Annotated[str, Query(pattern="^(ogg|wav|mp3)$")] = "ogg",
) -> Response:
    job = _owned_job(services, principal, job_id)
    data, media_type = await services.voice.reply_audio(job=job, fmt=format)
    return Response(content=data, media_type=media_type)
