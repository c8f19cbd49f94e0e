"""In-memory tenant, history, job, blob and analytics stores: fakes that subclass the real ports,
for unit tests with no I/O. The contract suites run over them too (`tests/contract/conftest.py`,
backend `memory`), so a fake that drifts from the real stores fails the assertions they pass."""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from typing import Any

from core.errors import BadRequest, Conflict, IdempotencyLost, NotFound, VersionConflict
from core.models import (
    ApiKey,
    Feedback,
    HandoffStatus,
    IdempotencyCompletion,
    IdempotencyRecord,
    Job,
    JobStatus,
    Message,
    SessionPage,
    SessionState,
    Tenant,
    UnansweredQuestion,
    utcnow,
)
from core.ports import (
    AnalyticsStore,
    BlobStore,
    HistoryStore,
    JobStore,
    RateLimitStore,
    TenantStore,
)


class MemoryTenantStore(TenantStore):
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.keys: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def _create_tenant(self, tenant: Tenant) -> None:
        with self._lock:
            if tenant.tenant_id in self.tenants:
                raise Conflict(f"tenant {tenant.tenant_id!r} exists")
            self.tenants[tenant.tenant_id] = tenant

    def _put_tenant(self, tenant: Tenant) -> None:
        self.tenants[tenant.tenant_id] = tenant

    def _get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def _list_tenants(self) -> list[Tenant]:
        return list(self.tenants.values())

    def _put_key(self, key: ApiKey) -> None:
        self.keys[key.key_hash] = key

    def _get_key(self, key_hash: str) -> ApiKey | None:
        return self.keys.get(key_hash)

    def _list_keys(self, tenant_id: str) -> list[ApiKey]:
        return [k for k in self.keys.values() if k.tenant_id == tenant_id]


def _alive(expires_at: Any) -> bool:
    return expires_at is None or expires_at > utcnow()


