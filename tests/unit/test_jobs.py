"""The jobs service over an in-memory JobStore: exactly-once claims, backoff, permanent failure,
restart requeue, and callback signatures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.callbacks import callback_secret, sign_callback, verify_callback
from core.errors import NotFound, Unprocessable
from core.jobs import (
    claim_job,
    complete_job,
    create_job,
    fail_attempt,
    is_due,
    is_permanent,
    job_view,
    requeue_interrupted,
)
from core.models import JobStatus, utcnow
from tests.memory_stores import MemoryJobStore


@pytest.fixture
def store() -> MemoryJobStore:
    return MemoryJobStore()


def test_a_job_is_claimed_exactly_once(store: MemoryJobStore) -> None:
    job = create_job(jobs=store, tenant_id="acme", kind="voice", payload={})
    first = claim_job(jobs=store, job=job)
    second = claim_job(jobs=store, job=job)  # a second worker holding the same stale copy
    assert first is not None and first.status is JobStatus.RUNNING and first.attempts == 1
    assert second is None
    assert store.get_job(tenant_id="acme", job_id=job.job_id).attempts == 1
    with pytest.raises(NotFound):
        store.get_job(tenant_id="globex", job_id=job.job_id)


def test_failures_back_off_exponentially_then_fail(store: MemoryJobStore) -> None:
    job = create_job(jobs=store, tenant_id="acme", kind="voice", payload={}, max_attempts=3)
    delays = []
    for _ in range(2):
        claimed = claim_job(jobs=store, job=store.get_job(tenant_id="acme", job_id=job.job_id))
        assert claimed is not None
        before = utcnow()
        retried = fail_attempt(jobs=store, job=claimed, reason="boom", backoff_s=10)
        assert retried.status is JobStatus.QUEUED and retried.error == "boom"
        assert retried.next_attempt_at is not None
        assert not is_due(retried)
        delays.append((retried.next_attempt_at - before).total_seconds())
        store.jobs[("acme", job.job_id)] = retried.model_copy(
            update={"next_attempt_at": utcnow() - timedelta(seconds=1)}
        )
    assert delays[0] == pytest.approx(10, abs=1) and delays[1] == pytest.approx(20, abs=1)
    claimed = claim_job(jobs=store, job=store.get_job(tenant_id="acme", job_id=job.job_id))
    assert claimed is not None and claimed.attempts == 3
    final = fail_attempt(jobs=store, job=claimed, reason="still boom", backoff_s=10)
    assert final.status is JobStatus.FAILED and final.error == "still boom"


def test_a_permanent_error_fails_at_once(store: MemoryJobStore) -> None:
    job = create_job(jobs=store, tenant_id="acme", kind="voice", payload={})
    claimed = claim_job(jobs=store, job=job)
    assert claimed is not None
    assert is_permanent(Unprocessable("no speech detected"))
    assert not is_permanent(RuntimeError("flaky"))
    failed = fail_attempt(jobs=store, job=claimed, reason="no speech detected", permanent=True)
    assert failed.status is JobStatus.FAILED and failed.attempts == 1


def test_interrupted_jobs_are_requeued_and_results_shown(store: MemoryJobStore) -> None:
    job = create_job(jobs=store, tenant_id="acme", kind="voice", payload={})
    claimed = claim_job(jobs=store, job=job)
    assert claimed is not None
    requeued = requeue_interrupted(jobs=store, job=claimed)
    assert requeued is not None and requeued.status is JobStatus.QUEUED and is_due(requeued)
    assert requeue_interrupted(jobs=store, job=claimed) is None  # not running any more
    again = claim_job(jobs=store, job=requeued)
    assert again is not None and again.attempts == 2
    done = complete_job(jobs=store, job=again, result={"transcript": "hi", "_private": 1})
    view = job_view(done)
    assert view["status"] == "succeeded" and view["transcript"] == "hi"
    assert "_private" not in view


def test_callback_signatures_are_per_tenant() -> None:
    secret = callback_secret(token_secret=b"s3cret", tenant_id="acme")
    assert secret != callback_secret(token_secret=b"s3cret", tenant_id="globex")
    assert secret != callback_secret(token_secret=b"other", tenant_id="acme")
    body = b'{"job_id":"j_1"}'
    signature = sign_callback(secret=secret, timestamp="1700000000", body=body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_callback(secret=secret, timestamp="1700000000", body=body, signature=signature)
    assert not verify_callback(
        secret=secret, timestamp="1700000001", body=body, signature=signature
    )
    assert not verify_callback(
        secret=secret, timestamp="1700000000", body=body + b" ", signature=signature
    )
