"""The Lambda entrypoints in aws mode, configured only by environment variables as on AWS:
`api.lambda_handler.handler` (Mangum) answering HTTP API v2 events, and the real skills'
`handler.py` run by the local Lambda endpoint, reading their blobs from S3 on moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.auth import create_tenant_with_keys
from core.bootstrap import build_container, process_skill_context
from core.models import Tenant
from core.settings import Settings, get_settings
from tests.integration.aws.conftest import LocalAws

ORIGIN = "https://bank.example"


@pytest.fixture
def aws_env(
    local_aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """LAMBDESK_* as serverless.yml sets them, for a fresh table and bucket; every per-process
    cache (settings, the API handler, the skill handlers' contexts) is reset around the test."""
    settings = local_aws.settings(tmp_path / "data")
    env = {
        "LAMBDESK_BACKEND": "aws",
        "LAMBDESK_DATA_DIR": str(tmp_path / "data"),
        "LAMBDESK_AWS_REGION": settings.aws_region,
        "LAMBDESK_AWS_ENDPOINT_URL": str(settings.aws_endpoint_url),
        "LAMBDESK_TABLE_NAME": str(settings.table_name),
        "LAMBDESK_BUCKET_NAME": str(settings.bucket_name),
        "LAMBDESK_FUNCTION_PREFIX": str(settings.function_prefix),
        "LAMBDESK_TOKEN_SECRET": str(settings.token_secret),
        "LAMBDESK_WARMUP": "false",
        "HF_HUB_OFFLINE": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    process_skill_context.cache_clear()
    import api.lambda_handler

    monkeypatch.setattr(api.lambda_handler, "_handler", None)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    process_skill_context.cache_clear()


def _event(method: str, path: str, *, headers: dict[str, str], body: Any = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event."""
    raw = json.dumps(body).encode() if body is not None else b""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            **{k.lower(): v for k, v in headers.items()},
        },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:17:00:00 +0000",
            "timeEpoch": 1795000000000,
        },
        "body": base64.b64encode(raw).decode() if raw else None,
        "isBase64Encoded": bool(raw),
    }


def _call(method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    from api.lambda_handler import handler

    response = handler(_event(method, path, headers=headers, body=body), None)
    text = response.get("body") or ""
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    return response["statusCode"], json.loads(text) if text else None


def test_the_api_lambda_serves_a_chat_turn_with_the_real_skills(
    aws_env: Settings, local_aws: LocalAws
) -> None:
    for name in ("intent", "retrieval"):  # no fakes: the endpoint imports skills/<name>/handler.py
        local_aws.lambdas.unregister(name)
    container = build_container(aws_env)
    _, _admin, widget = create_tenant_with_keys(
        tenants=container.tenants,
        tenant=Tenant(tenant_id="demo-bank", allowed_origins=[ORIGIN]),
    )

    status, health = _call("GET", "/healthz", {})
    assert (status, health) == (200, {"status": "ok", "backend": "aws"})

    status, session = _call(
        "POST", "/v1/sessions", {"Authorization": f"Bearer {widget}", "Origin": ORIGIN}, {}
    )
    assert status == 201, session
    token = {"Authorization": f"Bearer {session['session_token']}"}

    # The tenant has no intent model and no knowledge yet: the real skills answer "nothing".
    status, reply = _call(
        "POST", "/v1/chat", token, {"session_id": session["session_id"], "text": "hello there"}
    )
    assert status == 200, reply
    assert reply["source"] == "fallback"

    status, page = _call("GET", f"/v1/sessions/{session['session_id']}/messages", token)
    assert status == 200
    assert [m["role"] for m in page["items"]] == ["user", "bot"]
    stored = container.history.list_messages(
        tenant_id="demo-bank", session_id=session["session_id"]
    )
    assert stored.items[0].text == "hello there"

    from infra.aws.s3_blob_store import S3BlobStore

    ctx = process_skill_context()  # what the real handlers ran with: blobs on S3
    assert isinstance(ctx.blobs, S3BlobStore)
    assert ctx.blobs.bucket == aws_env.bucket_name

    status, error = _call("GET", f"/v1/sessions/{session['session_id']}/messages", {})
    assert status == 401 and error["error"]["code"]
    container.close()
