"""JobStore contract: create, get, tenant isolation, conditional updates (claim exactly once),
expiry and the unfinished-jobs listing — over every backend."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from core.errors import Conflict, NotFound, VersionConflict
from core.models import Job, JobStatus, utcnow
from core.ports import JobStore


def _job(job_id: str, tenant_id: str = "acme", **extra: object) -> Job:
    return Job(job_id=job_id, tenant_id=tenant_id, kind="voice", **extra)


def test_created_job_comes_back_with_an_expiry(job_store: JobStore) -> None:
    created = job_store.create_job(
        _job("j1", payload={"audio_key": "audio/j1.wav"}, callback_url="https://cb.example/x")
    )

    stored = job_store.get_job(tenant_id="acme", job_id="j1")

    assert stored == created
    assert stored.status is JobStatus.QUEUED
    assert stored.payload == {"audio_key": "audio/j1.wav"}
    assert stored.expires_at is not None and stored.expires_at > utcnow()


def test_duplicate_job_id_conflicts(job_store: JobStore) -> None:
    job_store.create_job(_job("j1", payload={"n": 1}))

    with pytest.raises(Conflict):
        job_store.create_job(_job("j1", payload={"n": 2}))

    assert job_store.get_job(tenant_id="acme", job_id="j1").payload == {"n": 1}


def test_another_tenants_job_is_not_found(job_store: JobStore) -> None:
    job_store.create_job(_job("j1", tenant_id="globex"))

    with pytest.raises(NotFound):
        job_store.get_job(tenant_id="acme", job_id="j1")
    with pytest.raises(NotFound):
        job_store.get_job(tenant_id="acme", job_id="never-made")


def test_expired_jobs_are_not_found(job_store: JobStore) -> None:
    job_store.create_job(_job("old", expires_at=utcnow() - timedelta(seconds=1)))

    with pytest.raises(NotFound):
        job_store.get_job(tenant_id="acme", job_id="old")
    assert job_store.list_unfinished() == []


def test_update_persists_result_and_status(job_store: JobStore) -> None:
    job = job_store.create_job(_job("j1"))

    job_store.update_job(
        job.model_copy(
            update={"status": JobStatus.SUCCEEDED, "result": {"transcript": "hi"}, "attempts": 1}
        )
    )

    stored = job_store.get_job(tenant_id="acme", job_id="j1")
    assert (stored.status, stored.result, stored.attempts) == (
        JobStatus.SUCCEEDED,
        {"transcript": "hi"},
        1,
    )
    assert stored.updated_at >= job.updated_at


def test_conditional_update_fails_when_the_status_moved(job_store: JobStore) -> None:
    job = job_store.create_job(_job("j1"))
    job_store.update_job(
        job.model_copy(update={"status": JobStatus.RUNNING}), expected_status=JobStatus.QUEUED
    )

    with pytest.raises(VersionConflict):
        job_store.update_job(
            job.model_copy(update={"status": JobStatus.RUNNING, "attempts": 9}),
            expected_status=JobStatus.QUEUED,
        )

    stored = job_store.get_job(tenant_id="acme", job_id="j1")
    assert (stored.status, stored.attempts) == (JobStatus.RUNNING, 0)


def test_a_queued_job_is_claimed_exactly_once(job_store: JobStore) -> None:
    job = job_store.create_job(_job("j1"))
    winners: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def claim(worker: int) -> None:
        barrier.wait()
        try:
            job_store.update_job(
                job.model_copy(update={"status": JobStatus.RUNNING, "attempts": worker}),
                expected_status=JobStatus.QUEUED,
            )
        except VersionConflict:
            return
        with lock:
            winners.append(worker)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    assert job_store.get_job(tenant_id="acme", job_id="j1").attempts == winners[0]


def test_list_unfinished_gives_queued_and_running_jobs_oldest_first(job_store: JobStore) -> None:
    start = utcnow() - timedelta(minutes=10)
    for n, (tenant_id, status) in enumerate(
        [
            ("acme", JobStatus.QUEUED),
            ("globex", JobStatus.RUNNING),
            ("acme", JobStatus.SUCCEEDED),
            ("globex", JobStatus.FAILED),
            ("acme", JobStatus.RUNNING),
        ]
    ):
        created_at = start + timedelta(seconds=n)
        job_store.create_job(
            _job(f"j{n}", tenant_id=tenant_id, status=status, created_at=created_at)
        )

    unfinished = job_store.list_unfinished()

    assert [(j.tenant_id, j.job_id) for j in unfinished] == [
        ("acme", "j0"),
        ("globex", "j1"),
        ("acme", "j4"),
    ]
    assert [j.job_id for j in job_store.list_unfinished(limit=2)] == ["j0", "j1"]


def test_a_sessions_jobs_are_listed_and_erased(job_store: JobStore) -> None:
    from core.jobs import create_job

    mine = [
        create_job(jobs=job_store, tenant_id="acme", kind="voice", payload={}, session_id="s1")
        for _ in range(3)
    ]
    create_job(jobs=job_store, tenant_id="acme", kind="voice", payload={}, session_id="s2")
    create_job(jobs=job_store, tenant_id="globex", kind="voice", payload={}, session_id="s1")
    create_job(jobs=job_store, tenant_id="acme", kind="training", payload={})
    found = job_store.list_session_jobs(tenant_id="acme", session_id="s1")
    assert sorted(j.job_id for j in found) == sorted(j.job_id for j in mine)
    for job in found:
        job_store.delete_job(tenant_id="acme", job_id=job.job_id)
    assert job_store.list_session_jobs(tenant_id="acme", session_id="s1") == []
    with pytest.raises(NotFound):
        job_store.get_job(tenant_id="acme", job_id=mine[0].job_id)
    assert len(job_store.list_session_jobs(tenant_id="globex", session_id="s1")) == 1
