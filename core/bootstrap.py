"""The composition root: the ONE place that picks adapters from settings and wires services.

`build_services(settings)` builds the ports for the chosen backend (local: SQLite, files, the
in-process skill pool, JSON lines; aws: DynamoDB, S3, Lambda, Powertools), then the services,
handing each exactly the ports it uses as constructor arguments, and wires each job kind to its
runner. Entrypoints (the API, a job function's Lambda handler, the CLI) call it once per process
and use the `Services` they get; no service imports this module, `infra` or `skills`
(import-linter contracts in pyproject.toml hold that).

    tenants, history, jobs, blobs, skills, log, analytics   (ports: infra/local or infra/aws)
      └─ SessionService(history, locks, token secret)
           ├─ ConversationService(sessions, history, skills, log, analytics, settings, vision)
           ├─ HandoffService(sessions, history, analytics)
           └─ VoiceService(blobs, jobs, tenants, skills, sessions, conversation, dispatch)
      VisionService(blobs, skills)            images: checks, classification, chat images
      VideoService(blobs, jobs, tenants, skills, dispatch)   video moderation jobs
      TrainingService(jobs, blobs, skills, dispatch, the workflow definitions)
      JobService(jobs, runners={"voice": voice.run_job, "video": video.run_job,
                 "intent_training": training.run_job}, callbacks)
      dispatch: local → LocalWakeup (wakes JobWorker); aws → InvokerDispatcher (Event invoke)

On aws, `LAMBDESK_LOCAL_SKILLS` names skills the process runs itself (the video function runs
`video`, which calls `vision` through Lambda): the invoker routes those in-process.

Adapter modules are imported inside the branches, so a local process never imports boto3 and
an API process never imports a model library.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from core.conversation import ConversationService
from core.erasure import ErasureService
from core.handoff import HandoffService
from core.jobs import InvokerDispatcher, JobDispatcher, JobService
from core.logging import install_log_redaction
from core.ports import (
    AnalyticsStore,
    BlobStore,
    CallbackSender,
    ConversationLog,
    HistoryStore,
    JobStore,
    RateLimitStore,
    SkillContext,
    SkillInvoker,
    TenantStore,
)
from core.sessions import SessionLocks, SessionService
from core.settings import Settings, get_settings
from core.training_jobs import TrainingService
from core.video import VideoService
from core.vision import VisionService
from core.voice import VoiceService

# Job kind → the function that runs such jobs on AWS (an `Event` invocation). Video jobs run in
# the video function: it has PyAV (and runs the video skill in-process).
JOB_FUNCTIONS = {"voice": "jobs", "intent_training": "jobs", "video": "video"}
# Functions the in-process invoker finds outside `skills.<name>.skill` (the training workflow's
# steps; on AWS the `train` Lambda).
LOCAL_FUNCTION_MODULES = {"train": "training.workflow_steps"}


@dataclass
class Services:
    """Every port and service of one process, wired. Entrypoints read from it; services never
    see it (each got its own dependencies)."""

    settings: Settings
    tenants: TenantStore
    history: HistoryStore
    jobs: JobStore
    blobs: BlobStore
    skills: SkillInvoker
    log: ConversationLog
    analytics: AnalyticsStore
    limits: RateLimitStore
    callbacks: CallbackSender
    token_secret: bytes
    sessions: SessionService
    conversation: ConversationService
    handoffs: HandoffService
    voice: VoiceService
    vision: VisionService
    video: VideoService
    job_service: JobService
    training: TrainingService
    erasure: ErasureService
    worker: Any = None  # infra.local.job_worker.JobWorker on the local backend, else None

    async def start(self) -> None:
        """Start the background parts of a serving process (local job worker, callbacks)."""
        await self.callbacks.start()
        if self.worker is not None:
            await self.worker.start()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        await self.callbacks.stop()

    def close(self) -> None:
        self.skills.close()


# --------------------------------------------------------------------------- ports


@dataclass
class _Ports:
    tenants: TenantStore
    history: HistoryStore
    jobs: JobStore
    blobs: BlobStore
    skills: SkillInvoker
    log: ConversationLog
    analytics: AnalyticsStore
    limits: RateLimitStore
    token_secret: bytes


def _local_token_secret(settings: Settings) -> bytes:
    if settings.token_secret:
        return settings.token_secret.encode()
    path = settings.resolved_data_dir / "secret.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            with path.open("x") as handle:  # "x": two processes starting at once agree on one
                handle.write(secrets.token_hex(32))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text().strip().encode()


def build_blob_store(settings: Settings, *, aws_clients: Any = None) -> BlobStore:
    """The blob store alone (what a skill process needs)."""
    if settings.backend == "aws":
        from infra.aws.clients import aws_clients as make_clients
        from infra.aws.s3_blob_store import S3BlobStore

        clients = aws_clients or make_clients(settings)
        assert settings.bucket_name is not None
        return S3BlobStore(bucket=settings.bucket_name, client=clients.s3)
    from infra.local.filesystem_blob_store import FilesystemBlobStore

    return FilesystemBlobStore(root=settings.resolved_data_dir / "blobs")


def build_skill_context(settings: Settings | None = None) -> SkillContext:
    """What a skill's `run(event, ctx)` gets: the blob store and the settings."""
    settings = settings or get_settings()
    return SkillContext(blobs=build_blob_store(settings), settings=settings)


