"""Round-trip latency of a text chat turn in aws-local mode beside local mode, in one run.

aws-local: DynamoDB and S3 on moto's server, each skill call a Lambda `Invoke` over HTTP to the
local endpoint, the Powertools log. local: SQLite, files, in-process skills, JSON lines. Both use
the fast fake intent/retrieval skills of `tests/fakes.py`, so the figures compare the backends,
not the models. Turns go through the real FastAPI app (ASGI, no sockets), one session per mode.
Prints one figure per line; compare the ratio, not absolute times (noisy machines).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TURNS = 200
WARMUP = 20
ORIGIN = "https://bench.example"


async def _turns(services: object, label: str) -> list[float]:
    import httpx

    from api.app import create_app
    from core.auth import create_tenant_with_keys
    from core.models import Tenant

    _, _, widget = create_tenant_with_keys(
        tenants=services.tenants,  # type: ignore[attr-defined]
        tenant=Tenant(
            tenant_id="bench",
            allowed_origins=[ORIGIN],
            responses={"refund_policy": "Refunds within 30 days."},
            handoff_after=10**6,
        ),
    )
    app = create_app(services)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        opened = await client.post(
            "/v1/sessions", headers={"Authorization": f"Bearer {widget}", "Origin": ORIGIN}, json={}
        )
        session = opened.json()
        headers = {"Authorization": f"Bearer {session['session_token']}"}
        samples: list[float] = []
        for i in range(WARMUP + TURNS):
            text = "what is your refund policy" if i % 2 else "where is my parcel"
            start = time.perf_counter()
            body = {"session_id": session["session_id"], "text": text}
            reply = await client.post("/v1/chat", headers=headers, json=body)
            elapsed = (time.perf_counter() - start) * 1000
            if reply.status_code != 200:
                raise RuntimeError(f"{label}: {reply.status_code} {reply.text}")
            if i >= WARMUP:
                samples.append(elapsed)
    return samples


def _local(data_dir: Path) -> object:
    from core.bootstrap import build_services
    from core.ports import SkillContext
    from core.settings import Settings
    from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
    from tests.fakes import fake_registry

    settings = Settings(
        backend="local", data_dir=data_dir, log_stdout=False, warmup=False, turns_per_minute=10**6
    )
    services = build_services(settings)
    services.skills.close()
    services.skills = InProcessSkillInvoker(
        SkillContext(blobs=services.blobs, settings=settings), workers=4, registry=fake_registry()
    )
    return services


def _aws(data_dir: Path) -> tuple[object, list[object]]:
    import os

    from core.bootstrap import build_services
    from core.ports import SkillContext
    from core.settings import Settings
    from devtools.local_lambda_server import LocalLambdaServer
    from devtools.local_stack import provision, start_moto, use_fake_credentials
    from tests.fakes import fake_registry

    use_fake_credentials()
    moto = start_moto()
    provision(endpoint_url=moto.url, table_name="bench", bucket_name="bench", region="us-east-1")
    lambdas = LocalLambdaServer(function_prefix="bench-").start()
    os.environ["AWS_ENDPOINT_URL_LAMBDA"] = lambdas.url
    settings = Settings(
        backend="aws",
        data_dir=data_dir,
        aws_endpoint_url=moto.url,
        table_name="bench",
        bucket_name="bench",
        function_prefix="bench-",
        token_secret="bench-secret",
        warmup=False,
        turns_per_minute=10**6,
    )
    services = build_services(settings)
    ctx = SkillContext(blobs=services.blobs, settings=settings)
    for name, fn in fake_registry().items():
        lambdas.register(name, _as_lambda(fn, ctx))
    return services, [lambdas, moto]


def _as_lambda(fn: Any, ctx: Any) -> Any:
    def handler(event: Any, context: Any) -> Any:
        return fn(event, ctx)

    return handler


def _summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50, p99, 1000 * len(samples) / sum(samples)


def main() -> None:
    import logging

    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        local = _local(Path(tmp) / "local")
        aws, servers = _aws(Path(tmp) / "aws")
        results = {}
        for label, services in (("local", local), ("aws_local", aws)):
            with contextlib.redirect_stdout(io.StringIO()):  # Powertools prints every turn
                samples = asyncio.run(_turns(services, label))
            results[label] = _summary(samples)
            services.close()  # type: ignore[attr-defined]
        for server in servers:
            server.stop()  # type: ignore[attr-defined]
    for label, (p50, p99, rate) in results.items():
        print(f"{label}_turn_p50_ms {p50:.2f}")
        print(f"{label}_turn_p99_ms {p99:.2f}")
        print(f"{label}_turns_per_s {rate:.1f}")
    print(f"aws_local_over_local_p50_ratio {results['aws_local'][0] / results['local'][0]:.2f}")


if __name__ == "__main__":
    main()
