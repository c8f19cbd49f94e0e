"""Cold-start benchmark: what a fresh process pays before its first answer, each beside a
baseline measured in the same run (these machines are noisy: read the ratios).

- API Lambda cold start: a fresh interpreter imports `api.lambda_handler` (which builds the aws
  clients, services and app at import) and answers one HTTP API v2 `GET /healthz` event through
  Mangum, beside a bare FastAPI + Mangum app with boto3 DynamoDB and S3 clients doing the same;
  `--root` measures another checkout's entry the same way (a before/after comparison);
- API import: `import api.app` + `create_app()` in a fresh interpreter, beside `import fastapi`
  alone (the floor any FastAPI service pays);
- skill cold start: a fresh process's first intent and retrieval call over a trained tenant
  (imports, encoder load, model/index read), beside the same process's next call (warm), on
  ONNX Runtime (the default) and on sentence-transformers/torch (the baseline).

    .venv/bin/python bench/cold_start.py [--runs 5] [--root OTHER_CHECKOUT] [--api-only]

One figure per line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT_API = """
import time; t = time.perf_counter()
from api.app import create_app; create_app()
print((time.perf_counter() - t) * 1000)
"""
HEALTHZ_EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/healthz",
    "rawQueryString": "",
    "headers": {"host": "api.example"},
    "requestContext": {
        "accountId": "000000000000",
        "apiId": "bench",
        "domainName": "api.example",
        "domainPrefix": "api",
        "requestId": "r1",
        "routeKey": "$default",
        "stage": "$default",
        "time": "30/Nov/2026:00:00:00 +0000",
        "timeEpoch": 0,
        "http": {
            "method": "GET",
            "path": "/healthz",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.1",
            "userAgent": "bench",
        },
    },
    "isBase64Encoded": False,
}
LAMBDA_ENTRY = f"""
import sys, time; t = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from api.lambda_handler import handler
response = handler({HEALTHZ_EVENT!r}, None)
assert response["statusCode"] == 200, response
print((time.perf_counter() - t) * 1000)
"""
BARE_LAMBDA = f"""
import sys, time; t = time.perf_counter()
import boto3
from fastapi import FastAPI
from mangum import Mangum
session = boto3.session.Session(region_name="us-east-1")
dynamodb, s3 = session.client("dynamodb"), session.client("s3")
app = FastAPI()

@app.get("/healthz")
async def healthz():
    return {{"status": "ok"}}

handler = Mangum(app, lifespan="off")
response = handler({HEALTHZ_EVENT!r}, None)
assert response["statusCode"] == 200, response
print((time.perf_counter() - t) * 1000)
"""
PACKAGES = ("api", "core", "infra", "knowledge", "skills", "training", "workers")
# What serverless.yml gives the API function (no call leaves the process for /healthz).
LAMBDA_ENV = {
    "LAMBDESK_BACKEND": "aws",
    "LAMBDESK_TABLE_NAME": "lambdesk-bench",
    "LAMBDESK_BUCKET_NAME": "lambdesk-bench-blobs",
    "LAMBDESK_FUNCTION_PREFIX": "lambdesk-bench-",
    "LAMBDESK_TOKEN_SECRET": "bench-secret",
    "LAMBDESK_WARMUP": "false",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
IMPORT_FASTAPI = """
import time; t = time.perf_counter()
import fastapi; fastapi.FastAPI()
print((time.perf_counter() - t) * 1000)
"""
SKILL_CALLS = """
import json, sys, time
t = time.perf_counter()
from core.bootstrap import build_skill_context
from skills.intent.skill import run as intent
from skills.retrieval.skill import run as retrieval
ctx = build_skill_context()
out = {}
for name, fn, event in (
    ("intent", intent, {"tenant_id": "bench", "text": "my card has not arrived"}),
    ("retrieval", retrieval, {"op": "search", "tenant_id": "bench", "query": "opening hours"}),
):
    t = time.perf_counter(); fn(event, ctx)
    out[name + "_cold_ms"] = (time.perf_counter() - t) * 1000
    event = dict(event); event[("text" if name == "intent" else "query")] += " please"
    t = time.perf_counter(); fn(event, ctx)
    out[name + "_warm_ms"] = (time.perf_counter() - t) * 1000
