"""The voice pipeline: one voice turn as a job (asr → conversation turn → tts).

`submit_voice(...)` is what the API calls after it has checked the upload: it stores the audio as
`audio/in/<job_id>.<ext>`, creates a `Job(kind="voice")` and hands `{"tenant_id", "job_id"}` to the
`voice` skill asynchronously (locally that wakes the in-process job worker; on AWS it is an `Event`
invocation of the voice Lambda). If the job cannot be created the stored audio is removed again.

`run_voice_job(container, job)` is the runner: it transcribes the audio (skills.asr), answers the
transcript with `core.conversation.handle_turn(channel=VOICE)` — so the turn lands in the session's
history and the conversation log like a text turn — and speaks the reply (skills.tts) into
`audio/out/<job_id>.ogg`. After the turn it checkpoints its progress into the job, so a retry
after a TTS failure does not answer the customer twice.

Result: `{"transcript", "language", "duration_s", "reply", "audio_url", "timings"}`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from core.bootstrap import Container
from core.jobs import create_job, register_runner
from core.models import Channel, ChatReply, Job
from core.ports import SkillContext

logger = logging.getLogger("lambdesk.voice")

SkillCall = Callable[[dict[str, Any], SkillContext], dict[str, Any]]
REPLY_FORMAT = "ogg"


def audio_in_key(job_id: str, ext: str) -> str:
    return f"audio/in/{job_id}.{ext}"


def audio_out_key(job_id: str, fmt: str = REPLY_FORMAT) -> str:
    return f"audio/out/{job_id}.{fmt}"


async def submit_voice(
    *,
    container: Container,
    tenant_id: str,
    session_id: str,
    audio: bytes,
    ext: str,
    content_type: str,
    job_id: str,
    callback_url: str | None = None,
    request_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Job:
    """Store the audio, create the job, start it. Nothing half-stored on failure."""
    key = audio_in_key(job_id, ext)
    container.blobs.put(tenant_id=tenant_id, key=key, data=audio, content_type=content_type)
    try:
        job = create_job(
            jobs=container.jobs,
            tenant_id=tenant_id,
            kind="voice",
            job_id=job_id,
            callback_url=callback_url,
            payload={
                "audio_key": key,
                "session_id": session_id,
                "request_id": request_id,
                "metadata": dict(metadata or {}),
            },
        )
    except BaseException:
        container.blobs.delete(tenant_id=tenant_id, key=key)
        raise
    try:
        await container.skills.invoke_async("voice", {"tenant_id": tenant_id, "job_id": job_id})
    except Exception as exc:  # the job is stored: a worker's poll (or a restart) picks it up
        logger.warning("voice job %s not started at once: %r", job_id, exc)
    return job


# --------------------------------------------------------------------------- the runner


def _skill_ctx(container: Container) -> SkillContext:
    return SkillContext(blobs=container.blobs, settings=container.settings)


def _asr(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    from skills.asr.skill import run

    return run(event, ctx)


def _tts(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    from skills.tts.skill import run

    return run(event, ctx)


_skills: dict[str, SkillCall] = {"asr": _asr, "tts": _tts}


def use_skills(*, asr: SkillCall | None = None, tts: SkillCall | None = None) -> None:
    """Replace the in-process ASR/TTS calls (tests with fake skills; None restores the real)."""
    _skills["asr"] = asr or _asr
    _skills["tts"] = tts or _tts


async def run_voice_job(container: Container, job: Job) -> dict[str, Any]:
    from core.conversation import handle_turn

    started = time.perf_counter()
    tenant_id = job.tenant_id
    payload = job.payload
    ctx = _skill_ctx(container)
    progress = dict(job.result or {})
    timings: dict[str, float] = dict(progress.get("timings") or {})
    if job.created_at:
        timings["queued_ms"] = round((job.updated_at - job.created_at).total_seconds() * 1000, 1)

    if "reply" not in progress:
        tenant = container.tenants.get_tenant(tenant_id=tenant_id)
        step = time.perf_counter()
        asr_event = {
            "tenant_id": tenant_id,
            "audio_key": payload["audio_key"],
            "language": tenant.language,
        }
        asr = await asyncio.to_thread(_skills["asr"], asr_event, ctx)
        timings["asr_ms"] = round((time.perf_counter() - step) * 1000, 1)
        step = time.perf_counter()
        reply = await handle_turn(
            container=container,
            tenant=tenant,
            session_id=str(payload["session_id"]),
            text=str(asr["text"]),
            channel=Channel.VOICE,
            request_id=payload.get("request_id"),
            metadata={
                **(payload.get("metadata") or {}),
                "job_id": job.job_id,
                "audio_key": payload["audio_key"],
                "asr_engine": asr.get("engine"),
                "asr_model": asr.get("model"),
            },
        )
        timings["turn_ms"] = round((time.perf_counter() - step) * 1000, 1)
        progress = {
            "transcript": asr["text"],
            "language": asr.get("language"),
            "duration_s": asr.get("duration_s"),
            "speech_s": asr.get("speech_s"),
            "reply": reply.model_dump(mode="json"),
            "timings": timings,
        }
        from core.jobs import checkpoint_job

        checkpoint_job(jobs=container.jobs, job=job, progress=progress)

    reply_model = ChatReply.model_validate(progress["reply"])
    audio_url: str | None = None
    if reply_model.text.strip():
        tenant = container.tenants.get_tenant(tenant_id=tenant_id)
        step = time.perf_counter()
        await asyncio.to_thread(
            _skills["tts"],
            {
                "tenant_id": tenant_id,
                "text": reply_model.text,
                "format": REPLY_FORMAT,
                "out_key": audio_out_key(job.job_id),
                "voice": tenant.tts_voice,
            },
            ctx,
        )
        timings["tts_ms"] = round((time.perf_counter() - step) * 1000, 1)
        audio_url = f"/v1/jobs/{job.job_id}/audio"
    timings["pipeline_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return {
        "transcript": progress["transcript"],
        "language": progress.get("language"),
        "duration_s": progress.get("duration_s"),
        "reply": progress["reply"],
        "audio_url": audio_url,
        "timings": timings,
    }


register_runner("voice", run_voice_job)


# --------------------------------------------------------------------------- local wake-ups

# A local server registers its job worker here, so that the `voice` skill (run by the in-process
# invoker) only wakes the worker instead of running the job on another event loop.
_local_workers: dict[str, Callable[[str, str], None]] = {}
_local_lock = threading.Lock()


def _settings_key(settings: Any) -> str:
    return f"{settings.backend}:{settings.resolved_data_dir}"


def register_local_worker(settings: Any, wake: Callable[[str, str], None]) -> None:
    with _local_lock:
        _local_workers[_settings_key(settings)] = wake


def unregister_local_worker(settings: Any, wake: Callable[[str, str], None]) -> None:
    with _local_lock:
        if _local_workers.get(_settings_key(settings)) is wake:
            del _local_workers[_settings_key(settings)]


def local_worker(settings: Any) -> Callable[[str, str], None] | None:
    with _local_lock:
        return _local_workers.get(_settings_key(settings))


# --------------------------------------------------------------------------- uploads and renditions


def inspect_upload(*, data: bytes, content_type: str, settings: Any, sniff: bool = False) -> str:
    """Check an uploaded voice message before anything is stored; returns its file extension.

    415 for a type we do not take (with `sniff`, an untyped multipart file is probed instead),
    413 over `max_audio_bytes` or `max_audio_seconds` (the duration probed with PyAV), 422 when
    it does not decode.
    """
    from core.errors import PayloadTooLarge, UnsupportedMediaType
    from skills.audio import media_type_to_ext, probe

    if len(data) > settings.max_audio_bytes:
        raise PayloadTooLarge(
            f"audio is {len(data)} bytes; the limit is {settings.max_audio_bytes} bytes "
            "(max_audio_bytes)",
            code="audio_too_large",
        )
    ext = media_type_to_ext(content_type)
    if ext is None and not sniff:
        raise UnsupportedMediaType(
            f"unsupported audio type {content_type or '(none)'!r}; send wav, mp3, ogg/opus, "
            "webm/opus, m4a/aac or flac",
            code="unsupported_audio_type",
        )
    info = probe(data, max_seconds=settings.max_audio_seconds + 1)
    if ext is None:
        if info.format not in {"wav", "mp3", "ogg", "webm", "m4a", "flac"}:
            raise UnsupportedMediaType(
                f"unsupported audio format {info.format!r}", code="unsupported_audio_type"
            )
        ext = info.format
    if info.duration_s > settings.max_audio_seconds:
        raise PayloadTooLarge(
            f"audio is {info.duration_s:.1f} s long; the limit is "
            f"{settings.max_audio_seconds:g} s (max_audio_seconds)",
            code="audio_too_long",
        )
    return ext


def reply_audio(*, container: Container, job: Job, fmt: str) -> tuple[bytes, str]:
    """The spoken reply of a finished voice job as `fmt` (ogg, wav, mp3) and its media type."""
    from core.errors import BadRequest, Conflict, NotFound
    from core.models import JobStatus
    from skills.audio import MEDIA_TYPES, transcode

    if fmt not in {"ogg", "wav", "mp3"}:
        raise BadRequest("format must be ogg, wav or mp3", code="bad_audio_format")
    if job.kind != "voice":
        raise NotFound(f"job {job.job_id!r} has no audio")
    if job.status is not JobStatus.SUCCEEDED:
        raise Conflict(f"job {job.job_id!r} is {job.status.value}", code="job_not_ready")
    if not (job.result or {}).get("audio_url"):
        raise NotFound(f"job {job.job_id!r} has no spoken reply")
    tenant_id = job.tenant_id
    data = container.blobs.find(tenant_id=tenant_id, key=audio_out_key(job.job_id, fmt))
    if data is None:
        source = container.blobs.get(tenant_id=tenant_id, key=audio_out_key(job.job_id))
        data = transcode(source, fmt=fmt, sample_rate=22050 if fmt != "ogg" else None)
        container.blobs.put(
            tenant_id=tenant_id,
            key=audio_out_key(job.job_id, fmt),
            data=data,
            content_type=MEDIA_TYPES[fmt],
        )
    return data, MEDIA_TYPES[fmt]
