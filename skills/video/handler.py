"""AWS Lambda entry of the video function (a container image with PyAV; serverless.yml sets
`LAMBDESK_LOCAL_SKILLS=video`). It takes two kinds of event:

- a `JobEvent` `{"tenant_id", "job_id"}` (the API's `Event` invocation of a video job): the job
  runs through the `JobService` — claim, run, store the outcome, deliver the callback, retrying
  failed attempts inline (a Lambda has no poller). Its runner calls the `video` skill, which the
  invoker routes to this very process, and the skill calls the vision function through Lambda,
  so the tenant's image model is served from one place;
- any other event is the video skill's own (`probe`, which the API asks before it makes a job).

Services are built at import (the init phase) and reused while the container stays warm.
"""

from __future__ import annotations

import asyncio
from typing import Any

from core.bootstrap import build_services
from core.ports import SkillContext
from core.skill_contracts import JobEvent, JobRunResult, parse_event
from skills.video.skill import run

services = build_services()
context = SkillContext(blobs=services.blobs, settings=services.settings, skills=services.skills)


def handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "job_id" in event:
        request = parse_event("job", JobEvent, event)
        job = asyncio.run(
            services.job_service.process_job(
                tenant_id=request.tenant_id, job_id=request.job_id, inline_retries=True
            )
        )
        return JobRunResult(job_id=job.job_id, status=job.status.value).model_dump()
    return run(event, context)
