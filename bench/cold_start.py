"""Cold-start benchmark: what a fresh process pays before its first answer, each beside a
baseline measured in the same run (these machines are noisy: read the ratios).

- API import: `import api.app` + `create_app()` in a fresh interpreter, beside `import fastapi`
  alone (the floor any FastAPI service pays) — what an API Lambda's init costs;
- skill cold start: a fresh process's first intent and retrieval call over a trained tenant
  (imports, encoder load, model/index read), beside the same process's next call (warm), on
  ONNX Runtime (the default) and on sentence-transformers/torch (the baseline).

    .venv/bin/python bench/cold_start.py [--runs 5]

One figure per line.
"""

from __future__ import annotations

import argparse
import json
import os
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


def run_python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


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
    args = parser.parse_args()
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
