"""The Lambda entrypoints in aws mode, configured only by environment variables as on AWS:
`api.lambda_handler.handler` (Mangum) answering HTTP API v2 events, and the real skills'
`handler.py` run by the local Lambda endpoint, reading their blobs from S3 on moto."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from core.auth import create_tenant_with_keys
from core.bootstrap import build_services
from core.models import Tenant
from core.settings import Settings
from tests.integration.aws.conftest import LocalAws

ORIGIN = "https://bank.example"


def _event(
    method: str, path: str, *, headers: dict[str, str], body: Any = None, raw: bytes | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event (`body` as JSON, or `raw` bytes)."""
    path, _, query = path.partition("?")
    if raw is None:
        raw = json.dumps(body).encode() if body is not None else b""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
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


def _call(
    method: str, path: str, headers: dict[str, str], body: Any = None, raw: bytes | None = None
) -> tuple[int, Any]:
    from api.lambda_handler import handler

    response = handler(_event(method, path, headers=headers, body=body, raw=raw), None)
    text = response.get("body") or ""
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    return response["statusCode"], json.loads(text) if text else None


def test_the_api_lambda_serves_a_chat_turn_with_the_real_skills(
    aws_env: Settings, local_aws: LocalAws
) -> None:
    for name in ("intent", "retrieval"):  # no fakes: the endpoint imports skills/<name>/handler.py
        local_aws.lambdas.unregister(name)
    services = build_services(aws_env)
    _, _admin, widget = create_tenant_with_keys(
        tenants=services.tenants,
        tenant=Tenant(tenant_id="demo-bank", allowed_origins=[ORIGIN]),
    )

    status, health = _call("GET", "/healthz", {})
    assert (status, health) == (200, {"status": "ok", "backend": "aws"})

    status, session = _call(
        "POST", "/v1/sessions", {"Authorization": f"Bearer {widget}", "Origin": ORIGIN}, {}
    )
    assert status == 201, session
    token = {"Authorization": f"Bearer {session['session_token']}"}

    # The tenant has no intent model and no knowledge yet: the real intent skill's built-in
    # dialogue acts still know a greeting; a question finds nothing and falls back.
    status, reply = _call(
        "POST", "/v1/chat", token, {"session_id": session["session_id"], "text": "hello there"}
    )
    assert status == 200, reply
    assert (reply["source"], reply["intent"]) == ("small_talk", "greet")
    question = "is my parcel to Lisbon delayed?"
    status, reply = _call(
        "POST", "/v1/chat", token, {"session_id": session["session_id"], "text": question}
    )
    assert status == 200, reply
    assert reply["source"] == "fallback"

    status, page = _call("GET", f"/v1/sessions/{session['session_id']}/messages", token)
    assert status == 200
    assert [m["role"] for m in page["items"]] == ["user", "bot", "user", "bot"]
    stored = services.history.list_messages(tenant_id="demo-bank", session_id=session["session_id"])
    assert [stored.items[0].text, stored.items[2].text] == ["hello there", question]

    from infra.aws.s3_blob_store import S3BlobStore
    from skills.intent.handler import context as ctx  # what the real handler ran with

    assert isinstance(ctx.blobs, S3BlobStore)
    assert ctx.blobs.bucket == aws_env.bucket_name

    status, error = _call("GET", f"/v1/sessions/{session['session_id']}/messages", {})
    assert status == 401 and error["error"]["code"]
    services.close()


HOURS = b"""# Opening hours

## Branches

Our branches are open Monday to Friday from 9:00 to 17:00 and on Saturday from 9:00 to 13:00.
They are closed on Sundays and bank holidays.
"""


def test_train_ingest_chat_and_isolation_in_aws_mode_with_the_real_skills(
    aws_env: Settings, local_aws: LocalAws
) -> None:
    """The whole text flow on the aws backend: a tenant is created in DynamoDB, its intent model
    trained into S3, a document ingested through the API Lambda (which invokes the retrieval
    Lambda over the wire to index it), then chats answered by intent and by knowledge, history,
    and another tenant's credential refused."""
    import csv
    from collections import defaultdict

    from training.intents import Example, train_intent_model

    for name in ("intent", "retrieval"):  # no fakes: the endpoint imports skills/<name>/handler.py
        local_aws.lambdas.unregister(name)
    services = build_services(aws_env)
    _, admin_a, _ = create_tenant_with_keys(
        tenants=services.tenants,
        tenant=Tenant(
            tenant_id="bank-a", responses={"card_arrival": "Cards arrive within 3-5 working days."}
        ),
    )
    _, admin_b, _ = create_tenant_with_keys(
        tenants=services.tenants, tenant=Tenant(tenant_id="bank-b")
    )
    rows: dict[str, list[str]] = defaultdict(list)
    banking77 = Path(__file__).resolve().parents[3] / "demo" / "banking77" / "train.csv"
    with banking77.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows[row["category"]].append(row["text"])
    intents = ["card_arrival", *[i for i in rows if i != "card_arrival"][:7]]
    examples = [Example(text=t, intent=i) for i in intents for t in rows[i][:25]]
    train_intent_model(
        tenant_id="bank-a",
        examples=examples,
        blobs=services.blobs,
        progress=False,
        negatives=["What's the weather tomorrow?", "Tell me a joke", "Who won the match?"],
    )

    admin = {"Authorization": f"Bearer {admin_a}"}
    status, doc = _call(
        "POST",
        "/v1/knowledge/documents?filename=hours.md",
        {**admin, "content-type": "text/markdown"},
        raw=HOURS,
    )
    assert status == 201, doc
    assert doc["chunks"] >= 1

    status, reply = _call("POST", "/v1/chat", admin, {"text": "my new card still hasn't come"})
    assert status == 200, reply
    assert (reply["source"], reply["intent"]) == ("intent", "card_arrival")
    assert reply["text"] == "Cards arrive within 3-5 working days."
    session_id = reply["session_id"]

    status, reply = _call(
        "POST",
        "/v1/chat",
        admin,
        {"session_id": session_id, "text": "When are your branches open on Saturday?"},
    )
    assert status == 200, reply
    assert reply["source"] == "knowledge"
    assert reply["citations"][0]["doc_id"] == doc["doc_id"]

    status, page = _call("GET", f"/v1/sessions/{session_id}/messages", admin)
    assert status == 200
    assert [m["source"] for m in page["items"]] == [None, "intent", None, "knowledge"]

    other = {"Authorization": f"Bearer {admin_b}"}
    for method, path in (
        ("GET", f"/v1/sessions/{session_id}/messages"),
        ("DELETE", f"/v1/sessions/{session_id}"),
        ("DELETE", f"/v1/knowledge/documents/{doc['doc_id']}"),
    ):
        status, error = _call(method, path, other)
        assert status == 404, (method, path, error)
    status, hits = _call("POST", "/v1/knowledge/search", other, {"query": "branch opening hours"})
    assert status == 200 and hits["hits"] == []
    status, page = _call("GET", f"/v1/sessions/{session_id}/messages", admin)
    assert len(page["items"]) == 4  # nothing was erased by the other tenant
    services.close()
