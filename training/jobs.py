"""The `intent_training` job kind in a local server: its runner runs the intent workflow's ASL
definition (`core.training_jobs.run_training_job`) with the steps called in-process through the
container's skill invoker (function name `train`), checkpointing each state's progress into the
job, so `GET /v1/jobs/{id}` shows it while the job runs.

Importing this module registers the runner (`core.jobs.register_runner`); the local job worker
does so when it starts.
"""

from __future__ import annotations

from typing import Any

from core.bootstrap import Container
from core.jobs import checkpoint_job, register_runner
from core.models import Job
from core.training_jobs import run_training_job

KIND = "intent_training"
STEP_TIMEOUT_S = 3600.0


async def run_intent_training(container: Container, job: Job) -> dict[str, Any]:
    from training import workflow_steps
    from training.workflows import LOCAL_STEPS_FUNCTION, local_definition

    register = getattr(container.skills, "register", None)
    if register is not None:
        register(LOCAL_STEPS_FUNCTION, workflow_steps.run)
    definition = local_definition("intents", runner=str(job.payload.get("runner") or "lambda"))
    current = job

    def progress(update: dict[str, Any]) -> None:
        nonlocal current
        current = checkpoint_job(jobs=container.jobs, job=current, progress={"progress": update})

    async def invoke(function: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await container.skills.invoke(function, payload, timeout=STEP_TIMEOUT_S)

    return await run_training_job(job, definition=definition, invoke=invoke, progress=progress)


register_runner(KIND, run_intent_training)
