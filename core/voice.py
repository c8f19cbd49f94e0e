"""The voice pipeline: one voice turn as a job (asr → conversation turn → tts), every skill called
through the SkillInvoker, so on AWS each is its own function and the API never touches audio.

`VoiceService.submit(...)` is what `POST /v1/voice` calls: the upload is stored as
`audio/in/<job_id>`, the asr skill probes it (format, decoded duration; 415/413/422 from its
`Fault`, and the stored upload is removed again), a `Job(kind="voice")` is created and
dispatched (locally the in-process worker wakes; on AWS the voice function gets an `Event`
invocation).

`VoiceService.run_job(job)` is the job's runner: the asr skill transcribes the audio, the turn is
answered by `ConversationService.handle_turn(channel=VOICE)` — so it lands in the history and the
conversation log like a text turn — and the tts skill speaks the reply into
`audio/out/<job_id>.ogg`. After the turn it checkpoints its progress into the job, so a retry
after a TTS failure does not answer the customer twice.

Result: `{"transcript", "language", "duration_s", "reply", "audio_url", "timings"}`.
`reply_audio` serves the spoken reply, asking the tts skill for another rendition on first use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from core.conversation import ConversationService
from core.errors import (
    BadRequest,
    Conflict,
    NotFound,
    UnsupportedMediaType,
)
from core.jobs import JobDispatcher, PermanentJobError, checkpoint_job, create_job, start_upload_job
from core.models import Channel, ChatReply, Job, JobStatus
from core.ports import BlobStore, JobStore, SkillInvoker, TenantStore
from core.sessions import SessionService
from core.settings import Settings
from core.skill_contracts import (
    ProbeEvent,
    ProbeResult,
    SpeakEvent,
    SpeakResult,
    TranscodeEvent,
    TranscodeResult,
    TranscribeEvent,
    TranscribeResult,
    fault_error,
)

logger = logging.getLogger("lambdesk.voice")

REPLY_FORMAT = "ogg"
REPLY_FORMATS = ("ogg", "wav", "mp3")
REPLY_MEDIA_TYPES = {"ogg": "audio/ogg", "wav": "audio/wav", "mp3": "audio/mpeg"}
# Content types a voice upload may declare (without parameters); others are 415 at once.
AUDIO_CONTENT_TYPES = frozenset(
    {
        "audio/wav",
        "audio/wave",
        "audio/x-wav",
        "audio/vnd.wave",
        "audio/mpeg",
        "audio/mp3",
        "audio/ogg",
        "audio/opus",
        "audio/webm",
        "video/webm",
        "audio/mp4",
        "audio/m4a",
        "audio/x-m4a",
        "audio/aac",
        "audio/flac",
        "audio/x-flac",
    }
)


def audio_in_key(job_id: str) -> str:
    return f"audio/in/{job_id}"


def audio_out_key(job_id: str, fmt: str = REPLY_FORMAT) -> str:
    return f"audio/out/{job_id}.{fmt}"


def check_audio_type(content_type: str, *, sniff: bool) -> None:
    """415 for a declared type that is not audio we take (an untyped upload is sniffed later)."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base not in AUDIO_CONTENT_TYPES and not sniff:
        raise UnsupportedMediaType(
            f"unsupported audio type {content_type or '(none)'!r}; send wav, mp3, ogg/opus, "
            "webm/opus, m4a/aac or flac",
            code="unsupported_audio_type",
        )


