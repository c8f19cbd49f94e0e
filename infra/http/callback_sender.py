"""`CallbackSender` over HTTPS with httpx: signed POSTs of finished jobs to their callback URLs.

Only public addresses are ever contacted: the URL's host is resolved here, every address it
resolves to must be public (`core.callbacks.is_public_address`: no loopback, private,
link-local, multicast or reserved address, in any IPv4 or IPv6 form), and the connection goes to
the address that was checked (the TLS name and `Host` stay the URL's), so a name that changes
its answer between the check and the connect (DNS rebinding) gains nothing. Redirects are never
followed. `allow_insecure` (local development only) lifts the https and address rules.

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
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.callbacks import callback_secret, is_public_address, sign_callback
from core.models import Job
from core.ports import CallbackSender

logger = logging.getLogger("lambdesk.callbacks")

ATTEMPTS = 3
TIMEOUT_S = 5.0
BACKOFF_S = 0.5
QUEUE_SIZE = 1000
DELIVERY_TASKS = 4


@dataclass(frozen=True)
class PinnedTarget:
    """Where a callback is sent: the URL with the checked address, and the name it stands for."""

    url: str
    hostname: str
    host_header: str


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
        allow_insecure: bool = False,
    ) -> None:
        self.allow_insecure = allow_insecure
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
        try:
            target = await self.pin(job.callback_url)
        except (OSError, ValueError) as exc:
            self._log("callback_refused", job, error=str(exc)[:300])
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
                    response = await client.post(
                        target.url,
                        content=body,
                        headers={**headers, "Host": target.host_header},
                        extensions={"sni_hostname": target.hostname},
                    )
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

    async def pin(self, url: str) -> PinnedTarget:
        """Resolve the URL's host, check every address, and aim at the first one. `ValueError`
        when the URL or an address may not be used."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        if scheme != "https" and not (self.allow_insecure and scheme == "http"):
            raise ValueError("only https callbacks are sent")
        if not host:
            raise ValueError("the callback URL has no host")
        port = parts.port or (443 if scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=self.timeout_s
        )
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise ValueError(f"{host} does not resolve")
        if not self.allow_insecure:
            refused = [a for a in addresses if not is_public_address(a)]
            if refused:
                raise ValueError(f"{host} resolves to an address that is not public")
        address = addresses[0]
        literal = f"[{address}]" if ":" in address else address
        default_port = 443 if scheme == "https" else 80
        netloc = literal if port == default_port else f"{literal}:{port}"
        host_header = parts.netloc.rsplit("@", 1)[-1]
        pinned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
        return PinnedTarget(url=pinned, hostname=host, host_header=host_header)

    @staticmethod
    def _log(event: str, job: Job, **fields: Any) -> None:
        logger.warning(
            json.dumps({"event": event, "tenant": job.tenant_id, "job_id": job.job_id, **fields})
        )