print(json.dumps(out))
"""


def run_python(code: str, env: dict[str, str], *args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout.strip().splitlines()[-1]


def _cpu_ms(code: str, env: dict[str, str], *args: str, cwd: Path = ROOT) -> tuple[float, float]:
    """(wall ms the process reports, CPU ms it used: user + system, from the OS)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = float(run_python(code, env, *args, cwd=cwd))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def lambda_cold_starts(runs: int, roots: list[Path]) -> None:
    """Fresh-process cold start of each checkout's API entry, beside the bare baseline,
    interleaved so that machine noise hits every variant alike. CPU time (what the process
    itself spent) is steadier than wall time on a shared machine; both are printed.

    Each checkout's modules are byte-compiled first, as the libraries are: with stale or missing
    `.pyc` files (`PYTHONDONTWRITEBYTECODE` keeps them so) every run would compile the edited
    modules again, and the comparison would measure that."""
    env = {**os.environ, **LAMBDA_ENV}
    samples: dict[str, list[tuple[float, float]]] = {"bare": []}
    for root in roots:
        samples[str(root)] = []
        packages = [str(root / p) for p in PACKAGES if (root / p).is_dir()]
        subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)
    for _ in range(runs):
        samples["bare"].append(_cpu_ms(BARE_LAMBDA, env))
        for root in roots:
            samples[str(root)].append(_cpu_ms(LAMBDA_ENTRY, env, str(root), cwd=root))
    bare_wall = statistics.median(w for w, _ in samples["bare"])
    bare_cpu = statistics.median(c for _, c in samples["bare"])
    print(f"lambda_bare_fastapi_mangum_boto3_ms={bare_wall:.0f} cpu_ms={bare_cpu:.0f}")
    for root in roots:
        wall = statistics.median(w for w, _ in samples[str(root)])
        cpu = statistics.median(c for _, c in samples[str(root)])
        label = "this" if root == ROOT else root.name
        print(f"lambda_entry_ms[{label}]={wall:.0f} cpu_ms={cpu:.0f}")
        print(f"lambda_entry_over_bare[{label}]={wall / bare_wall:.2f} cpu={cpu / bare_cpu:.2f}")


def prepare_tenant(env: dict[str, str]) -> None:
    """A small trained tenant `bench`: 10 BANKING77 intents and the demo knowledge pages."""
    code = f"""
import asyncio, csv
from collections import defaultdict
from core.bootstrap import build_services
from core.models import Tenant
from training.intents import Example, train_intent_model
from cli.commands import add_knowledge
c = build_services()
c.tenants.create_tenant(Tenant(tenant_id="bench"))
rows = defaultdict(list)
for r in csv.DictReader(open({str(ROOT / "demo/banking77/train.csv")!r})):
    rows[r["category"]].append(r["text"])
ex = [Example(text=t, intent=i) for i in list(rows)[:10] for t in rows[i][:40]]
train_intent_model(tenant_id="bench", examples=ex, blobs=c.blobs, progress=False)
add_knowledge(c, tenant_id="bench", paths=[{str(ROOT / "demo/knowledge")!r}])
c.close()
print("ok")
"""
    run_python(code, env)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, action="append", default=[])
    parser.add_argument("--api-only", action="store_true", help="the API Lambda figures only")
    args = parser.parse_args()
    lambda_cold_starts(args.runs, [ROOT, *[r.resolve() for r in args.root]])
    if args.api_only:
        return 0
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "LAMBDESK_DATA_DIR": data, "LAMBDESK_LOG_STDOUT": "false"}
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        api = [float(run_python(IMPORT_API, env)) for _ in range(args.runs)]
        floor = [float(run_python(IMPORT_FASTAPI, env)) for _ in range(args.runs)]
        print(f"api_import_ms={statistics.median(api):.0f}")
        print(f"fastapi_import_ms={statistics.median(floor):.0f}")
        print(f"api_over_fastapi_import={statistics.median(api) / statistics.median(floor):.2f}")

        prepare_tenant(env)
        cold_by_encoder = {}
        for encoder in ("onnx", "torch"):  # torch: the sentence-transformers baseline
            env["LAMBDESK_ENCODER"] = encoder
            calls = [json.loads(run_python(SKILL_CALLS, env)) for _ in range(args.runs)]
            for key in (
                "intent_cold_ms",
                "intent_warm_ms",
                "retrieval_cold_ms",
                "retrieval_warm_ms",
            ):
                print(f"{encoder}_{key}={statistics.median(c[key] for c in calls):.1f}")
            cold_by_encoder[encoder] = statistics.median(c["intent_cold_ms"] for c in calls)
        print(
            f"intent_cold_torch_over_onnx={cold_by_encoder['torch'] / cold_by_encoder['onnx']:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
