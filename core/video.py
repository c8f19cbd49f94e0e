"""Video moderation as a job: an uploaded video becomes a `Job(kind="video")` whose result is the
timeline of labels and the segments flagged for the tenant's blocked labels.

`VideoService.submit(...)` is what `POST /v1/videos/moderate` calls once the upload is stored at
`videos/in/<job_id>`: the `video` skill probes it (container, frame size, duration as the
container says; 415/413/422 from its `Fault`, and the stored upload is removed again), then a job
is created and dispatched (locally the in-process worker wakes; on AWS the video function gets an
`Event` invocation).

`VideoService.run_job(job)` is the job's runner: the `video` skill samples frames with PyAV,
classifies them in batches through the vision skill, and answers a `ModerationResult` for the
tenant's `blocked_labels` and `moderation_threshold` as they are when the job runs. The upload
is deleted once the job has its outcome (a result, a refusal, or the last failed attempt): the
result keeps no pixels. Neither step imports a video library here: on AWS both run in the video
function (`LAMBDESK_LOCAL_SKILLS=video`), which calls the vision function through Lambda.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from core.jobs import JobDispatcher, PermanentJobError, create_job, is_permanent, start_upload_job
from core.models import Job
from core.ports import BlobStore, JobStore, SkillInvoker, TenantStore
from core.settings import Settings
from core.skill_contracts import (
    ModerateEvent,
    ModerationResult,
    VideoProbeEvent,
    VideoProbeResult,
    fault_error,
)

logger = logging.getLogger("lambdesk.video")

# Content types a video upload may declare (without parameters); others are 415 at once; an
# untyped upload (none, or application/octet-stream) is recognised by the probe.
VIDEO_CONTENT_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
MODES = ("interval", "scene")


def video_in_key(job_id: str) -> str:
    return f"videos/in/{job_id}"


class VideoService:
    """Video moderation: submitting uploads as jobs and running the jobs."""

    def __init__(
        self,
        *,
        blobs: BlobStore,
        jobs: JobStore,
        tenants: TenantStore,
        skills: SkillInvoker,
        dispatch: JobDispatcher,
        settings: Settings,
    ) -> None:
        self.blobs = blobs
        self.jobs = jobs
        self.tenants = tenants
        self.skills = skills
        self.dispatch = dispatch
        self.settings = settings

    async def submit(
        self,
        *,
        tenant_id: str,
        job_id: str,
        content_type: str,
        mode: str = "interval",
        every_s: float = 1.0,
        callback_url: str | None = None,
        request_id: str | None = None,
    ) -> Job:
        """Probe the upload already stored at `video_in_key(job_id)`, then create and start the
        job. On any refusal or failure the stored upload is removed: nothing stays half-way."""
        key = video_in_key(job_id)

        async def create() -> Job:
            probe = await self.skills.call(
                "video",
                VideoProbeEvent(
                    op="probe",
                    tenant_id=tenant_id,
                    video_key=key,
                    content_type=content_type,
                    max_seconds=self.settings.max_video_seconds,
                ),
                VideoProbeResult,
                timeout=self.settings.video_probe_timeout_s,
            )
            if probe.fault is not None:
                raise fault_error(probe.fault)
            return create_job(
                jobs=self.jobs,
                tenant_id=tenant_id,
                kind="video",
                job_id=job_id,
                callback_url=callback_url,
                payload={
                    "video_key": key,
                    "format": probe.format,
                    "duration_s": probe.duration_s,
                    "width": probe.width,
                    "height": probe.height,
                    "mode": mode,
                    "every_s": every_s,
                    "request_id": request_id,
                },
            )

        return await start_upload_job(
            blobs=self.blobs,
            tenant_id=tenant_id,
            upload_key=key,
            create=create,
            dispatch=self.dispatch,
        )

    async def run_job(self, job: Job) -> dict[str, Any]:
        started = time.perf_counter()
        tenant = self.tenants.get_tenant(tenant_id=job.tenant_id)
        payload = job.payload
        key = str(payload["video_key"])
        try:
            result = await self.skills.call(
                "video",
                ModerateEvent(
                    tenant_id=job.tenant_id,
                    video_key=key,
                    blocked=list(tenant.blocked_labels),
                    threshold=tenant.moderation_threshold,
                    mode=payload.get("mode", "interval"),
                    every_s=float(payload.get("every_s", 1.0)),
                    max_seconds=self.settings.max_video_seconds,
                ),
                ModerationResult,
                timeout=self.settings.video_timeout_s,
            )
            if result.fault is not None:
                raise PermanentJobError(result.fault.message, code=result.fault.code)
        except Exception as exc:
            if is_permanent(exc) or job.attempts >= job.max_attempts:
                await asyncio.to_thread(self.blobs.delete, tenant_id=job.tenant_id, key=key)
            raise
        await asyncio.to_thread(self.blobs.delete, tenant_id=job.tenant_id, key=key)
        answer = result.model_dump(mode="json", exclude={"fault"})
        answer["timings"] = {
            **answer.get("timings", {}),
            "job_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        return answer
