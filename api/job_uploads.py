"""What the routes that turn an upload into a job (voice messages, video moderation) share:
storing the upload under a new job id, and the answer — `202 {job_id, status, status_url}`, or
with `?wait=N` `200` and the finished job when it is done in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse

from api.uploads import Upload
from core.jobs import FINISHED, job_view, new_job_id, wait_for_job
from core.models import Job
from core.ports import BlobStore, JobStore


def status_url(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


async def store_upload(
    blobs: BlobStore, *, tenant_id: str, upload: Upload, key: Callable[[str], str]
) -> str:
    """A new job id, with `upload` stored as the blob `key(job_id)` (in a worker thread)."""
    job_id = new_job_id()
    await asyncio.to_thread(
        blobs.put_file,
        tenant_id=tenant_id,
        key=key(job_id),
        file=upload.file,
        content_type=upload.content_type or "application/octet-stream",
    )
    return job_id


async def job_answer(
    jobs: JobStore, *, tenant_id: str, job: Job, wait: float, **extra: Any
) -> JSONResponse:
    """The job's view (with `extra` fields and its status URL), after waiting up to `wait`
    seconds for it to finish: 200 when it has, else 202."""
    if wait > 0:
        job = await wait_for_job(jobs=jobs, tenant_id=tenant_id, job_id=job.job_id, timeout=wait)
    body = {**job_view(job), **extra, "status_url": status_url(job.job_id)}
    return JSONResponse(status_code=200 if job.status in FINISHED else 202, content=body)
