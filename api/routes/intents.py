"""`POST /v1/intents/train` (admin): start a training job from uploaded examples.

The body is the examples CSV (`text,intent`; raw `text/csv` or multipart `file`), at most
`MAX_TRAINING_BYTES`; `?mode=frozen|finetune` (default: the tenant's setting) and `?force=true`
(publish even if worse than the live model). The CSV is stored under the job's run and a job of
kind `intent_training` is queued; the answer is `202 {job_id, status, status_url}`. The job runs
the intent workflow (preprocess → train → evaluate → publish-if-better); `GET /v1/jobs/{id}`
shows its per-state progress while it runs and the outcome (version, whether it was
published, held-out figures) when done. Another tenant's job id answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile

from api.deps import AdminDep, ContainerDep, TenantDep
from core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from core.jobs import create_job, new_job_id
from core.voice import local_worker

router = APIRouter(prefix="/v1/intents", tags=["intents"])

MAX_TRAINING_BYTES = 20 * 1024 * 1024
ACCEPTED_TYPES = ("text/csv", "text/plain", "application/csv", "application/octet-stream")


async def _csv_body(request: Request) -> bytes:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_TRAINING_BYTES:
        raise PayloadTooLarge(f"training data is limited to {MAX_TRAINING_BYTES} bytes")
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise BadRequest("multipart upload needs a 'file' part", code="missing_file")
        data = await part.read(MAX_TRAINING_BYTES + 1)
    elif content_type in ACCEPTED_TYPES:
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_TRAINING_BYTES:
                break
    else:
        raise UnsupportedMediaType("send the examples as text/csv (or multipart 'file')")
    if len(data) > MAX_TRAINING_BYTES:
        raise PayloadTooLarge(f"training data is limited to {MAX_TRAINING_BYTES} bytes")
    if not data.strip():
        raise BadRequest("no training data", code="empty_body")
    return data


@router.post("/train", status_code=202)
async def train_intents(
    request: Request,
    principal: AdminDep,
    tenant: TenantDep,
    container: ContainerDep,
    mode: Annotated[Literal["frozen", "finetune"] | None, Query()] = None,
    force: Annotated[bool, Query()] = False,
) -> Any:
    data = await _csv_body(request)
    job_id = new_job_id()
    key = f"training/runs/{job_id}/data.csv"
    container.blobs.put(tenant_id=principal.tenant_id, key=key, data=data, content_type="text/csv")
    try:
        create_job(
            jobs=container.jobs,
            tenant_id=principal.tenant_id,
            kind="intent_training",
            job_id=job_id,
            payload={
                "data_key": key,
                "mode": mode or tenant.intent_training_mode,
                "force": force,
            },
            max_attempts=1,  # the workflow retries its own steps
        )
    except BaseException:
        container.blobs.delete(tenant_id=principal.tenant_id, key=key)
        raise
    wake = local_worker(container.settings)
    if wake is not None:
        wake(principal.tenant_id, job_id)
    return {"job_id": job_id, "status": "queued", "status_url": f"/v1/jobs/{job_id}"}