def _local_ports(settings: Settings) -> _Ports:
    from infra.local.filesystem_blob_store import FilesystemBlobStore
    from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
    from infra.local.jsonl_conversation_log import JsonlConversationLog
    from infra.local.sqlite_analytics_store import SqliteAnalyticsStore
    from infra.local.sqlite_history_store import SqliteHistoryStore
    from infra.local.sqlite_job_store import SqliteJobStore
    from infra.local.sqlite_rate_limit_store import SqliteRateLimitStore
    from infra.local.sqlite_tenant_store import SqliteTenantStore

    data = settings.resolved_data_dir
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    data.chmod(0o700)  # the owner's only: customers' conversations live here
    db = data / "lambdesk.db"
    blobs = FilesystemBlobStore(root=data / "blobs")
    return _Ports(
        tenants=SqliteTenantStore(db_path=db),
        history=SqliteHistoryStore(db_path=db, ttl_days=settings.history_ttl_days),
        jobs=SqliteJobStore(db_path=db, ttl_days=settings.job_ttl_days),
        blobs=blobs,
        skills=InProcessSkillInvoker(
            SkillContext(blobs=blobs, settings=settings),
            workers=settings.skill_workers,
            modules=LOCAL_FUNCTION_MODULES,
        ),
        log=JsonlConversationLog(log_dir=data / "logs", stdout=settings.log_stdout),
        analytics=SqliteAnalyticsStore(db_path=db),
        limits=SqliteRateLimitStore(db_path=db),
        token_secret=_local_token_secret(settings),
    )


def _aws_ports(settings: Settings) -> _Ports:
    from infra.aws.clients import aws_clients
    from infra.aws.dynamodb_analytics_store import DynamoDBAnalyticsStore
    from infra.aws.dynamodb_history_store import DynamoDBHistoryStore
    from infra.aws.dynamodb_job_store import DynamoDBJobStore
    from infra.aws.dynamodb_rate_limit_store import DynamoDBRateLimitStore
    from infra.aws.dynamodb_tenant_store import DynamoDBTenantStore
    from infra.aws.lambda_skill_invoker import LambdaSkillInvoker
    from infra.aws.powertools_conversation_log import PowertoolsConversationLog

    clients = aws_clients(settings)
    assert settings.table_name and settings.function_prefix
    if not settings.token_secret:
        raise ValueError("LAMBDESK_BACKEND=aws needs LAMBDESK_TOKEN_SECRET")
    blobs = build_blob_store(settings, aws_clients=clients)
    skills: SkillInvoker = LambdaSkillInvoker(
        client=clients.lambda_, function_prefix=settings.function_prefix
    )
    local_skills = [name.strip() for name in settings.local_skills.split(",") if name.strip()]
    if local_skills:
        from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
        from infra.routing_skill_invoker import RoutingSkillInvoker

        here = InProcessSkillInvoker(
            SkillContext(blobs=blobs, settings=settings), workers=settings.skill_workers
        )
        skills = RoutingSkillInvoker(local=here, remote=skills, names=local_skills)
        here.ctx = replace(here.ctx, skills=skills)  # what they call goes through the router
    return _Ports(
        tenants=DynamoDBTenantStore(table_name=settings.table_name, client=clients.dynamodb),
        history=DynamoDBHistoryStore(
            table_name=settings.table_name,
            client=clients.dynamodb,
            ttl_days=settings.history_ttl_days,
        ),
        jobs=DynamoDBJobStore(
            table_name=settings.table_name,
            client=clients.dynamodb,
            ttl_days=settings.job_ttl_days,
        ),
        blobs=blobs,
        skills=skills,
        log=PowertoolsConversationLog(service=settings.service_name),
        analytics=DynamoDBAnalyticsStore(table_name=settings.table_name, client=clients.dynamodb),
        limits=DynamoDBRateLimitStore(table_name=settings.table_name, client=clients.dynamodb),
        token_secret=settings.token_secret.encode(),
    )


