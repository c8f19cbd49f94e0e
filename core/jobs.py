"""The jobs service: long work (voice turns, training, ingestion) tracked in the JobStore.

Lifecycle: `create_job` stores a `queued` job; a worker claims it with `claim_job` (a conditional
update from `queued`, so exactly one worker wins) which makes it `running` and counts the
attempt; `complete_job` stores the result (`succeeded`); `fail_attempt` either schedules a retry
(`queued` again, `next_attempt_at` = now + base * 2^(attempt-1)) or, for a permanent error or
after `max_attempts`, marks it `failed` with the reason. `requeue_interrupted` puts a `running`
job back in the queue after a process died under it (restart recovery).

`JobService` is built by `core.bootstrap` with the job store, the runner of each job kind (a
service's bound method, e.g. `VoiceService.run_job`) and the callback sender; `process_job`
drives one job through claim → run → complete/fail, with optional inline retries (how a Lambda
worker, which has no poller, retries). A job that ends with a `callback_url` is handed to the
callback sender (signing: `core.callbacks`).

Starting a job's work is a `JobDispatcher`: locally it wakes the in-process worker
(`infra.local.job_worker`), on AWS `InvokerDispatcher` makes an `Event` invocation of the kind's
function through the SkillInvoker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from core.errors import LambdeskError, VersionConflict
from core.ids import new_ulid
from core.models import Job, JobStatus, utcnow
from core.ports import BlobStore, CallbackSender, JobStore, SkillInvoker
from core.skill_contracts import JobEvent

logger = logging.getLogger("lambdesk.jobs")

DEFAULT_BACKOFF_S = 2.0
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)

JobRunner = Callable[[Job], Awaitable[dict[str, Any]]]
JobDispatcher = Callable[[Job], Awaitable[None]]


class PermanentJobError(LambdeskError):
    """An error a retry cannot fix (bad input); the job fails at once with this reason."""

    status = 422
    code = "job_failed"


class InvokerDispatcher:
    """Starts a job by an asynchronous (`Event`) invocation of its kind's function."""

    def __init__(self, *, skills: SkillInvoker, functions: Mapping[str, str]) -> None:
        self.skills = skills
        self.functions = dict(functions)

    async def __call__(self, job: Job) -> None:
        name = self.functions.get(job.kind)
        if name is None:
            raise PermanentJobError(f"no function runs jobs of kind {job.kind!r}")
        await self.skills.call_async(name, JobEvent(tenant_id=job.tenant_id, job_id=job.job_id))


# --------------------------------------------------------------------------- state changes


def create_job(
    *,
    jobs: JobStore,
    tenant_id: str,
    kind: str,
    payload: Mapping[str, Any],
    job_id: str | None = None,
    callback_url: str | None = None,
    max_attempts: int = 3,
    session_id: str | None = None,
) -> Job:
    return jobs.create_job(
        Job(
            job_id=job_id or new_job_id(),
            tenant_id=tenant_id,
            kind=kind,
            payload=dict(payload),
            callback_url=callback_url,
            max_attempts=max_attempts,
            session_id=session_id,
        )
    )


async def start_upload_job(
    *,
    blobs: BlobStore,
    tenant_id: str,
    upload_key: str,
    create: Callable[[], Awaitable[Job]],
    dispatch: Callable[[Job], Awaitable[None]],
) -> Job:
    """A job over an upload already stored at `upload_key`: `create` probes the upload and stores
    the job; on any refusal or failure the upload is removed (nothing stays half-way). Then the
    job is started; one that does not start at once stays stored for a worker's poll (or a
    restart) to pick up."""
    try:
        job = await create()
    except BaseException:
        await asyncio.to_thread(blobs.delete, tenant_id=tenant_id, key=upload_key)
        raise
    try:
        await dispatch(job)
    except Exception as exc:
        logger.warning("%s job %s not started at once: %r", job.kind, job.job_id, exc)
    return job


def new_job_id() -> str:
    return "j_" + new_ulid().lower()


def is_due(job: Job, *, now: datetime | None = None) -> bool:
    return job.status is JobStatus.QUEUED and (
        job.next_attempt_at is None or job.next_attempt_at <= (now or utcnow())
    )


def claim_job(*, jobs: JobStore, job: Job) -> Job | None:
    """`running` with one more attempt, or None when another worker claimed it first."""
    if job.status is not JobStatus.QUEUED:
        return None
    try:
        return jobs.update_job(
            job.model_copy(
                update={
                    "status": JobStatus.RUNNING,
                    "attempts": job.attempts + 1,
                    "next_attempt_at": None,
                }
            ),
            expected_status=JobStatus.QUEUED,
        )
    except VersionConflict:
        return None


def checkpoint_job(*, jobs: JobStore, job: Job, progress: Mapping[str, Any]) -> Job:
    """Save partial progress of a running job (a retry resumes from it)."""
    return jobs.update_job(
        job.model_copy(update={"result": {**(job.result or {}), **progress}}),
        expected_status=JobStatus.RUNNING,
    )


def complete_job(*, jobs: JobStore, job: Job, result: Mapping[str, Any]) -> Job:
    return jobs.update_job(
        job.model_copy(
            update={"status": JobStatus.SUCCEEDED, "result": dict(result), "error": None}
        ),
        expected_status=JobStatus.RUNNING,
    )