class MemoryHistoryStore(HistoryStore):
    def __init__(self, ttl_days: int = 90) -> None:
        super().__init__(ttl_days=ttl_days)
        self.messages: dict[tuple[str, str], dict[str, Message]] = {}
        self.states: dict[tuple[str, str], SessionState] = {}
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self.feedback: dict[tuple[str, str, str], Feedback] = {}
        self._lock = threading.Lock()

    def _put_messages(self, tenant_id: str, session_id: str, messages: list[Message]) -> None:
        with self._lock:
            stored = self.messages.setdefault((tenant_id, session_id), {})
            stored.update({m.message_id: m for m in messages})

    def _get_messages(
        self, tenant_id: str, session_id: str, *, limit: int, after: str | None
    ) -> list[Message]:
        with self._lock:
            stored = self.messages.get((tenant_id, session_id), {})
            ids = sorted(i for i in stored if i > (after or ""))[:limit]
            return [stored[i] for i in ids]

    def _get_message(self, tenant_id: str, session_id: str, message_id: str) -> Message | None:
        with self._lock:
            return self.messages.get((tenant_id, session_id), {}).get(message_id)

    def _swap_feedback(self, feedback: Feedback) -> Feedback | None:
        key = (feedback.tenant_id, feedback.session_id, feedback.message_id)
        with self._lock:
            previous = self.feedback.get(key)
            self.feedback[key] = feedback
        return previous

    def _get_feedback(self, tenant_id: str, session_id: str, message_id: str) -> Feedback | None:
        return self.feedback.get((tenant_id, session_id, message_id))

    def _get_state(self, tenant_id: str, session_id: str) -> SessionState | None:
        return self.states.get((tenant_id, session_id))

    def _commit(
        self,
        state: SessionState,
        expected_version: int | None,
        messages: list[Message],
        completion: IdempotencyCompletion | None,
    ) -> None:
        key = (state.tenant_id, state.session_id)
        with self._lock:
            current = self.states.get(key)
            if expected_version is None:
                ok = current is None or not _alive(current.expires_at)
            else:
                ok = current is not None and current.version == expected_version
            if not ok:
                raise VersionConflict(
                    f"session {state.session_id!r} state changed (expected {expected_version})"
                )
            if completion is not None and not self._complete_locked(
                completion.tenant_id, completion.key, completion.response, completion.owner
            ):
                raise IdempotencyLost("another request took this Idempotency-Key over")
            self.states[key] = state
            stored = self.messages.setdefault(key, {})
            stored.update({m.message_id: m for m in messages})

    def _delete_session(self, tenant_id: str, session_id: str) -> bool:
        with self._lock:
            messages = self.messages.pop((tenant_id, session_id), None)
            state = self.states.pop((tenant_id, session_id), None)
            for key in [k for k in self.feedback if k[:2] == (tenant_id, session_id)]:
                del self.feedback[key]
        return bool(messages) or state is not None

    def _list_sessions(
        self, tenant_id: str, *, limit: int, cursor: str | None, handoff_only: bool
    ) -> SessionPage:
        queue = (HandoffStatus.WAITING, HandoffStatus.ACTIVE)
        with self._lock:
            states = [
                s
                for (t, _), s in self.states.items()
                if t == tenant_id
                and _alive(s.expires_at)
                and (not handoff_only or s.handoff in queue)
            ]
        order = sorted(states, key=lambda s: (s.last_activity, s.session_id), reverse=True)
        if cursor:
            try:
                at, after = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            except ValueError as exc:
                raise BadRequest("invalid cursor") from exc
            order = [s for s in order if (s.last_activity.isoformat(), s.session_id) < (at, after)]
        page = order[:limit]
        more = len(order) > limit
        next_cursor = None
        if more:
            last = page[-1]
            raw = json.dumps([last.last_activity.isoformat(), last.session_id]).encode()
            next_cursor = base64.urlsafe_b64encode(raw).decode()
        return SessionPage(items=page, next_cursor=next_cursor)

    def _claim_idempotency(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        key = (record.tenant_id, record.key)
        with self._lock:
            existing = self.idempotency.get(key)
            if existing is not None and _alive(existing.expires_at):
                leased = existing.lease_until is not None and existing.lease_until > utcnow()
                if existing.response is not None or leased:
                    return existing
            self.idempotency[key] = record
        return None

    def _complete_locked(
        self, tenant_id: str, key: str, response: dict[str, Any], owner: str
    ) -> bool:
        record = self.idempotency.get((tenant_id, key))
        if record is None or record.response is not None or record.owner != owner:
            return False
        self.idempotency[(tenant_id, key)] = record.model_copy(update={"response": response})
        return True

    def _complete_idempotency(
        self, tenant_id: str, key: str, response: dict[str, Any], owner: str
    ) -> None:
        with self._lock:
            self._complete_locked(tenant_id, key, response, owner)

    def _release_idempotency(self, tenant_id: str, key: str, owner: str) -> None:
        with self._lock:
            record = self.idempotency.get((tenant_id, key))
            if record is not None and record.response is None and record.owner == owner:
                del self.idempotency[(tenant_id, key)]


class MemoryJobStore(JobStore):
    def __init__(self, ttl_days: int = 7) -> None:
        super().__init__(ttl_days=ttl_days)
        self.jobs: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()

    def _create_job(self, job: Job) -> None:
        with self._lock:
            if (job.tenant_id, job.job_id) in self.jobs:
                raise Conflict(f"job {job.job_id!r} already exists")
            self.jobs[(job.tenant_id, job.job_id)] = job

    def _get_job(self, tenant_id: str, job_id: str) -> Job | None:
        return self.jobs.get((tenant_id, job_id))

    def _update_job(self, job: Job, expected_status: JobStatus | None) -> None:
        key = (job.tenant_id, job.job_id)
        with self._lock:
            current = self.jobs.get(key)
            if current is None:
                raise NotFound(f"job {job.job_id!r} not found")
            if expected_status is not None and current.status is not expected_status:
                raise VersionConflict(f"job {job.job_id!r} is no longer {expected_status.value}")
            self.jobs[key] = job

    def _list_unfinished(self, limit: int) -> list[Job]:
        unfinished = (JobStatus.QUEUED, JobStatus.RUNNING)
        with self._lock:
            jobs = [j for j in self.jobs.values() if j.status in unfinished]
        return sorted(jobs, key=lambda j: j.created_at)[:limit]

    def _list_session_jobs(self, tenant_id: str, session_id: str) -> list[Job]:
        with self._lock:
            return [
                j
                for (t, _), j in self.jobs.items()
                if t == tenant_id and j.session_id == session_id
            ]

    def _delete_job(self, tenant_id: str, job_id: str) -> None:
        with self._lock:
            self.jobs.pop((tenant_id, job_id), None)


class MemoryRateLimitStore(RateLimitStore):
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _increment(self, key: str, *, expires_at: float) -> int:
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def _put(self, path: str, data: bytes, content_type: str) -> None:
        self.blobs[path] = data

    def _get(self, path: str) -> bytes | None:
        return self.blobs.get(path)

    def _delete(self, path: str) -> None:
        self.blobs.pop(path, None)

    def _list(self, prefix: str) -> list[str]:
        return [p for p in list(self.blobs) if p.startswith(prefix)]


class MemoryAnalyticsStore(AnalyticsStore):
    def __init__(self, *, unanswered_per_day: int = 100, retention_days: int = 400) -> None:
        super().__init__(unanswered_per_day=unanswered_per_day, retention_days=retention_days)
        self.counters: dict[tuple[str, str], dict[str, int]] = {}
        self.unanswered: dict[tuple[str, str, int], UnansweredQuestion] = {}
        self._lock = threading.Lock()

    def _add(
        self, tenant_id: str, day: str, counts: dict[str, int], expires_at: datetime
    ) -> dict[str, int]:
        with self._lock:
            stored = self.counters.setdefault((tenant_id, day), {})
            for name, value in counts.items():
                stored[name] = stored.get(name, 0) + value
            return {name: stored[name] for name in counts}

    def _get_days(self, tenant_id: str, start: str, end: str) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                day: dict(counts)
                for (t, day), counts in self.counters.items()
                if t == tenant_id and start <= day <= end
            }

    def _put_unanswered(
        self,
        tenant_id: str,
        day: str,
        slot: int,
        question: UnansweredQuestion,
        expires_at: datetime,
    ) -> None:
        with self._lock:
            self.unanswered[(tenant_id, day, slot)] = question

    def _get_unanswered(self, tenant_id: str, start: str, end: str) -> list[UnansweredQuestion]:
        with self._lock:
            return [
                q
                for (t, day, _), q in self.unanswered.items()
                if t == tenant_id and start <= day <= end
            ]