class VoiceService:
    """Voice messages: submitting them as jobs, running the jobs, serving the spoken replies."""

    def __init__(
        self,
        *,
        blobs: BlobStore,
        jobs: JobStore,
        tenants: TenantStore,
        skills: SkillInvoker,
        sessions: SessionService,
        conversation: ConversationService,
        dispatch: JobDispatcher,
        settings: Settings,
    ) -> None:
        self.blobs = blobs
        self.jobs = jobs
        self.tenants = tenants
        self.skills = skills
        self.sessions = sessions
        self.conversation = conversation
        self.dispatch = dispatch
        self.settings = settings

    # ------------------------------------------------------------------ submitting
    async def submit(
        self,
        *,
        tenant_id: str,
        session_id: str,
        job_id: str,
        content_type: str,
        sniff: bool = False,
        callback_url: str | None = None,
        request_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Job:
        """Probe the upload already stored at `audio_in_key(job_id)`, then create and start the
        job. On any refusal or failure the stored upload is removed: nothing stays half-way."""
        key = audio_in_key(job_id)

        async def create() -> Job:
            probe = await self.skills.call(
                "asr",
                ProbeEvent(
                    op="probe",
                    tenant_id=tenant_id,
                    audio_key=key,
                    content_type=content_type,
                    sniff=sniff,
                    max_seconds=self.settings.max_audio_seconds,
                ),
                ProbeResult,
                timeout=self.settings.asr_timeout_s,
            )
            if probe.fault is not None:
                raise fault_error(probe.fault)
            return create_job(
                jobs=self.jobs,
                tenant_id=tenant_id,
                kind="voice",
                job_id=job_id,
                callback_url=callback_url,
                session_id=session_id,
                payload={
                    "audio_key": key,
                    "format": probe.ext,
                    "duration_s": probe.duration_s,
                    "session_id": session_id,
                    "request_id": request_id,
                    "metadata": dict(metadata or {}),
                },
            )

        return await start_upload_job(
            blobs=self.blobs,
            tenant_id=tenant_id,
            upload_key=key,
            create=create,
            dispatch=self.dispatch,
        )

    # ------------------------------------------------------------------ the runner
    async def run_job(self, job: Job) -> dict[str, Any]:
        started = time.perf_counter()
        tenant_id = job.tenant_id
        payload = job.payload
        progress = dict(job.result or {})
        timings: dict[str, float] = dict(progress.get("timings") or {})
        if job.created_at:
            timings["queued_ms"] = round(
                (job.updated_at - job.created_at).total_seconds() * 1000, 1
            )
        tenant = self.tenants.get_tenant(tenant_id=tenant_id)

        if "reply" not in progress:
            step = time.perf_counter()
            asr = await self.skills.call(
                "asr",
                TranscribeEvent(
                    tenant_id=tenant_id,
                    audio_key=str(payload["audio_key"]),
                    language=tenant.language,
                    max_seconds=self.settings.max_audio_seconds,
                ),
                TranscribeResult,
                timeout=self.settings.asr_timeout_s,
            )
            if asr.fault is not None:
                raise PermanentJobError(asr.fault.message, code=asr.fault.code)
            timings["asr_ms"] = round((time.perf_counter() - step) * 1000, 1)
            step = time.perf_counter()
            state = self.sessions.require(
                tenant_id=tenant_id, session_id=str(payload["session_id"])
            )
            reply = await self.conversation.handle_turn(
                tenant=tenant,
                state=state,
                text=asr.text,
                channel=Channel.VOICE,
                request_id=payload.get("request_id"),
                metadata={
                    **(payload.get("metadata") or {}),
                    "job_id": job.job_id,
                    "audio_key": payload["audio_key"],
                    "asr_engine": asr.engine,
                    "asr_model": asr.model,
                },
            )
            timings["turn_ms"] = round((time.perf_counter() - step) * 1000, 1)
            progress = {
                "transcript": asr.text,
                "language": asr.language,
                "duration_s": asr.duration_s,
                "speech_s": asr.speech_s,
                "reply": reply.model_dump(mode="json"),
                "timings": timings,
            }
            checkpoint_job(jobs=self.jobs, job=job, progress=progress)

        reply_model = ChatReply.model_validate(progress["reply"])
        audio_url: str | None = None
        if reply_model.text.strip():
            step = time.perf_counter()
            await self.skills.call(
                "tts",
                SpeakEvent(
                    tenant_id=tenant_id,
                    text=reply_model.text,
                    format=REPLY_FORMAT,
                    out_key=audio_out_key(job.job_id),
                    voice=tenant.tts_voice,
                ),
                SpeakResult,
                timeout=self.settings.tts_timeout_s,
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

    # ------------------------------------------------------------------ the spoken reply
    async def reply_audio(self, *, job: Job, fmt: str) -> tuple[bytes, str]:
        """The spoken reply of a finished voice job as `fmt` (ogg, wav, mp3) and its media type;
        a missing rendition is made by the tts skill once and stored."""
        if fmt not in REPLY_FORMATS:
            raise BadRequest("format must be ogg, wav or mp3", code="bad_audio_format")
        if job.kind != "voice":
            raise NotFound(f"job {job.job_id!r} has no audio")
        if job.status is not JobStatus.SUCCEEDED:
            raise Conflict(f"job {job.job_id!r} is {job.status.value}", code="job_not_ready")
        if not (job.result or {}).get("audio_url"):
            raise NotFound(f"job {job.job_id!r} has no spoken reply")
        tenant_id = job.tenant_id
        key = audio_out_key(job.job_id, fmt)
        data = await asyncio.to_thread(self.blobs.find, tenant_id=tenant_id, key=key)
        if data is None:
            await self.skills.call(
                "tts",
                TranscodeEvent(
                    op="transcode",
                    tenant_id=tenant_id,
                    in_key=audio_out_key(job.job_id),
                    out_key=key,
                    format=fmt,
                ),
                TranscodeResult,
                timeout=self.settings.tts_timeout_s,
            )
            data = await asyncio.to_thread(self.blobs.get, tenant_id=tenant_id, key=key)
        return data, REPLY_MEDIA_TYPES[fmt]