def fail_attempt(
    *,
    jobs: JobStore,
    job: Job,
    reason: str,
    permanent: bool = False,
    backoff_s: float = DEFAULT_BACKOFF_S,
) -> Job:
    """Schedule a retry with exponential backoff, or fail for good (permanent / out of attempts)."""
    if permanent or job.attempts >= job.max_attempts:
        update: dict[str, Any] = {"status": JobStatus.FAILED, "error": reason}
    else:
        delay = backoff_s * 2 ** max(job.attempts - 1, 0)
        update = {
            "status": JobStatus.QUEUED,
            "error": reason,
            "next_attempt_at": utcnow() + timedelta(seconds=delay),
        }
    return jobs.update_job(job.model_copy(update=update), expected_status=JobStatus.RUNNING)


def requeue_interrupted(*, jobs: JobStore, job: Job) -> Job | None:
    """A `running` job whose worker died: back to `queued` (the attempt still counts)."""
    try:
        return jobs.update_job(
            job.model_copy(update={"status": JobStatus.QUEUED, "next_attempt_at": None}),
            expected_status=JobStatus.RUNNING,
        )
    except VersionConflict:
        return None


def is_permanent(exc: BaseException) -> bool:
    """Client errors (4xx: bad audio, no speech, missing session) are not worth a retry."""
    return isinstance(exc, LambdeskError) and 400 <= exc.status < 500


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, LambdeskError):
        return exc.message
    return str(exc) or type(exc).__name__


# --------------------------------------------------------------------------- running


class JobService:
    """Runs jobs: claims, runs the kind's runner, stores how it ended, hands callbacks over."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        runners: Mapping[str, JobRunner],
        callbacks: CallbackSender | None = None,
        backoff_s: float = DEFAULT_BACKOFF_S,
    ) -> None:
        self.jobs = jobs
        self.runners = dict(runners)
        self.callbacks = callbacks
        self.backoff_s = backoff_s

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.runners)

    async def process_job(
        self, *, tenant_id: str, job_id: str, inline_retries: bool = False
    ) -> Job:
        """Claim and run one job; with `inline_retries`, wait out the backoff and retry here."""
        jobs = self.jobs
        job = jobs.get_job(tenant_id=tenant_id, job_id=job_id)
        while True:
            if job.status in FINISHED:
                return job
            if not is_due(job):
                if not inline_retries or job.status is not JobStatus.QUEUED:
                    return job
                assert job.next_attempt_at is not None
                await asyncio.sleep(max((job.next_attempt_at - utcnow()).total_seconds(), 0.0))
                job = jobs.get_job(tenant_id=tenant_id, job_id=job_id)
                continue
            claimed = claim_job(jobs=jobs, job=job)
            if claimed is None:  # another worker has it
                return jobs.get_job(tenant_id=tenant_id, job_id=job_id)
            job = await self.run_claimed(claimed)
            if job.status in FINISHED or not inline_retries:
                return job

    async def run_claimed(self, job: Job) -> Job:
        """Run a job this worker has claimed and store how it ended (handing its callback over)."""
        jobs = self.jobs
        runner = self.runners.get(job.kind)
        started = time.perf_counter()
        try:
            if runner is None:
                raise PermanentJobError(f"no runner for job kind {job.kind!r}")
            result = await runner(job)
        except asyncio.CancelledError:
            raise  # the process is stopping: the job stays running and is requeued at next start
        except Exception as exc:
            permanent = is_permanent(exc)
            logger.warning(
                json.dumps(
                    {
                        "event": "job_attempt_failed",
                        "tenant": job.tenant_id,
                        "job_id": job.job_id,
                        "kind": job.kind,
                        "attempt": job.attempts,
                        "permanent": permanent,
                        "error": describe_error(exc)[:300],
                    }
                )
            )
            current = jobs.get_job(tenant_id=job.tenant_id, job_id=job.job_id)
            ended = fail_attempt(
                jobs=jobs,
                job=current,
                reason=describe_error(exc),
                permanent=permanent,
                backoff_s=self.backoff_s,
            )
        else:
            ended = complete_job(jobs=jobs, job=job, result=result)
        logger.info(
            json.dumps(
                {
                    "event": "job_attempt_done",
                    "tenant": ended.tenant_id,
                    "job_id": ended.job_id,
                    "kind": ended.kind,
                    "status": ended.status.value,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                }
            )
        )
        if ended.status in FINISHED and ended.callback_url and self.callbacks is not None:
            try:
                await self.callbacks.send(ended, job_view(ended))
            except Exception as exc:  # a callback never changes how the job ended
                logger.warning(
                    json.dumps(
                        {"event": "callback_not_queued", "job_id": ended.job_id, "error": repr(exc)}
                    )
                )
        return ended


async def wait_for_job(*, jobs: JobStore, tenant_id: str, job_id: str, timeout: float) -> Job:
    """The job once finished, or as it stands when `timeout` runs out."""
    deadline = time.monotonic() + max(timeout, 0.0)
    delay = 0.05
    while True:
        job = jobs.get_job(tenant_id=tenant_id, job_id=job_id)
        remaining = deadline - time.monotonic()
        if job.status in FINISHED or remaining <= 0:
            return job
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.5)


# --------------------------------------------------------------------------- public shape


def job_view(job: Job) -> dict[str, Any]:
    """What the API shows of a job (and what a callback carries)."""
    view: dict[str, Any] = {
        "job_id": job.job_id,
        "kind": job.kind,
        "status": job.status.value,
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "error": job.error,
    }
    if job.status is JobStatus.SUCCEEDED and job.result is not None:
        view.update({k: v for k, v in job.result.items() if not k.startswith("_")})
    elif job.status is JobStatus.RUNNING and job.result and "progress" in job.result:
        view["progress"] = job.result["progress"]  # a training job's states so far
    return view
