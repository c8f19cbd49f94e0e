"""Ports: the small abstract base classes every backend implements (DESIGN.md, "Ports").

Each port owns the shared logic (validation, id and expiry stamping, filtering of expired items)
in its public methods; a backend fills in the `_`-prefixed hooks and nothing else. Every method
that touches tenant data takes `tenant_id` explicitly, keyword-only.

Backends: `infra/local/` (SQLite, files, in-process) and `infra/aws/` (DynamoDB, S3, Lambda).
Only `core/bootstrap.py` picks one; everything else sees these classes.
"""

from __future__ import annotations

import abc
import builtins
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import NotFound, SkillError
from core.ids import new_ulid
from core.models import (
    ApiKey,
    Feedback,
    IdempotencyCompletion,
    IdempotencyRecord,
    Job,
    JobStatus,
    Message,
    MessagePage,
    SessionPage,
    SessionState,
    Tenant,
    TurnRecord,
    UnansweredQuestion,
    utcnow,
    validate_tenant_id,
)
from core.skill_contracts import describe_validation

R = TypeVar("R", bound=BaseModel)


def _alive(expires_at: datetime | None, now: datetime) -> bool:
    """TTL deletes late (DynamoDB: up to days), so every read filters expired items itself."""
    return expires_at is None or expires_at > now


# --------------------------------------------------------------------------- tenants


class TenantStore(abc.ABC):
    """Tenants, their settings, and hashed API keys."""

    def create_tenant(self, tenant: Tenant) -> Tenant:
        """Store a new tenant; `Conflict` if the id is taken."""
        self._create_tenant(tenant)
        return tenant

    def get_tenant(self, *, tenant_id: str) -> Tenant:
        """The tenant, or `NotFound`."""
        tenant = self._get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return tenant

    def find_tenant(self, *, tenant_id: str) -> Tenant | None:
        return self._get_tenant(tenant_id)

    def update_tenant(self, tenant: Tenant) -> Tenant:
        """Replace a tenant's settings; `NotFound` if it does not exist."""
        self.get_tenant(tenant_id=tenant.tenant_id)
        self._put_tenant(tenant)
        return tenant

    def list_tenants(self) -> list[Tenant]:
        """Operator view, sorted by id."""
        return sorted(self._list_tenants(), key=lambda t: t.tenant_id)

    def add_key(self, key: ApiKey) -> None:
        self.get_tenant(tenant_id=key.tenant_id)
        self._put_key(key)

    def get_key(self, *, key_hash: str) -> ApiKey | None:
        """The stored key for this hash if it exists and is not revoked."""
        key = self._get_key(key_hash)
        if key is None or key.revoked:
            return None
        return key

    def revoke_key(self, *, tenant_id: str, key_hash: str) -> None:
        key = self._get_key(key_hash)
        if key is None or key.tenant_id != tenant_id:
            raise NotFound("key not found")
        self._put_key(key.model_copy(update={"revoked": True}))

    def list_keys(self, *, tenant_id: str) -> list[ApiKey]:
        return self._list_keys(tenant_id)

    @abc.abstractmethod
    def _create_tenant(self, tenant: Tenant) -> None:
        """Insert; raise `Conflict` if the id exists (atomically)."""

    @abc.abstractmethod
    def _put_tenant(self, tenant: Tenant) -> None: ...

    @abc.abstractmethod
    def _get_tenant(self, tenant_id: str) -> Tenant | None: ...

    @abc.abstractmethod
    def _list_tenants(self) -> list[Tenant]: ...

    @abc.abstractmethod
    def _put_key(self, key: ApiKey) -> None: ...

    @abc.abstractmethod
    def _get_key(self, key_hash: str) -> ApiKey | None: ...

    @abc.abstractmethod
    def _list_keys(self, tenant_id: str) -> list[ApiKey]: ...


# --------------------------------------------------------------------------- history


