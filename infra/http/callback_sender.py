"""`CallbackSender` over HTTPS with httpx: signed POSTs of finished jobs to their callback URLs.

Deliveries run apart from the jobs: `send` puts the callback on a bounded queue and returns; a
few delivery tasks of their own POST it with short timeouts and retry errors and 5xx answers
with exponential backoff. A receiver that never answers only ever holds a delivery task, never a
job worker's slot. Where no event loop outlives the call (a Lambda invocation), `inline=True`
delivers within `send` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from core.callbacks import callback_secret, sign_callback
from core.models import Job
from core.ports import CallbackSender

logger = logging.getLogger("lambdesk.callbacks")

ATTEMPTS = 3
TIMEOUT_S = 5.0
BACKOFF_S = 0.5
QUEUE_SIZE = 1000
DELIVERY_TASKS = 4


class HttpxCallbackSender(CallbackSender):
    def __init__(
        self,
        *,
        token_secret: bytes,
        attempts: int = ATTEMPTS,
        timeout_s: float = TIMEOUT_S,
        backoff_s: float = BACKOFF_S,
        inline: bool = False,
        tasks: int = DELIVERY_TASKS,
    ) -> None:
        self.token_secret = token_secret
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.inline = inline
        self.task_count = tasks
        self._queue: asyncio.Queue[tuple[Job, bytes]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if self.inline or self._tasks:
            return
        self._queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._tasks = [
            asyncio.create_task(self._deliver_forever(), name=f"callbacks-{i}")
            for i in range(self.task_count)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._queue = None

    async def send(self, job: Job, body: Mapping[str, Any]) -> None:
        data = json.dumps(dict(body), separators=(",", ":")).encode()
        if self.inline or self._queue is None:
            await self.deliver(job, data)
            return
        try:
            self._queue.put_nowait((job, data))
        except asyncio.QueueFull:
            logger.warning(json.dumps({"event": "callback_dropped", "job_id": job.job_id}))

    async def _deliver_forever(self) -> None:
        assert self._queue is not None
        while True:
            job, data = await self._queue.get()
            try:
                await self.deliver(job, data)
            except Exception as exc:  # one bad delivery never stops the others
                logger.warning(
                    json.dumps(
                        {"event": "callback_failed", "job_id": job.job_id, "error": repr(exc)}
                    )
                )

    async def deliver(self, job: Job, body: bytes) -> bool:
        """POST `body` to the job's callback URL; True when a 2xx came back."""
        import httpx

        if not job.callback_url:
            return False
        secret = callback_secret(token_secret=self.token_secret, tenant_id=job.tenant_id)
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            for attempt in range(1, self.attempts + 1):
                timestamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    "X-Lambdesk-Timestamp": timestamp,
                    "X-Lambdesk-Signature": sign_callback(
                        secret=secret, timestamp=timestamp, body=body
                    ),
                    "X-Lambdesk-Job-Id": job.job_id,
                }
                try:
                    response = await client.post(job.callback_url, content=body, headers=headers)
                    if response.is_success:
                        return True
                    if response.status_code < 500 and response.status_code not in (408, 429):
                        self._log("callback_rejected", job, status=response.status_code)
                        return False
                    problem = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = repr(exc)[:200]
                self._log("callback_failed", job, attempt=attempt, error=problem)
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        return False

    @staticmethod
    def _log(event: str, job: Job, **fields: Any) -> None:
        logger.warning(
            json.dumps({"event": event, "tenant": job.tenant_id, "job_id": job.job_id, **fields})
        )
