"""`POST /v1/voice`: a voice message (multipart `file` or a raw `audio/*` body) becomes a voice job.

Session token: its own session; admin key: `session_id` of its tenant, or a new voice session.
Answers `202 {job_id, status, status_url}`; with `?wait=N` (N ≤ 30 s) `200` and the finished job
when it is done in time. `X-Callback-Url` (admin key only; https to a public address, within the
tenant's registered callback origins when it has any) receives a signed POST when the job ends.
The upload streams to a spool file and on to the blob store: never whole in memory.
The asr skill probes the stored upload before a job is made of it: 413 (bytes or seconds), 415
(type), 422 (decode), and the upload is removed again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from api.deps import PrincipalDep, RequestIdDep, ServicesDep, TenantDep
from api.errors import API_ERRORS
from api.job_uploads import job_answer, store_upload
from api.routes.jobs import JobView
from api.uploads import receive_upload
from core.auth import PrincipalRole
from core.callbacks import check_callback_url
from core.errors import Forbidden, NotFound, Unprocessable
from core.models import Channel
from core.voice import audio_in_key, check_audio_type

router = APIRouter(prefix="/v1", tags=["voice"], responses=API_ERRORS)


VOICE_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "session_id": {"type": "string"},
                    },
                    "required": ["file"],
                }
            },
            **{
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("audio/ogg", "audio/webm", "audio/wav", "audio/mpeg", "audio/mp4")
            },
        },
    }
}


@router.post(
    "/voice",
    status_code=202,
    response_model=None,
    responses={
        200: {"model": JobView, "description": "The job, finished within ?wait"},
        202: {"model": JobView, "description": "The job, queued or running: poll status_url"},
    },
    openapi_extra=VOICE_UPLOAD_DOC,
)
async def post_voice(
    request: Request,
    principal: PrincipalDep,
    tenant: TenantDep,
    services: ServicesDep,
    request_id: RequestIdDep,
    session_id: Annotated[str | None, Query(max_length=128)] = None,
    wait: Annotated[float, Query(ge=0, le=30)] = 0,
    x_callback_url: Annotated[str | None, Header(max_length=2000)] = None,
) -> Any:
    settings = services.settings
    tenant_id = tenant.tenant_id
    if x_callback_url is not None:
        if principal.role is not PrincipalRole.ADMIN:
            raise Forbidden(
                "only the tenant's admin key may set X-Callback-Url", code="callback_not_allowed"
            )
        check_callback_url(
            x_callback_url,
            allowed_origins=tenant.callback_origins,
            allow_insecure=settings.callback_allow_insecure,
        )
    upload = await receive_upload(
        request, max_bytes=settings.max_audio_bytes, limit_name="max_audio_bytes"
    )
    try:
        session_id = session_id or upload.fields.get("session_id") or None
        if upload.size == 0:
            raise Unprocessable("could not decode audio: empty body", code="undecodable_audio")
        check_audio_type(upload.content_type, sniff=upload.untyped)
        if principal.role is PrincipalRole.SESSION:
            if session_id is not None and session_id != principal.session_id:
                raise NotFound(f"session {session_id!r} not found")
            assert principal.session_id is not None
            session_id = principal.session_id
            services.sessions.require(tenant_id=tenant_id, session_id=session_id)
        elif session_id is not None:
            services.sessions.require(tenant_id=tenant_id, session_id=session_id)
        job_id = await store_upload(
            services.blobs, tenant_id=tenant_id, upload=upload, key=audio_in_key
        )
    finally:
        upload.close()
    if session_id is None:
        session_id = services.sessions.create(tenant_id=tenant_id, channel=Channel.VOICE).session_id
    job = await services.voice.submit(
        tenant_id=tenant_id,
        session_id=session_id,
        job_id=job_id,
        content_type=upload.content_type,
        sniff=upload.untyped,
        callback_url=x_callback_url,
        request_id=request_id,
    )
    return await job_answer(
        services.jobs, tenant_id=tenant_id, job=job, wait=wait, session_id=session_id
    )