def _workflow_definition(name: str) -> dict[str, Any]:
    """A training workflow's ASL definition as the interpreter runs it here or in a job
    function (the steps function is named `train` for either invoker)."""
    from training.workflows import local_definition

    return local_definition(name, runner="lambda")


# --------------------------------------------------------------------------- services


def build_services(
    settings: Settings | None = None, *, skills: SkillInvoker | None = None
) -> Services:
    """Every port and service for `settings` (the process settings by default). `skills`
    replaces the backend's skill invoker (tests pass one with fast fake skills). Log records of
    the process are redacted from here on (`core.logging.install_log_redaction`)."""
    install_log_redaction()
    settings = settings or get_settings()
    ports = _aws_ports(settings) if settings.backend == "aws" else _local_ports(settings)
    if skills is not None:
        ports.skills.close()
        ports.skills = skills
    return wire(settings, ports)


def wire(settings: Settings, ports: _Ports) -> Services:
    from infra.http.callback_sender import HttpxCallbackSender

    local = settings.backend == "local"
    callbacks = HttpxCallbackSender(
        token_secret=ports.token_secret,
        inline=not local,
        allow_insecure=settings.callback_allow_insecure,
    )
    sessions = SessionService(
        history=ports.history,
        locks=SessionLocks(),
        token_secret=ports.token_secret,
        token_ttl_s=settings.session_token_ttl_s,
        limits=ports.limits,
        sessions_per_minute_per_client=settings.sessions_per_minute_per_client,
        max_metadata_bytes=settings.max_metadata_bytes,
    )
    vision = VisionService(blobs=ports.blobs, skills=ports.skills, settings=settings)
    conversation = ConversationService(
        sessions=sessions,
        history=ports.history,
        skills=ports.skills,
        log=ports.log,
        analytics=ports.analytics,
        settings=settings,
        limits=ports.limits,
        vision=vision,
    )
    dispatch: JobDispatcher
    wakeup = None
    if local:
        from infra.local.job_worker import LocalWakeup

        wakeup = LocalWakeup()
        dispatch = wakeup
    else:
        dispatch = InvokerDispatcher(skills=ports.skills, functions=JOB_FUNCTIONS)
    voice = VoiceService(
        blobs=ports.blobs,
        jobs=ports.jobs,
        tenants=ports.tenants,
        skills=ports.skills,
        sessions=sessions,
        conversation=conversation,
        dispatch=dispatch,
        settings=settings,
    )
    video = VideoService(
        blobs=ports.blobs,
        jobs=ports.jobs,
        tenants=ports.tenants,
        skills=ports.skills,
        dispatch=dispatch,
        settings=settings,
    )
    training = TrainingService(
        jobs=ports.jobs,
        blobs=ports.blobs,
        skills=ports.skills,
        dispatch=dispatch,
        definition=_workflow_definition,
    )
    job_service = JobService(
        jobs=ports.jobs,
        runners={
            "voice": voice.run_job,
            "video": video.run_job,
            TrainingService.KIND: training.run_job,
        },
        callbacks=callbacks,
    )
    worker = None
    if wakeup is not None:
        from infra.local.job_worker import JobWorker

        worker = JobWorker(service=job_service, jobs=ports.jobs, wakeup=wakeup)
    return Services(
        settings=settings,
        tenants=ports.tenants,
        history=ports.history,
        jobs=ports.jobs,
        blobs=ports.blobs,
        skills=ports.skills,
        log=ports.log,
        analytics=ports.analytics,
        limits=ports.limits,
        callbacks=callbacks,
        token_secret=ports.token_secret,
        sessions=sessions,
        conversation=conversation,
        handoffs=HandoffService(
            sessions=sessions, history=ports.history, analytics=ports.analytics
        ),
        voice=voice,
        vision=vision,
        video=video,
        job_service=job_service,
        training=training,
        erasure=ErasureService(history=ports.history, jobs=ports.jobs, blobs=ports.blobs),
        worker=worker,
    )
