"""The voice skill: `run({"tenant_id", "job_id"}, ctx)` runs (or, locally, schedules) a voice job.

In a local server the job worker of this process is registered in `core.voice`: the skill only
wakes it, so the job runs on the server's event loop next to the text turns. Anywhere else (the
voice Lambda, a CLI) the skill builds the container once per process and runs the job here, with
inline retries and exponential backoff (`core.jobs.process_job`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from core.bootstrap import Container, build_container
from core.ports import SkillContext

_containers: dict[int, Container] = {}


def _container(ctx: SkillContext) -> Container:
    key = id(ctx.settings)
    found = _containers.get(key)
    if found is None:
        found = build_container(ctx.settings)
        _containers[key] = found
    return found


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    from core.jobs import process_job
    from core.voice import local_worker

    tenant_id = str(event["tenant_id"])
    job_id = str(event["job_id"])
    wake = local_worker(ctx.settings)
    if wake is not None:
        wake(tenant_id, job_id)
        return {"job_id": job_id, "scheduled": True}
    job = asyncio.run(
        process_job(
            container=_container(ctx), tenant_id=tenant_id, job_id=job_id, inline_retries=True
        )
    )
    return {"job_id": job.job_id, "status": job.status.value}
