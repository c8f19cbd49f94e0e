"""`POST /v1/voice`: a voice message (multipart `file` or a raw `audio/*` body) becomes a voice job.

Session token: its own session; admin key: `session_id` of its tenant, or a new voice session.
Answers `202 {job_id, status, status_url}`; with `?wait=N` (N ≤ 30 s) `200` and the finished job
when it is done in time. `X-Callback-Url` receives a signed POST when the job ends.
The asr skill probes the stored upload before a job is made of it: 413 (bytes or seconds), 415
(type), 422 (decode), and the upload is removed again.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from api.deps import PrincipalDep, RequestIdDep, ServicesDep, TenantDep
from core.auth import PrincipalRole
from core.errors import BadRequest, NotFound, PayloadTooLarge, Unprocessable
from core.jobs import FINISHED, job_view, new_job_id, wait_for_job
from core.models import Channel
from core.voice import audio_in_key, check_audio_type

router = APIRouter(prefix="/v1", tags=["voice"])


def status_url(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


async def _read_upload(request: Request) -> tuple[bytes, str, bool, str | None]:
    """(audio bytes, content type, whether the type must be sniffed, form session_id)."""
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequest("multipart body needs a `file` part", code="missing_file")
        data = await upload.read()
        part_type = upload.content_type or ""
        session = form.get("session_id")
        untyped = part_type.split(";")[0].strip().lower() in ("", "application/octet-stream")
        return data, part_type, untyped, session if isinstance(session, str) and session else None
    return await request.body(), content_type, False, None


@router.post("/voice", status_code=202)
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
    data, content_type, untyped, form_session = await _read_upload(request)
    session_id = session_id or form_session
    settings = services.settings
    if len(data) > settings.max_audio_bytes:
        raise PayloadTooLarge(
            f"audio is {len(data)} bytes; the limit is {settings.max_audio_bytes} bytes "
            "(max_audio_bytes)",
            code="audio_too_large",
        )
    if not data:
        raise Unprocessable("could not decode audio: empty body", code="undecodable_audio")
    check_audio_type(content_type, sniff=untyped)
    if x_callback_url is not None and not x_callback_url.startswith(("http://", "https://")):
        raise BadRequest("X-Callback-Url must be an http(s) URL", code="bad_callback_url")

    tenant_id = tenant.tenant_id
    if principal.role is PrincipalRole.SESSION:
        if session_id is not None and session_id != principal.session_id:
            raise NotFound(f"session {session_id!r} not found")
        assert principal.session_id is not None
        session_id = principal.session_id
        services.sessions.require(tenant_id=tenant_id, session_id=session_id)
    elif session_id is not None:
        services.sessions.require(tenant_id=tenant_id, session_id=session_id)

    job_id = new_job_id()
    await asyncio.to_thread(
        services.blobs.put,
        tenant_id=tenant_id,
        key=audio_in_key(job_id),
        data=data,
        content_type=content_type or "application/octet-stream",
    )
    if session_id is None:
        session_id = services.sessions.create(tenant_id=tenant_id, channel=Channel.VOICE).session_id
    job = await services.voice.submit(
        tenant_id=tenant_id,
        session_id=session_id,
        job_id=job_id,
        content_type=content_type,
        sniff=untyped,
        callback_url=x_callback_url,
        request_id=request_id,
    )
    if wait > 0:
        job = await wait_for_job(
            jobs=services.jobs, tenant_id=tenant_id, job_id=job_id, timeout=wait
        )
    body = {**job_view(job), "session_id": session_id, "status_url": status_url(job_id)}
    return JSONResponse(status_code=200 if job.status in FINISHED else 202, content=body)
