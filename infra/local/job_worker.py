"""The local job worker: runs queued jobs inside the server process, on its event loop.

`await worker.start()` registers the worker with `core.voice` (so the `voice` skill wakes it
instead of running jobs itself), puts back in the queue every job a previous process left
`running`, and starts a poll loop. Each poll (every `poll_interval_s`, or at once when woken)
lists the unfinished jobs, and claims and runs those that are due, at most `concurrency` at a
time; a claim is a conditional update, so a job runs exactly once even with several workers.
Failed attempts come back after an exponential backoff (`core.jobs.fail_attempt`).

`await worker.stop()` stops polling and waits up to `grace_s` for running jobs; jobs cut off then
stay `running` and are requeued by the next `start()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from core.bootstrap import Container
from core.jobs import (
    DEFAULT_BACKOFF_S,
    claim_job,
    is_due,
    requeue_interrupted,
    run_claimed,
    runner_for,
)
from core.models import Job, JobStatus
from core.voice import register_local_worker, unregister_local_worker

logger = logging.getLogger("lambdesk.job_worker")


class JobWorker:
    """Polls the JobStore and runs due jobs of the kinds that have a runner."""

    def __init__(
        self,
        container: Container,
        *,
        concurrency: int = 2,
        poll_interval_s: float = 1.0,
        backoff_s: float = DEFAULT_BACKOFF_S,
        grace_s: float = 30.0,
        kinds: tuple[str, ...] = ("voice", "intent_training"),
    ) -> None:
        self.container = container
        self.concurrency = concurrency
        self.poll_interval_s = poll_interval_s
        self.backoff_s = backoff_s
        self.grace_s = grace_s
        self.kinds = kinds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._stopping = False

    # lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        import training.jobs  # noqa: F401 - registers the intent_training runner

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self.recover()
        register_local_worker(self.container.settings, self.wake)
        self._task = asyncio.create_task(self._poll_loop(), name="job-worker")

    async def stop(self) -> None:
        unregister_local_worker(self.container.settings, self.wake)
        if self._task is not None:
            # A flag, not Task.cancel(): on Python 3.11 `asyncio.wait_for` can swallow a
            # cancellation that lands as its inner wait completes, and the loop would run on.
            self._stopping = True
            if self._wake is not None:
                self._wake.set()
            await self._task
            self._task = None
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=self.grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def recover(self) -> int:
        """Requeue the jobs a previous process left running; returns how many."""
        count = 0
        for job in self.container.jobs.list_unfinished(limit=1000):
            if (
                job.kind in self.kinds
                and job.status is JobStatus.RUNNING
                and requeue_interrupted(jobs=self.container.jobs, job=job) is not None
            ):
                count += 1
        if count:
            logger.info(json.dumps({"event": "jobs_requeued", "count": count}))
        return count

    def wake(self, tenant_id: str = "", job_id: str = "") -> None:
        """Poll now (thread-safe: the skill invoker calls this from its pool)."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(event.set)

    # polling ----------------------------------------------------------------
    async def _poll_loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            try:
                self.poll_once()
            except Exception as exc:  # a store hiccup must not kill the worker
                logger.error(json.dumps({"event": "job_poll_failed", "error": repr(exc)[:300]}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
            self._wake.clear()

    def poll_once(self) -> int:
        """Claim and start due jobs up to the free slots; returns how many started."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        started = 0
        for job in self.container.jobs.list_unfinished(limit=200):
            if started >= free:
                break
            key = (job.tenant_id, job.job_id)
            if job.kind not in self.kinds or key in self._running or not is_due(job):
                continue
            if runner_for(job.kind) is None:
                continue
            claimed = claim_job(jobs=self.container.jobs, job=job)
            if claimed is None:
                continue
            task = asyncio.create_task(self._run(claimed), name=f"job-{job.job_id}")
            self._running[key] = task
            started += 1
        return started

    async def _run(self, job: Job) -> None:
        key = (job.tenant_id, job.job_id)
        try:
            await run_claimed(container=self.container, job=job, backoff_s=self.backoff_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error(
                json.dumps({"event": "job_crashed", "job_id": job.job_id, "error": repr(exc)[:300]})
            )
        finally:
            self._running.pop(key, None)
            if self._wake is not None:
                self._wake.set()  # a slot is free: look for more

    @property
    def busy(self) -> int:
        return len(self._running)
