"""Text-turn benchmark: warm latency (p50/p99) and throughput of `POST /v1/chat`, each beside
`GET /healthz` measured in the same run against the same server (ratios, not absolute times:
these machines are noisy).

    .venv/bin/python bench/text_turn.py [--data-dir .lambdesk] [--requests 200] [--concurrency 8]
        [--root OTHER_CHECKOUT ...] [--rounds N]

Starts `lambdesk serve` on a free port over the data dir (building the demo tenant there first if
needed), warms it up, then measures. Prints one figure per line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LAMBDESK = [sys.executable, "-m", "cli.main"]
Request = tuple[str, str, dict[str, Any] | None]


def customer_questions() -> list[str]:
    """Distinct real customer questions (the BANKING77 test split): no turn repeats a text, so
    no cache of a recent text flatters the figures."""
    with (ROOT / "demo" / "banking77" / "test.csv").open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def latencies(client: httpx.AsyncClient, requests: list[Request]) -> list[float]:
    out = []
    for method, path, body in requests:
        started = time.perf_counter()
        response = await client.request(method, path, json=body)
        out.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return out


async def throughput(client: httpx.AsyncClient, requests: list[Request], concurrency: int) -> float:
    queue = list(requests)
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while queue:
            method, path, body = queue.pop()
            response = await client.request(method, path, json=body)
            errors += response.status_code >= 500

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if errors:
        print(f"server_errors={errors}")
    return len(requests) / elapsed


async def measure(base_url: str, admin_key: str, n: int, concurrency: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        sessions = []
        for _ in range(max(concurrency, 8)):
            response = await client.post("/v1/sessions", json={})
            response.raise_for_status()
            sessions.append(response.json()["session_id"])

        questions = iter(customer_questions())

        def chats(count: int) -> list[Request]:
            return [
                (
                    "POST",
                    "/v1/chat",
                    {
                        "session_id": sessions[i % len(sessions)],
                        "text": next(questions),
                    },
                )
                for i in range(count)
            ]

        health: list[Request] = [("GET", "/healthz", None)] * n
        await latencies(client, chats(20) + health[:20])  # warm-up: models, caches, connections
        health_ms = await latencies(client, health)
        chat_ms = await latencies(client, chats(n))
        health_rps = await throughput(client, health * 2, concurrency)
        chat_rps = await throughput(client, chats(n), concurrency)
    return {
        "healthz_p50_ms": statistics.median(health_ms),
        "healthz_p99_ms": percentile(health_ms, 99),
        "chat_p50_ms": statistics.median(chat_ms),
        "chat_p99_ms": percentile(chat_ms, 99),
        "healthz_rps": health_rps,
        "chat_turns_per_s": chat_rps,
    }


def serve_and_measure(
    root: Path,
    data_dir: Path,
    args: argparse.Namespace,
    measure_with: Any = None,
) -> dict[str, float]:
    """Start `root`'s server over `data_dir`, measure (`measure_with(base_url, admin_key, args)`,
    by default the text turns), stop."""
    env = {**os.environ, "LAMBDESK_DATA_DIR": str(data_dir), "LAMBDESK_LOG_STDOUT": "false"}
    keys = json.loads((data_dir / "demo-keys.json").read_text())
    port = free_port()
    server = subprocess.Popen(
        [*LAMBDESK, "serve", "--port", str(port)],
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server of {root} did not start")
            time.sleep(0.2)
        if measure_with is not None:
            figures: dict[str, float] = measure_with(base_url, keys["admin_key"], args)
            return figures
        return asyncio.run(measure(base_url, keys["admin_key"], args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT / ".lambdesk"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--root",
        type=Path,
        action="append",
        default=[],
        help="also measure another checkout (same demo data, a copy per checkout); repeatable",
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternate the checkouts this often")
    args = parser.parse_args()

    env = {**os.environ, "LAMBDESK_DATA_DIR": args.data_dir, "LAMBDESK_LOG_STDOUT": "false"}
    subprocess.run([*LAMBDESK, "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    roots = [ROOT, *(r.resolve() for r in args.root)]
    print(f"requests={args.requests} concurrency={args.concurrency} cpus={os.cpu_count()}")
    figures: dict[Path, list[dict[str, float]]] = {root: [] for root in roots}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for index, root in enumerate(roots):
                copy = Path(scratch) / f"data-{index}"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(args.data_dir, copy)
                figures[root].append(serve_and_measure(root, copy, args))
    for root in roots:
        label = "" if root == ROOT else f"[{root.name}]"
        runs = figures[root]
        merged = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for key, value in merged.items():
            print(f"{key}{label}={value:.2f}" if "ms" in key else f"{key}{label}={value:.1f}")
        print(
            f"chat_over_healthz_p50{label}={merged['chat_p50_ms'] / merged['healthz_p50_ms']:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
