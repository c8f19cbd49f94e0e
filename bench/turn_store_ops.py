"""Store calls of one text chat turn on the aws backend: how many DynamoDB (and S3) requests a
turn sends, counted on the wire by botocore's event hooks, against moto's server. The skills are
the fast fakes of `tests/fakes.py` (their own S3 reads are not the turn's).

    .venv/bin/python bench/turn_store_ops.py

Prints one line per caller kind: a session token in its session, an admin key in a session.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def main() -> None:
    import httpx

    from api.app import create_app
    from core.auth import create_tenant_with_keys
    from core.bootstrap import build_blob_store, build_services
    from core.models import Tenant
    from core.ports import SkillContext
    from core.settings import Settings
    from devtools.local_stack import provision, start_moto, use_fake_credentials
    from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
    from tests.fakes import fake_registry

    use_fake_credentials()
    moto = start_moto()
    suffix = uuid.uuid4().hex[:8]
    table, bucket = f"bench-{suffix}", f"bench-{suffix}"
    provision(endpoint_url=moto.url, table_name=table, bucket_name=bucket, region="us-east-1")
    settings = Settings(
        backend="aws",
        data_dir=Path(tempfile.mkdtemp()),
        aws_endpoint_url=moto.url,
        table_name=table,
        bucket_name=bucket,
        function_prefix="bench-",
        token_secret="s" * 32,
        warmup=False,
        log_stdout=False,
    )
    skills = InProcessSkillInvoker(
        SkillContext(blobs=build_blob_store(settings), settings=settings), registry=fake_registry()
    )
    services = build_services(settings, skills=skills)
    _, admin, widget = create_tenant_with_keys(
        tenants=services.tenants,
        tenant=Tenant(
            tenant_id="bench",
            allowed_origins=["https://x.example"],
            responses={"refund_policy": "Refunds within 30 days."},
        ),
    )
    counts: collections.Counter[str] = collections.Counter()

    def count(model: Any, **_: Any) -> None:
        counts[f"{model.service_model.service_name}:{model.name}"] += 1

    for client in {services.history.client, services.tenants.client}:  # type: ignore[attr-defined]
        client.meta.events.register("before-call.*.*", count)
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        opened = await client.post(
            "/v1/sessions",
            headers={"Authorization": f"Bearer {widget}", "Origin": "https://x.example"},
            json={},
        )
        session = opened.json()
        token = {"Authorization": f"Bearer {session['session_token']}"}
        body = {"session_id": session["session_id"], "text": "warm up"}
        await client.post("/v1/chat", headers=token, json=body)
        for label, headers in (
            ("session token", token),
            ("admin key", {"Authorization": f"Bearer {admin}"}),
        ):
            counts.clear()
            body = {"session_id": session["session_id"], "text": "what is your refund policy"}
            response = await client.post("/v1/chat", headers=headers, json=body)
            assert response.status_code == 200, response.text
            calls = {k: v for k, v in sorted(counts.items()) if k.startswith("dynamodb")}
            print(f"one turn ({label}): {calls} total {sum(calls.values())}")
    services.close()
    moto.stop()


if __name__ == "__main__":
    asyncio.run(main())
