"""The voice job pipeline on the real local stores: restart recovery, retries with backoff,
exactly-once claims across workers, a permanent failure. ASR/TTS are the real skills (tiny.en)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from core.bootstrap import Services, build_blob_store, build_services
from core.jobs import JobService, create_job, new_job_id
from core.models import Channel, Job, JobStatus, Tenant
from core.ports import SkillContext
from core.settings import Settings
from core.voice import audio_in_key
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
from infra.local.job_worker import JobWorker
from skills.asr.skill import run as _asr
from skills.asr.wer import wer
from tests.fakes import fake_registry
from tests.integration.conftest import ACME_RESPONSES
from tests.integration.voice_fixtures import SENTENCES, WER_THRESHOLD, clip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", log_stdout=False, warmup=False, asr_model="tiny.en")


def _container(settings: Settings) -> Services:
    invoker = InProcessSkillInvoker(
        SkillContext(blobs=build_blob_store(settings), settings=settings),
        workers=4,
        registry=fake_registry(),
    )
    return build_services(settings, skills=invoker)


def _worker(
    services: Services, *, poll_interval_s: float, backoff_s: float = 2.0, concurrency: int = 2
) -> JobWorker:
    """A worker over the services' job runners, with this test's backoff and poll interval."""
    job_service = JobService(
        jobs=services.jobs, runners=services.job_service.runners, backoff_s=backoff_s
    )
    return JobWorker(
        service=job_service,
        jobs=services.jobs,
        poll_interval_s=poll_interval_s,
        concurrency=concurrency,
    )


def _queue_voice_job(services: Services, session_id: str, index: int = 0) -> Job:
    job_id = new_job_id()
    key = audio_in_key(job_id)
    services.blobs.put(tenant_id="acme", key=key, data=clip(index, "ogg"))
    return create_job(
        jobs=services.jobs,
        tenant_id="acme",
        kind="voice",
        job_id=job_id,
        payload={"audio_key": key, "session_id": session_id, "metadata": {}},
    )


def _setup_tenant(services: Services) -> str:
    services.tenants.create_tenant(Tenant(tenant_id="acme", responses=dict(ACME_RESPONSES)))
    return services.sessions.create(tenant_id="acme", channel=Channel.VOICE).session_id


async def _run_until_done(
    services: Services, jobs: list[Job], workers: list[JobWorker], timeout: float = 60
) -> list[Job]:
    for worker in workers:
        await worker.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            current = [services.jobs.get_job(tenant_id=j.tenant_id, job_id=j.job_id) for j in jobs]
            done = all(j.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) for j in current)
            if done or asyncio.get_running_loop().time() > deadline:
                return current
            await asyncio.sleep(0.05)
    finally:
        for worker in workers:
            await worker.stop()


def test_queued_and_interrupted_jobs_survive_a_restart(settings: Settings) -> None:
    before = _container(settings)
    session_id = _setup_tenant(before)
    queued = _queue_voice_job(before, session_id, 0)
    interrupted = _queue_voice_job(before, session_id, 1)
    before.jobs.update_job(
        interrupted.model_copy(update={"status": JobStatus.RUNNING, "attempts": 1}),
        expected_status=JobStatus.QUEUED,
    )
    before.close()  # the server stops with one job queued and one half-run

    after = _container(settings)  # a new process over the same data dir
    try:
        done = asyncio.run(
            _run_until_done(after, [queued, interrupted], [_worker(after, poll_interval_s=0.1)])
        )
        assert [j.status for j in done] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
        assert [j.attempts for j in done] == [1, 2]
        for job, index in zip(done, (0, 1), strict=True):
            assert job.result is not None
            assert wer(SENTENCES[index], job.result["transcript"]) <= WER_THRESHOLD
            assert after.blobs.find(tenant_id="acme", key=f"audio/out/{job.job_id}.ogg")
        page = after.history.list_messages(tenant_id="acme", session_id=session_id)
        assert len(page.items) == 4
        assert all(m.channel is Channel.VOICE for m in page.items)
    finally:
        after.close()


def test_a_failed_attempt_is_retried_with_backoff(settings: Settings) -> None:
    services = _container(settings)
    session_id = _setup_tenant(services)
    calls: list[str] = []

    def flaky(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        calls.append(event.get("op", "transcribe"))
        if len(calls) == 1:
            raise RuntimeError("model server hiccup")
        return _asr(event, ctx)

    services.skills.register("asr", flaky)  # type: ignore[attr-defined]
    job = _queue_voice_job(services, session_id)
    try:
        [done] = asyncio.run(
            _run_until_done(
                services, [job], [_worker(services, poll_interval_s=0.05, backoff_s=0.2)]
            )
        )
    finally:
        services.close()
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 2 and calls == ["transcribe", "transcribe"]
    assert done.error is None


def test_out_of_attempts_fails_with_the_reason(settings: Settings) -> None:
    services = _container(settings)
    session_id = _setup_tenant(services)

    def broken(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        raise RuntimeError("tts engine crashed")

    services.skills.register("tts", broken)  # type: ignore[attr-defined]
    job = _queue_voice_job(services, session_id)
    try:
        [done] = asyncio.run(
            _run_until_done(
                services, [job], [_worker(services, poll_interval_s=0.05, backoff_s=0.05)]
            )
        )
        page = services.history.list_messages(tenant_id="acme", session_id=session_id)
    finally:
        services.close()
    assert done.status is JobStatus.FAILED
    assert done.attempts == done.max_attempts == 3
    assert done.error == "tts: tts engine crashed"
    # the turn was answered once, not once per attempt (progress is checkpointed)
    assert len(page.items) == 2


def test_each_job_runs_exactly_once_across_workers(settings: Settings) -> None:
    services = _container(settings)
    session_id = _setup_tenant(services)
    seen: list[str] = []

    def counting(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        seen.append(event["audio_key"])
        return _asr(event, ctx)

    services.skills.register("asr", counting)  # type: ignore[attr-defined]
    jobs = [_queue_voice_job(services, session_id, i) for i in range(3)]
    workers = [_worker(services, poll_interval_s=0.2, concurrency=1) for _ in range(3)]
    try:
        done = asyncio.run(_run_until_done(services, jobs, workers))
    finally:
        services.close()
    assert all(j.status is JobStatus.SUCCEEDED for j in done)
    assert sorted(seen) == sorted(j.payload["audio_key"] for j in jobs)
