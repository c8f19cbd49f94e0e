"""Training jobs: run a training workflow's definition for one job, recording each state's
progress, with every dependency passed in (the definition, how to invoke a step, where progress
goes), so the job worker, `POST /v1/intents/train` and tests wire it as they need.

    result = await run_training_job(job, definition=definition, invoke=invoke, progress=save)

The execution input comes from the job: `{tenant_id, run_id (the job id), data_key, mode,
force}`; the tenant is always the job's own, never one from the payload. A run that ends failed
(after the retries its definition allows) raises `TrainingFailed`, a permanent job error: the
workflow has retried already, and the live model is untouched. `progress` receives
`{"states": [...], "current": name}` after each state event.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import IO, Any

from core.errors import LambdeskError
from core.models import Job
from core.ports import BlobStore, JobStore, SkillInvoker
from core.workflow import Invoke, Sleep, run_workflow

JobProgress = Callable[[dict[str, Any]], Awaitable[None] | None]
MODES = ("frozen", "finetune")


class TrainingFailed(LambdeskError):
    """The workflow ended in its failure path (the error and cause are the run's)."""

    status = 422
    code = "training_failed"

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


def execution_input(job: Job) -> dict[str, Any]:
    payload = job.payload
    data_key = payload.get("data_key")
    if not isinstance(data_key, str) or not data_key:
        raise TrainingFailed("InvalidJob", "the job has no data_key")
    mode = str(payload.get("mode") or "frozen")
    if mode not in MODES:
        raise TrainingFailed("InvalidJob", f"mode must be one of {', '.join(MODES)}")
    return {
        "tenant_id": job.tenant_id,
        "run_id": job.job_id,
        "data_key": data_key,
        "mode": mode,
        "force": bool(payload.get("force", False)),
    }


async def run_training_job(
    job: Job,
    *,
    definition: Mapping[str, Any],
    invoke: Invoke,
    progress: JobProgress | None = None,
    sleep: Sleep = asyncio.sleep,
) -> dict[str, Any]:
    """Run the workflow for `job`; the job's result: `{status, output, states}`."""
    states: list[dict[str, Any]] = []

    async def record(event: dict[str, Any]) -> None:
        if event["status"] == "entered":
            states.append({"state": event["state"], "status": "running", "attempts": 1})
        elif states and states[-1]["state"] == event["state"]:
            entry = states[-1]
            entry["status"] = event["status"]
            for key in ("attempts", "seconds", "error"):
                if key in event:
                    entry[key] = event[key]
        if progress is not None:
            outcome = progress({"states": [dict(s) for s in states], "current": event["state"]})
            if inspect.isawaitable(outcome):
                await outcome

    result = await run_workflow(
        definition,
        execution_input(job),
        invoke=invoke,
        progress=record,
        sleep=sleep,
        name=job.job_id,
    )
    if not result.succeeded:
        raise TrainingFailed(result.error or "States.Runtime", result.cause or "")
    output = result.output if isinstance(result.output, dict) else {}
    publish = (output.get("publish") or {}).get("result") or {}
    evaluate = (output.get("evaluate") or {}).get("result") or {}
    return {
        "status": "succeeded",
        "version": (output.get("preprocess") or {}).get("result", {}).get("version"),
        "published": bool(publish.get("published")),
        "decision": publish,
        "heldout": evaluate.get("candidate"),
        "live_heldout": evaluate.get("live"),
        "report_key": evaluate.get("report_key"),
        "states": states,
    }


class TrainingService:
    """Training jobs (`POST /v1/intents/train`): the uploaded examples are stored under the
    job's run, a job of kind `intent_training` is queued and dispatched, and its runner executes
    the workflow definition (`definition(name)`, the same ASL the state machine runs) with each
    step a call of the steps function through the SkillInvoker — in-process locally, the `train`
    Lambda on AWS — recording per-state progress in the job."""

    KIND = "intent_training"

    def __init__(
        self,
        *,
        jobs: JobStore,
        blobs: BlobStore,
        skills: SkillInvoker,
        dispatch: Callable[[Job], Awaitable[None]],
        definition: Callable[[str], Mapping[str, Any]],
        steps_function: str = "train",
        step_timeout_s: float = 3600.0,
    ) -> None:
        self.jobs = jobs
        self.blobs = blobs
        self.skills = skills
        self.dispatch = dispatch
        self.definition = definition
        self.steps_function = steps_function
        self.step_timeout_s = step_timeout_s

    async def submit(self, *, tenant_id: str, data: IO[bytes], mode: str, force: bool) -> Job:
        """Store the examples, create the job, start it; nothing stays half-stored."""
        from core.jobs import create_job, new_job_id

        if mode not in MODES:
            raise TrainingFailed("InvalidJob", f"mode must be one of {', '.join(MODES)}")
        job_id = new_job_id()
        key = f"training/runs/{job_id}/data.csv"
        await asyncio.to_thread(
            self.blobs.put_file, tenant_id=tenant_id, key=key, file=data, content_type="text/csv"
        )
        try:
            job = create_job(
                jobs=self.jobs,
                tenant_id=tenant_id,
                kind=self.KIND,
                job_id=job_id,
                payload={"data_key": key, "mode": mode, "force": force},
                max_attempts=1,  # the workflow retries its own steps
            )
        except BaseException:
            await asyncio.to_thread(self.blobs.delete, tenant_id=tenant_id, key=key)
            raise
        with contextlib.suppress(Exception):  # stored: a poll (or a restart) picks it up
            await self.dispatch(job)
        return job

    async def run_job(self, job: Job) -> dict[str, Any]:
        from core.jobs import checkpoint_job

        current = job

        def progress(update: dict[str, Any]) -> None:
            nonlocal current
            current = checkpoint_job(jobs=self.jobs, job=current, progress={"progress": update})

        async def invoke(function: str, payload: dict[str, Any]) -> dict[str, Any]:
            return await self.skills.invoke(function, payload, timeout=self.step_timeout_s)

        return await run_training_job(
            job, definition=self.definition("intents"), invoke=invoke, progress=progress
        )
