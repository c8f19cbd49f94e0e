"""`POST /v1/intents/train` (admin): start a training job from uploaded examples.

The body is the examples CSV (`text,intent`; raw `text/csv` or multipart `file`), at most
`max_document_bytes`, streamed to the blob store; `?mode=frozen|finetune` (default: the tenant's
setting) and `?force=true` (publish even if worse than the live model). A job of kind
`intent_training` is queued; the answer is `202 {job_id, status, status_url}`. The job runs the
intent workflow (preprocess → train → evaluate → publish-if-better, the same States Language
definition as the AWS state machine); `GET /v1/jobs/{id}` shows its per-state progress while it
runs and the outcome (version, whether it was published, held-out figures) when done. Another
tenant's job id answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from api.deps import AdminDep, ServicesDep, TenantDep
from api.errors import API_ERRORS
from api.job_uploads import status_url
from api.uploads import receive_upload
from core.errors import BadRequest, UnsupportedMediaType

router = APIRouter(prefix="/v1/intents", tags=["intents"], responses=API_ERRORS)

ACCEPTED_TYPES = ("text/csv", "text/plain", "application/csv", "application/octet-stream", "")
TRAIN_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


@router.post("/train", status_code=202, openapi_extra=TRAIN_UPLOAD_DOC)
async def train_intents(
    request: Request,
    principal: AdminDep,
    tenant: TenantDep,
    services: ServicesDep,
    mode: Annotated[Literal["frozen", "finetune"] | None, Query()] = None,
    force: Annotated[bool, Query()] = False,
) -> Any:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data" and content_type not in ACCEPTED_TYPES:
        raise UnsupportedMediaType("send the examples as text/csv (or multipart 'file')")
    upload = await receive_upload(
        request,
        max_bytes=services.settings.max_document_bytes,
        limit_name="max_document_bytes",
    )
    try:
        if upload.size == 0:
            raise BadRequest("no training data", code="empty_body")
        job = await services.training.submit(
            tenant_id=principal.tenant_id,
            data=upload.file,
            mode=mode or tenant.intent_training_mode,
            force=force,
        )
    finally:
        upload.close()
    return {"job_id": job.job_id, "status": "queued", "status_url": status_url(job.job_id)}
