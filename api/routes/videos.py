"""`POST /v1/videos/moderate` (admin key): an uploaded video (multipart `file` or a raw `video/*`
body; mp4, webm or mov) becomes a video moderation job, like a voice message: `202 {job_id,
status, status_url}`, or with `?wait=N` (N ≤ 30 s) `200` and the finished job when it is done in
time; `X-Callback-Url` (https to a public address, within the tenant's callback origins when it
has any) receives a signed POST when the job ends; `GET /v1/jobs/{id}` shows it.

`?mode=interval` (default: one frame every `?every=` seconds, 1 by default) or `?mode=scene` (a
frame per scene change). The upload streams to a spool file and on to the blob store (never
whole in memory); over `max_video_bytes` (50 MB) is 413 while it streams in. The video function
probes the stored upload before a job is made of it: not mp4/webm/mov 415, longer than
`max_video_seconds` (10 min) or frames over 4K 413, no video stream 422 — and the upload is
removed again. The job's result: the timeline of labels and the segments flagged for the
tenant's blocked labels at or above its moderation threshold.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request

from api.deps import AdminDep, RequestIdDep, ServicesDep, TenantDep
from api.errors import API_ERRORS
from api.job_uploads import job_answer, store_upload
from api.uploads import receive_upload
from core.callbacks import check_callback_url
from core.errors import Unprocessable, UnsupportedMediaType
from core.video import VIDEO_CONTENT_TYPES, video_in_key

router = APIRouter(prefix="/v1", tags=["videos"], responses=API_ERRORS)

VIDEO_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            **{
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in sorted(VIDEO_CONTENT_TYPES)
            },
        },
    }
}


@router.post(
    "/videos/moderate",
    status_code=202,
    responses={200: {"description": "The job, finished within ?wait"}},
    openapi_extra=VIDEO_UPLOAD_DOC,
)
async def moderate_video(
    request: Request,
    principal: AdminDep,
    tenant: TenantDep,
    services: ServicesDep,
    request_id: RequestIdDep,
    wait: Annotated[float, Query(ge=0, le=30)] = 0,
    mode: Annotated[Literal["interval", "scene"], Query()] = "interval",
    every: Annotated[float, Query(ge=0.1, le=60)] = 1.0,
    x_callback_url: Annotated[str | None, Header(max_length=2000)] = None,
) -> Any:
    settings = services.settings
    tenant_id = tenant.tenant_id
    if x_callback_url is not None:
        check_callback_url(
            x_callback_url,
            allowed_origins=tenant.callback_origins,
            allow_insecure=settings.callback_allow_insecure,
        )
    upload = await receive_upload(
        request, max_bytes=settings.max_video_bytes, limit_name="max_video_bytes"
    )
    try:
        if upload.size == 0:
            raise Unprocessable("could not decode the video: empty body", code="undecodable_video")
        declared = upload.content_type.split(";", 1)[0].strip().lower()
        if not upload.untyped and declared not in VIDEO_CONTENT_TYPES:
            raise UnsupportedMediaType(
                f"unsupported video type {declared!r}; send mp4, webm or mov",
                code="unsupported_video",
            )
        job_id = await store_upload(
            services.blobs, tenant_id=tenant_id, upload=upload, key=video_in_key
        )
    finally:
        upload.close()
    job = await services.video.submit(
        tenant_id=tenant_id,
        job_id=job_id,
        content_type=upload.content_type,
        mode=mode,
        every_s=every,
        callback_url=x_callback_url,
        request_id=request_id,
    )
    return await job_answer(services.jobs, tenant_id=tenant_id, job=job, wait=wait)
