"""The composition root: the one place that picks adapters from settings.

`build_container(settings)` returns every port wired for the chosen backend. Entrypoints (the API,
the CLI, a skill's Lambda handler) call it once per process; nothing else imports `infra.*`.
Adapter modules are imported inside the branches, so a local process never imports boto3 and
an API process never imports a model library.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from core.ports import (
    AnalyticsStore,
    BlobStore,
    ConversationLog,
    HistoryStore,
    JobStore,
    SkillContext,
    SkillInvoker,
    TenantStore,
)
from core.settings import Settings, get_settings


@dataclass
class Container:
    """Every port, wired. Services take the pieces they need from here."""

    settings: Settings
    tenants: TenantStore
    history: HistoryStore
    jobs: JobStore
    blobs: BlobStore
    skills: SkillInvoker
    log: ConversationLog
    token_secret: bytes
    extras: dict[str, Any] = field(default_factory=dict)
    analytics: AnalyticsStore | None = None  # daily counters; None: analytics not recorded

    def close(self) -> None:
        self.skills.close()


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
    settings = settings or get_settings()
    return SkillContext(blobs=build_blob_store(settings), settings=settings)


@lru_cache(maxsize=1)
def process_skill_context() -> SkillContext:
    """The skill context of a skill's Lambda process: built on its first event from the process
    settings, then reused for as long as the container stays warm."""
    return build_skill_context()


def build_container(settings: Settings | None = None) -> Container:
    settings = settings or get_settings()
    if settings.backend == "aws":
        return _build_aws(settings)
    return _build_local(settings)


def _build_local(settings: Settings) -> Container:
    from infra.local.filesystem_blob_store import FilesystemBlobStore
    from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
    from infra.local.jsonl_conversation_log import JsonlConversationLog
    from infra.local.sqlite_analytics_store import SqliteAnalyticsStore
    from infra.local.sqlite_history_store import SqliteHistoryStore
    from infra.local.sqlite_job_store import SqliteJobStore
    from infra.local.sqlite_tenant_store import SqliteTenantStore

    data = settings.resolved_data_dir
    data.mkdir(parents=True, exist_ok=True)
    db = data / "lambdesk.db"
    blobs = FilesystemBlobStore(root=data / "blobs")
    return Container(
        settings=settings,
        tenants=SqliteTenantStore(db_path=db),
        history=SqliteHistoryStore(db_path=db, ttl_days=settings.history_ttl_days),
        jobs=SqliteJobStore(db_path=db, ttl_days=settings.job_ttl_days),
        blobs=blobs,
        skills=InProcessSkillInvoker(
            SkillContext(blobs=blobs, settings=settings), workers=settings.skill_workers
        ),
        log=JsonlConversationLog(log_dir=data / "logs", stdout=settings.log_stdout),
        token_secret=_local_token_secret(settings),
        analytics=SqliteAnalyticsStore(db_path=db),
    )


def _build_aws(settings: Settings) -> Container:
    from infra.aws.clients import aws_clients
    from infra.aws.dynamodb_analytics_store import DynamoDBAnalyticsStore
    from infra.aws.dynamodb_history_store import DynamoDBHistoryStore
    from infra.aws.dynamodb_job_store import DynamoDBJobStore
    from infra.aws.dynamodb_tenant_store import DynamoDBTenantStore
    from infra.aws.lambda_skill_invoker import LambdaSkillInvoker
    from infra.aws.powertools_conversation_log import PowertoolsConversationLog

    clients = aws_clients(settings)
    assert settings.table_name and settings.function_prefix
    if not settings.token_secret:
        raise ValueError("LAMBDESK_BACKEND=aws needs LAMBDESK_TOKEN_SECRET")
    return Container(
        settings=settings,
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
        blobs=build_blob_store(settings, aws_clients=clients),
        skills=LambdaSkillInvoker(client=clients.lambda_, function_prefix=settings.function_prefix),
        log=PowertoolsConversationLog(service=settings.service_name),
        token_secret=settings.token_secret.encode(),
        analytics=DynamoDBAnalyticsStore(table_name=settings.table_name, client=clients.dynamodb),
    )


async def start_job_worker(container: Container) -> Any | None:
    """Start the in-process job worker of a local server (None on AWS, where each job is an
    `Event` invocation of its Lambda). Stop it with `await worker.stop()`."""
    if container.settings.backend != "local":
        return None
    from infra.local.job_worker import JobWorker

    worker = JobWorker(container)
    await worker.start()
    return worker
