"""Backends for the contract suites: each port fixture is parametrised over the backend names
of its factory dict, so every test of a suite runs once per backend with the same assertions.

Adding a backend (e.g. DynamoDB under a moto server) is one entry per port:
`HISTORY_STORE_FACTORIES["dynamodb"] = _dynamodb_history_store`. A factory receives the pytest
`request`, so it can pull any other fixture it needs (`request.getfixturevalue("moto_server")`),
and returns a fresh, empty store; anything with a `close()` is closed after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

import pytest

from core.models import TurnRecord
from core.ports import (
    AnalyticsStore,
    BlobStore,
    ConversationLog,
    HistoryStore,
    JobStore,
    RateLimitStore,
    TenantStore,
)
from tests.contract import aws_backends
from tests.memory_stores import (
    MemoryAnalyticsStore,
    MemoryBlobStore,
    MemoryHistoryStore,
    MemoryJobStore,
    MemoryRateLimitStore,
    MemoryTenantStore,
)

T = TypeVar("T")
RING = 3  # unanswered questions kept per tenant and day by the analytics stores under test
Factory = Callable[[pytest.FixtureRequest], T]


@dataclass
class ConversationLogUnderTest:
    """A conversation log plus a way to read back what it wrote for one tenant and UTC day
    (backend specific: files for JSON lines, captured stdout for a CloudWatch logger)."""

    log: ConversationLog
    read: Callable[[str, date], list[TurnRecord]]


def _db_path(request: pytest.FixtureRequest) -> Path:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return tmp_path / "data" / "lambdesk.db"


def _sqlite_tenant_store(request: pytest.FixtureRequest) -> TenantStore:
    from infra.local.sqlite_tenant_store import SqliteTenantStore

    return SqliteTenantStore(db_path=_db_path(request))


def _sqlite_history_store(request: pytest.FixtureRequest) -> HistoryStore:
    from infra.local.sqlite_history_store import SqliteHistoryStore

    return SqliteHistoryStore(db_path=_db_path(request))


def _sqlite_job_store(request: pytest.FixtureRequest) -> JobStore:
    from infra.local.sqlite_job_store import SqliteJobStore

    return SqliteJobStore(db_path=_db_path(request))


def _sqlite_analytics_store(request: pytest.FixtureRequest) -> AnalyticsStore:
    from infra.local.sqlite_analytics_store import SqliteAnalyticsStore

    return SqliteAnalyticsStore(db_path=_db_path(request), unanswered_per_day=RING)


def _sqlite_rate_limit_store(request: pytest.FixtureRequest) -> RateLimitStore:
    from infra.local.sqlite_rate_limit_store import SqliteRateLimitStore

    return SqliteRateLimitStore(db_path=_db_path(request))


def _filesystem_blob_store(request: pytest.FixtureRequest) -> BlobStore:
    from infra.local.filesystem_blob_store import FilesystemBlobStore

    tmp_path: Path = request.getfixturevalue("tmp_path")
    return FilesystemBlobStore(root=tmp_path / "data" / "blobs")


def _jsonl_conversation_log(request: pytest.FixtureRequest) -> ConversationLogUnderTest:
    from infra.local.jsonl_conversation_log import JsonlConversationLog

    tmp_path: Path = request.getfixturevalue("tmp_path")
    log = JsonlConversationLog(log_dir=tmp_path / "data" / "logs", stdout=False)

    def read(tenant_id: str, day: date) -> list[TurnRecord]:
        return list(log.read_turns(tenant_id=tenant_id, day=day))

    return ConversationLogUnderTest(log=log, read=read)


# backend name -> factory, per port. The fixture ids are these names (`test_x[sqlite]`).
TENANT_STORE_FACTORIES: dict[str, Factory[TenantStore]] = {
    "memory": lambda request: MemoryTenantStore(),  # the unit tests' fake, held to the contract
    "sqlite": _sqlite_tenant_store,
    "dynamodb": aws_backends.dynamodb_tenant_store,
}
HISTORY_STORE_FACTORIES: dict[str, Factory[HistoryStore]] = {
    "memory": lambda request: MemoryHistoryStore(),
    "sqlite": _sqlite_history_store,
    "dynamodb": aws_backends.dynamodb_history_store,
}
JOB_STORE_FACTORIES: dict[str, Factory[JobStore]] = {
    "memory": lambda request: MemoryJobStore(),
    "sqlite": _sqlite_job_store,
    "dynamodb": aws_backends.dynamodb_job_store,
}
BLOB_STORE_FACTORIES: dict[str, Factory[BlobStore]] = {
    "memory": lambda request: MemoryBlobStore(),
    "filesystem": _filesystem_blob_store,
    "s3": aws_backends.s3_blob_store,
}
ANALYTICS_STORE_FACTORIES: dict[str, Factory[AnalyticsStore]] = {
    "memory": lambda request: MemoryAnalyticsStore(unanswered_per_day=RING),
    "sqlite": _sqlite_analytics_store,
    "dynamodb": lambda request: aws_backends.dynamodb_analytics_store(request, RING),
}
RATE_LIMIT_STORE_FACTORIES: dict[str, Factory[RateLimitStore]] = {
    "memory": lambda request: MemoryRateLimitStore(),
    "sqlite": _sqlite_rate_limit_store,
    "dynamodb": aws_backends.dynamodb_rate_limit_store,
}
CONVERSATION_LOG_FACTORIES: dict[str, Factory[ConversationLogUnderTest]] = {
    "jsonl": _jsonl_conversation_log,
    "powertools": aws_backends.powertools_conversation_log,
}


def _build(factories: dict[str, Factory[T]], request: pytest.FixtureRequest) -> T:
    return factories[str(request.param)](request)


def _close(store: object) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


@pytest.fixture(params=list(TENANT_STORE_FACTORIES))
def tenant_store(request: pytest.FixtureRequest) -> Iterator[TenantStore]:
    store = _build(TENANT_STORE_FACTORIES, request)
    yield store
    _close(store)


@pytest.fixture(params=list(HISTORY_STORE_FACTORIES))
def history_store(request: pytest.FixtureRequest) -> Iterator[HistoryStore]:
    store = _build(HISTORY_STORE_FACTORIES, request)
    yield store
    _close(store)


@pytest.fixture(params=list(JOB_STORE_FACTORIES))
def job_store(request: pytest.FixtureRequest) -> Iterator[JobStore]:
    store = _build(JOB_STORE_FACTORIES, request)
    yield store
    _close(store)


@pytest.fixture(params=list(BLOB_STORE_FACTORIES))
def blob_store(request: pytest.FixtureRequest) -> Iterator[BlobStore]:
    store = _build(BLOB_STORE_FACTORIES, request)
    yield store
    _close(store)


@pytest.fixture(params=list(ANALYTICS_STORE_FACTORIES))
def analytics_store(request: pytest.FixtureRequest) -> Iterator[AnalyticsStore]:
    store = _build(ANALYTICS_STORE_FACTORIES, request)
    yield store
    _close(store)


@pytest.fixture(params=list(RATE_LIMIT_STORE_FACTORIES))
def rate_limit_store(request: pytest.FixtureRequest) -> Iterator[RateLimitStore]:
    store = _build(RATE_LIMIT_STORE_FACTORIES, request)
    yield store
    _close(store)


@pytest.fixture(params=list(CONVERSATION_LOG_FACTORIES))
def conversation_log(
    request: pytest.FixtureRequest,
) -> Iterator[ConversationLogUnderTest]:
    under_test = _build(CONVERSATION_LOG_FACTORIES, request)
    yield under_test
    _close(under_test.log)