class HistoryStore(abc.ABC):
    """Messages per tenant+session (one record per message), session state, idempotency records.

    Message order is the order of `message_id` (monotonic ULIDs assigned here). Session state is
    written with optimistic concurrency: `put_state(state, expected_version=n)` succeeds only if
    the stored version is still `n` (None: the state must not exist yet) and stores `n + 1`.
    """

    def __init__(self, *, ttl_days: int = 90) -> None:
        self.ttl = timedelta(days=ttl_days)

    # messages ---------------------------------------------------------------
    def append_messages(
        self, *, tenant_id: str, session_id: str, messages: Sequence[Message]
    ) -> list[Message]:
        """Stamp ids and expiry, then write all messages (bulk imports; a turn uses `commit`).
        Returns the stored copies."""
        stamped = self._stamp(tenant_id, session_id, messages, utcnow())
        self._put_messages(tenant_id, session_id, stamped)
        return stamped

    def list_messages(
        self, *, tenant_id: str, session_id: str, limit: int = 50, cursor: str | None = None
    ) -> MessagePage:
        """Oldest first; `cursor` is the `next_cursor` of the previous page (opaque)."""
        limit = max(1, min(limit, 500))
        now = utcnow()
        items: list[Message] = []
        after = cursor
        while True:  # expired items may thin a page out: keep reading until it is full or done
            batch = self._get_messages(tenant_id, session_id, limit=limit + 1, after=after)
            more = len(batch) > limit
            batch = batch[:limit]
            for message in batch:
                if _alive(message.expires_at, now):
                    items.append(message)
            if len(items) >= limit or not more:
                break
            after = batch[-1].message_id
        has_next = len(items) > limit or more
        items = items[:limit]
        return MessagePage(items=items, next_cursor=items[-1].message_id if has_next else None)

    # session state ----------------------------------------------------------
    def get_state(self, *, tenant_id: str, session_id: str) -> SessionState | None:
        state = self._get_state(tenant_id, session_id)
        if state is None or not _alive(state.expires_at, utcnow()):
            return None
        return state

    def put_state(self, state: SessionState, *, expected_version: int | None) -> SessionState:
        """Write `state` with version `expected_version + 1` (or 0 when creating).

        Raises `VersionConflict` if another writer got there first.
        """
        new, _ = self.commit(state, expected_version=expected_version)
        return new

    def commit(
        self,
        state: SessionState,
        *,
        expected_version: int | None,
        messages: Sequence[Message] = (),
        completion: IdempotencyCompletion | None = None,
    ) -> tuple[SessionState, list[Message]]:
        """Write the session state and append `messages` in ONE atomic step (a turn is all or
        nothing): the state gets version `expected_version + 1` (0 when creating, then it must
        not exist yet) and `VersionConflict` leaves nothing written. With `completion`, the
        `Idempotency-Key` record's response is stored in the same step, and only if its owner
        still holds the claim (`IdempotencyLost` otherwise, nothing written). Returns the
        stored copies."""
        now = utcnow()
        new = state.model_copy(
            update={
                "version": 0 if expected_version is None else expected_version + 1,
                "last_activity": now,
                "expires_at": now + self.ttl,
            }
        )
        stamped = self._stamp(state.tenant_id, state.session_id, messages, now)
        self._commit(new, expected_version, stamped, completion)
        return new, stamped

    def _stamp(
        self, tenant_id: str, session_id: str, messages: Sequence[Message], now: datetime
    ) -> list[Message]:
        stamped: list[Message] = []
        for message in messages:
            if message.tenant_id != tenant_id or message.session_id != session_id:
                raise ValueError("message belongs to another tenant or session")
            stamped.append(
                message.model_copy(
                    update={
                        "message_id": message.message_id or new_ulid(),
                        "expires_at": message.expires_at or now + self.ttl,
                    }
                )
            )
        return stamped

    def delete_session(self, *, tenant_id: str, session_id: str) -> bool:
        """Erase the session's messages and state. True if anything existed."""
        return self._delete_session(tenant_id, session_id)

    def list_sessions(
        self,
        *,
        tenant_id: str,
        limit: int = 50,
        cursor: str | None = None,
        handoff_only: bool = False,
    ) -> SessionPage:
        """Most recently active first; `handoff_only` gives the agents' queue."""
        limit = max(1, min(limit, 500))
        page = self._list_sessions(tenant_id, limit=limit, cursor=cursor, handoff_only=handoff_only)
        now = utcnow()
        page.items = [s for s in page.items if _alive(s.expires_at, now)]
        return page

    def get_message(self, *, tenant_id: str, session_id: str, message_id: str) -> Message | None:
        """One message of the session by id (None when missing or expired)."""
        message = self._get_message(tenant_id, session_id, message_id)
        if message is None or not _alive(message.expires_at, utcnow()):
            return None
        return message

    # feedback ---------------------------------------------------------------
    def put_feedback(self, feedback: Feedback) -> Feedback | None:
        """Store the rating of one message, replacing any earlier one atomically (the last rating
        wins). Returns the feedback it replaced (None when there was none, or it had expired)."""
        stamped = feedback.model_copy(
            update={"expires_at": feedback.expires_at or utcnow() + self.ttl}
        )
        previous = self._swap_feedback(stamped)
        if previous is None or not _alive(previous.expires_at, utcnow()):
            return None
        return previous

    def get_feedback(self, *, tenant_id: str, session_id: str, message_id: str) -> Feedback | None:
        feedback = self._get_feedback(tenant_id, session_id, message_id)
        if feedback is None or not _alive(feedback.expires_at, utcnow()):
            return None
        return feedback

    # idempotency ------------------------------------------------------------
    def claim_idempotency(
        self,
        *,
        tenant_id: str,
        key: str,
        request_hash: str,
        ttl_s: int,
        owner: str = "",
        lease_s: float = 30.0,
    ) -> IdempotencyRecord | None:
        """Claim `key` for a request run by `owner`. Returns None when claimed now, else the
        existing record (in progress when its `response` is None). Expired records are replaced;
        an in-progress claim whose lease ran out (its owner died) is taken over, atomically."""
        now = utcnow()
        record = IdempotencyRecord(
            tenant_id=tenant_id,
            key=key,
            request_hash=request_hash,
            owner=owner,
            lease_until=now + timedelta(seconds=lease_s),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
        return self._claim_idempotency(record)

    def complete_idempotency(
        self, *, tenant_id: str, key: str, response: Mapping[str, Any], owner: str = ""
    ) -> None:
        """Store the response of a claim (only while `owner` still holds it). A turn stores it
        inside its own `commit` instead, so the two can never part."""
        self._complete_idempotency(tenant_id, key, dict(response), owner)

    def release_idempotency(self, *, tenant_id: str, key: str, owner: str = "") -> None:
        """Forget an in-progress claim of `owner` (the request failed; a retry may run again)."""
        self._release_idempotency(tenant_id, key, owner)

    @abc.abstractmethod
    def _put_messages(self, tenant_id: str, session_id: str, messages: list[Message]) -> None: ...

    @abc.abstractmethod
    def _get_messages(
        self, tenant_id: str, session_id: str, *, limit: int, after: str | None
    ) -> list[Message]:
        """Up to `limit` messages with id > `after`, ascending (expired ones included)."""

    @abc.abstractmethod
    def _get_message(self, tenant_id: str, session_id: str, message_id: str) -> Message | None:
        """The message with this id (expired or not), or None."""

    @abc.abstractmethod
    def _swap_feedback(self, feedback: Feedback) -> Feedback | None:
        """Write the message's feedback and return the one it replaced, in one atomic step.
        `_delete_session` erases a session's feedback with its messages."""

    @abc.abstractmethod
    def _get_feedback(
        self, tenant_id: str, session_id: str, message_id: str
    ) -> Feedback | None: ...

    @abc.abstractmethod
    def _get_state(self, tenant_id: str, session_id: str) -> SessionState | None: ...

    @abc.abstractmethod
    def _commit(
        self,
        state: SessionState,
        expected_version: int | None,
        messages: list[Message],
        completion: IdempotencyCompletion | None,
    ) -> None:
        """One atomic write of the state (conditional on `expected_version`; None: it must not
        exist, or be expired), the messages and the idempotency completion (conditional on its
        owner holding the in-progress claim); `VersionConflict` / `IdempotencyLost` and nothing
        written when a condition fails."""

    @abc.abstractmethod
    def _delete_session(self, tenant_id: str, session_id: str) -> bool: ...

    @abc.abstractmethod
    def _list_sessions(
        self, tenant_id: str, *, limit: int, cursor: str | None, handoff_only: bool
    ) -> SessionPage: ...

    @abc.abstractmethod
    def _claim_idempotency(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Insert unless an unexpired record exists that is complete or whose lease still runs
        (then return it); taking over an in-progress record whose lease ran out counts as
        inserting (return None). Atomic against concurrent claims."""

    @abc.abstractmethod
    def _complete_idempotency(
        self, tenant_id: str, key: str, response: dict[str, Any], owner: str
    ) -> None:
        """Set the response if the record is still in progress and held by `owner`."""

    @abc.abstractmethod
    def _release_idempotency(self, tenant_id: str, key: str, owner: str) -> None:
        """Delete the record if it is still in progress and held by `owner`."""


# --------------------------------------------------------------------------- analytics

COUNTER_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}(:[A-Za-z0-9_.\-]{1,100})?$")
UNANSWERED_SEQ = "unanswered_seq"
MAX_ANALYTICS_DAYS = 366


class AnalyticsStore(abc.ABC):
    """Per-tenant daily counters (turns, sessions, sources, intents, latency buckets, ratings...)
    and, per tenant and day, a ring of the last `unanswered_per_day` unanswered questions.

    Counters are named `family` or `family:key` (`turns`, `intent:card_arrival`, `lat:17`) and
    only ever incremented (by any integer, negative too) atomically, so concurrent turns never
    lose a count and a summary reads one small record per day instead of every message.
    Days older than `retention_days` are no longer read (DynamoDB's TTL deletes them late).
    """

    def __init__(self, *, unanswered_per_day: int = 100, retention_days: int = 400) -> None:
        self.unanswered_per_day = unanswered_per_day
        self.retention = timedelta(days=retention_days)

    def add_counts(self, *, tenant_id: str, day: date, counts: Mapping[str, int]) -> dict[str, int]:
        """Add to the day's counters atomically; returns the new value of each counter named."""
        validate_tenant_id(tenant_id)
        clean = {name: int(value) for name, value in counts.items() if value}
        for name in clean:
            if not COUNTER_NAME_RE.match(name):
                raise ValueError(f"invalid counter name {name!r}")
        if not clean:
            return {}
        return self._add(tenant_id, day.isoformat(), clean, self._expiry(day))

    def add_unanswered(self, *, tenant_id: str, question: UnansweredQuestion) -> None:
        """Keep `question` among the last `unanswered_per_day` of its day (a ring: the oldest
        slot is overwritten), so a flood of questions never grows the store."""
        day = question.at.date()
        seq = self.add_counts(tenant_id=tenant_id, day=day, counts={UNANSWERED_SEQ: 1})
        slot = (seq[UNANSWERED_SEQ] - 1) % self.unanswered_per_day
        self._put_unanswered(tenant_id, day.isoformat(), slot, question, self._expiry(day))

    def daily_counts(self, *, tenant_id: str, start: date, end: date) -> dict[date, dict[str, int]]:
        """Counters per day from `start` to `end` (inclusive); days without counts are absent."""
        start, end = self._window(start, end)
        rows = self._get_days(tenant_id, start.isoformat(), end.isoformat())
        return {date.fromisoformat(day): counts for day, counts in sorted(rows.items())}

    def list_unanswered(
        self, *, tenant_id: str, start: date, end: date
    ) -> builtins.list[UnansweredQuestion]:
        """The kept unanswered questions of the days from `start` to `end`, newest first."""
        start, end = self._window(start, end)
        found = self._get_unanswered(tenant_id, start.isoformat(), end.isoformat())
        return sorted(found, key=lambda q: q.at, reverse=True)

    def _window(self, start: date, end: date) -> tuple[date, date]:
        if end < start:
            raise ValueError("the end day is before the start day")
        if (end - start).days >= MAX_ANALYTICS_DAYS:
            raise ValueError(f"at most {MAX_ANALYTICS_DAYS} days at a time")
        oldest = (utcnow() - self.retention).date()
        return max(start, oldest), end

    def _expiry(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + self.retention

    @abc.abstractmethod
    def _add(
        self, tenant_id: str, day: str, counts: dict[str, int], expires_at: datetime
    ) -> dict[str, int]:
        """Increment the named counters of one day atomically; return their new values."""

    @abc.abstractmethod
    def _get_days(self, tenant_id: str, start: str, end: str) -> dict[str, dict[str, int]]:
        """ISO day -> counters, for the days between `start` and `end` (inclusive)."""

    @abc.abstractmethod
    def _put_unanswered(
        self,
        tenant_id: str,
        day: str,
        slot: int,
        question: UnansweredQuestion,
        expires_at: datetime,
    ) -> None:
        """Write (or overwrite) one slot of the day's ring."""

    @abc.abstractmethod
    def _get_unanswered(
        self, tenant_id: str, start: str, end: str
    ) -> builtins.list[UnansweredQuestion]:
        """Every kept question of the days between `start` and `end` (inclusive), any order."""


# --------------------------------------------------------------------------- jobs


class JobStore(abc.ABC):
    """Async jobs (voice, training, ingestion): status, result, attempts."""

    def __init__(self, *, ttl_days: int = 7) -> None:
        self.ttl = timedelta(days=ttl_days)

    def create_job(self, job: Job) -> Job:
        job = job.model_copy(update={"expires_at": job.expires_at or utcnow() + self.ttl})
        self._create_job(job)
        return job

    def get_job(self, *, tenant_id: str, job_id: str) -> Job:
        """The job, or `NotFound` (also for another tenant's job id)."""
        job = self._get_job(tenant_id, job_id)
        if job is None or not _alive(job.expires_at, utcnow()):
            raise NotFound(f"job {job_id!r} not found")
        return job

    def update_job(self, job: Job, *, expected_status: JobStatus | None = None) -> Job:
        """Persist `job`; with `expected_status`, only if the stored status still is that
        (`VersionConflict` otherwise) — how a worker claims a queued job exactly once."""
        job = job.model_copy(update={"updated_at": utcnow()})
        self._update_job(job, expected_status)
        return job

    def list_unfinished(self, *, limit: int = 100) -> list[Job]:
        """Queued or running jobs of every tenant (restart recovery), oldest first."""
        now = utcnow()
        return [j for j in self._list_unfinished(limit) if _alive(j.expires_at, now)]

    def list_session_jobs(self, *, tenant_id: str, session_id: str) -> list[Job]:
        """Every job of one session (expired ones included: erasure wants them all)."""
        return self._list_session_jobs(tenant_id, session_id)

    def delete_job(self, *, tenant_id: str, job_id: str) -> None:
        """Erase a job and what it holds (its transcript and reply live in its result)."""
        self._delete_job(tenant_id, job_id)

    @abc.abstractmethod
    def _create_job(self, job: Job) -> None:
        """Insert; a job with a `session_id` is also findable by `_list_session_jobs`."""

    @abc.abstractmethod
    def _get_job(self, tenant_id: str, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    def _update_job(self, job: Job, expected_status: JobStatus | None) -> None: ...

    @abc.abstractmethod
    def _list_unfinished(self, limit: int) -> list[Job]: ...

    @abc.abstractmethod
    def _list_session_jobs(self, tenant_id: str, session_id: str) -> list[Job]: ...

    @abc.abstractmethod
    def _delete_job(self, tenant_id: str, job_id: str) -> None: ...


# --------------------------------------------------------------------------- blobs


class BlobStore(abc.ABC):
    """Bytes per tenant: audio, images, documents, model artifacts, indexes.

    Keys are relative paths (`knowledge/docs/<id>.json`); the store namespaces them by tenant, so
    one tenant can never read another's blob. Keys may not contain `..` or start with `/`.
    """

    def put(self, *, tenant_id: str, key: str, data: bytes, content_type: str = "") -> None:
        self._put(self._path(tenant_id, key), data, content_type)

    def put_file(
        self, *, tenant_id: str, key: str, file: IO[bytes], content_type: str = ""
    ) -> None:
        """Store what `file` holds from its current position, streamed (an upload is never
        held in memory whole)."""
        self._put_file(self._path(tenant_id, key), file, content_type)

    def delete_prefix(self, *, tenant_id: str, prefix: str) -> int:
        """Delete every key starting with `prefix` (erasure); returns how many."""
        keys = self.list(tenant_id=tenant_id, prefix=prefix)
        for key in keys:
            self.delete(tenant_id=tenant_id, key=key)
        return len(keys)

    def get(self, *, tenant_id: str, key: str) -> bytes:
        """The bytes, or `NotFound`."""
        data = self._get(self._path(tenant_id, key))
        if data is None:
            raise NotFound(f"blob {key!r} not found")
        return data

    def find(self, *, tenant_id: str, key: str) -> bytes | None:
        return self._get(self._path(tenant_id, key))

    def delete(self, *, tenant_id: str, key: str) -> None:
        self._delete(self._path(tenant_id, key))

    def list(self, *, tenant_id: str, prefix: str = "") -> builtins.list[str]:
        """Keys (relative to the tenant) starting with `prefix`, sorted."""
        base = self._path(tenant_id, "")
        full = base + prefix
        return sorted(k[len(base) :] for k in self._list(full))

    @staticmethod
    def _path(tenant_id: str, key: str) -> str:
        validate_tenant_id(tenant_id)
        if key.startswith("/") or ".." in key.split("/") or "\\" in key:
            raise ValueError(f"invalid blob key {key!r}")
        return f"tenants/{tenant_id}/{key}"

    @abc.abstractmethod
    def _put(self, path: str, data: bytes, content_type: str) -> None: ...

    def _put_file(self, path: str, file: IO[bytes], content_type: str) -> None:
        """Backends that can stream override this; the default reads the file."""
        self._put(path, file.read(), content_type)

    @abc.abstractmethod
    def _get(self, path: str) -> bytes | None: ...

    @abc.abstractmethod
    def _delete(self, path: str) -> None: ...

    @abc.abstractmethod
    def _list(self, prefix: str) -> builtins.list[str]:
        """Full paths starting with `prefix`."""


# --------------------------------------------------------------------------- skills


@dataclass(frozen=True)
class SkillContext:
    """What a skill's `run(event, ctx)` may use besides its event: the tenant's blobs (models,
    indexes, audio), the process settings, and the skill invoker for a skill that calls other
    skills (video moderation calls vision). Built once per process by the entrypoint."""

    blobs: BlobStore
    settings: Any  # core.settings.Settings (Any keeps this module free of the settings import)
    skills: SkillInvoker | None = None


class SkillInvoker(abc.ABC):
    """Calls a skill by name (`intent`, `retrieval`, `asr`, `tts`, `vision`) or a job function
    (`voice`).

    `invoke` waits for the result (raises `SkillTimeout` past `timeout`, `SkillError` when the skill
    fails); `invoke_async` hands the event over and returns at once (jobs). Services use the typed
    `call` / `call_async` with the contracts of `core.skill_contracts`.
    """

    @abc.abstractmethod
    async def invoke(
        self, name: str, event: Mapping[str, Any], *, timeout: float
    ) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def invoke_async(self, name: str, event: Mapping[str, Any]) -> None: ...

    async def call(self, name: str, event: BaseModel, result: type[R], *, timeout: float) -> R:
        """Invoke `name` with a contract event and read its answer as `result`; an answer of
        another shape is a `SkillError` (the skill and the caller disagree on the contract)."""
        raw = await self.invoke(
            name, event.model_dump(mode="json", exclude_none=True), timeout=timeout
        )
        try:
            return result.model_validate(raw)
        except ValidationError as exc:
            raise SkillError(name, f"unexpected result: {describe_validation(exc)}") from None

    async def call_async(self, name: str, event: BaseModel) -> None:
        await self.invoke_async(name, event.model_dump(mode="json", exclude_none=True))

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release pools and clients."""


# --------------------------------------------------------------------------- rate limits


class RateLimitStore(abc.ABC):
    """Fixed-window request counters shared by every process of a deployment (a Lambda fleet
    too): `hit` counts one request against `key` and says whether it fits `limit` per window."""

    def hit(self, *, key: str, limit: int, window_s: int, now: float | None = None) -> float | None:
        """None when this request is within `limit` for the current window of `window_s`
        seconds, else the seconds until the window ends (what `Retry-After` says). `now`
        (epoch seconds) is for tests."""
        now = utcnow().timestamp() if now is None else now
        window = int(now // window_s)
        ends = (window + 1) * window_s
        count = self._increment(f"{key}#{window}", expires_at=ends + window_s)
        return None if count <= limit else max(ends - now, 1.0)

    @abc.abstractmethod
    def _increment(self, key: str, *, expires_at: float) -> int:
        """Add one to the counter `key` (created at 0, kept until `expires_at` epoch seconds)
        and return its new value, atomically."""


# --------------------------------------------------------------------------- callbacks


class CallbackSender(abc.ABC):
    """Delivers a finished job's signed callback (`core.callbacks`) to the URL its creator gave.

    `send` only hands the delivery over: a slow or dead receiver must never hold up the job
    that ended, nor anyone else's."""

    @abc.abstractmethod
    async def send(self, job: Job, body: Mapping[str, Any]) -> None: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start background delivery (a local server's queue)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Finish or drop what is queued and stop."""


# --------------------------------------------------------------------------- conversation log


class ConversationLog(abc.ABC):
    """One structured, redacted record per turn (and a metrics hook per turn)."""

    def record_turn(self, record: TurnRecord) -> None:
        from core.redaction import redact

        self._write(
            record.model_copy(
                update={"user_text": redact(record.user_text), "bot_text": redact(record.bot_text)}
            )
        )

    @abc.abstractmethod
    def _write(self, record: TurnRecord) -> None: ...
