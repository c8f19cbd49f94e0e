"""The AWS Lambda entry of the job function (`jobs` in serverless.yml): voice turns and
training runs.

The API stores a job and makes an `Event` invocation with a `JobEvent` (`{"tenant_id",
"job_id"}`); this handler runs that job through the `JobService` — claim, run the kind's runner,
store the outcome, deliver the callback — retrying failed attempts inline with backoff (a Lambda
has no poller). The runners call the skills (asr, intent, retrieval, tts; the training steps'
`train` function) through the Lambda invoker, so this function itself needs no model library.
Services are built at import (init phase) and reused while the container stays warm.
"""

from __future__ import annotations

import asyncio
from typing import Any

from core.bootstrap import build_services
from core.skill_contracts import JobEvent, JobRunResult, parse_event

services = build_services()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event("job", JobEvent, event)
    job = asyncio.run(
        services.job_service.process_job(
            tenant_id=request.tenant_id, job_id=request.job_id, inline_retries=True
        )
    )
    return JobRunResult(job_id=job.job_id, status=job.status.value).model_dump()
