"""AWS backends for the contract suites: DynamoDB and S3 stores on moto's server, and the
Powertools conversation log read back from captured stdout.

`moto_server` (tests/conftest.py) is one `ThreadedMotoServer` for the session; each factory
creates a fresh table or bucket with the deployed schema (`infra/aws/table_schema.json`), so
every test starts empty and no test sees another's items.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest

from core.models import TurnRecord
from core.ports import (
    AnalyticsStore,
    BlobStore,
    HistoryStore,
    JobStore,
    RateLimitStore,
    TenantStore,
)

REGION = "us-east-1"


_clients: dict[tuple[str, str], Any] = {}


def _client(request: pytest.FixtureRequest, service: Any) -> Any:
    """One client per service and endpoint for the session (building one costs ~0.5 s)."""
    import boto3

    url: str = request.getfixturevalue("moto_server")
    if (url, service) not in _clients:
        _clients[url, service] = boto3.session.Session(region_name=REGION).client(
            service, endpoint_url=url
        )
    return _clients[url, service]


def _fresh_table(request: pytest.FixtureRequest) -> tuple[str, Any]:
    from infra.aws.table_schema import create_table

    client = _client(request, "dynamodb")
    name = f"lambdesk-test-{uuid.uuid4().hex[:12]}"
    create_table(client, name)
    return name, client


def dynamodb_tenant_store(request: pytest.FixtureRequest) -> TenantStore:
    from infra.aws.dynamodb_tenant_store import DynamoDBTenantStore

    table, client = _fresh_table(request)
    return DynamoDBTenantStore(table_name=table, client=client)


def dynamodb_history_store(request: pytest.FixtureRequest) -> HistoryStore:
    from infra.aws.dynamodb_history_store import DynamoDBHistoryStore

    table, client = _fresh_table(request)
    return DynamoDBHistoryStore(table_name=table, client=client)


def dynamodb_job_store(request: pytest.FixtureRequest) -> JobStore:
    from infra.aws.dynamodb_job_store import DynamoDBJobStore

    table, client = _fresh_table(request)
    return DynamoDBJobStore(table_name=table, client=client)


def dynamodb_analytics_store(request: pytest.FixtureRequest, ring: int) -> AnalyticsStore:
    from infra.aws.dynamodb_analytics_store import DynamoDBAnalyticsStore

    table, client = _fresh_table(request)
    return DynamoDBAnalyticsStore(table_name=table, client=client, unanswered_per_day=ring)


def dynamodb_rate_limit_store(request: pytest.FixtureRequest) -> RateLimitStore:
    from infra.aws.dynamodb_rate_limit_store import DynamoDBRateLimitStore

    table, client = _fresh_table(request)
    return DynamoDBRateLimitStore(table_name=table, client=client)


def s3_blob_store(request: pytest.FixtureRequest) -> BlobStore:
    from infra.aws.s3_blob_store import S3BlobStore
    from infra.aws.table_schema import create_bucket

    client = _client(request, "s3")
    bucket = f"lambdesk-test-{uuid.uuid4().hex[:12]}"
    create_bucket(client, bucket, region=REGION)
    return S3BlobStore(bucket=bucket, client=client)


def powertools_conversation_log(request: pytest.FixtureRequest) -> Any:
    """The Powertools log plus a reader that parses the JSON lines it printed to stdout."""
    from infra.aws.powertools_conversation_log import PowertoolsConversationLog
    from tests.contract.conftest import ConversationLogUnderTest

    capsys: pytest.CaptureFixture[str] = request.getfixturevalue("capsys")
    log = PowertoolsConversationLog(service="lambdesk-contract")
    seen: list[str] = []

    def read(tenant_id: str, day: date) -> list[TurnRecord]:
        seen.extend(capsys.readouterr().out.splitlines())
        records = []
        for line in seen:
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry.get("message") != "turn" or entry.get("tenant") != tenant_id:
                continue
            record = TurnRecord.model_validate(entry["turn"])
            if record.timestamp.date() == day:
                records.append(record)
        return records

    return ConversationLogUnderTest(log=log, read=read)
