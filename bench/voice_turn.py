"""Voice-turn latency over HTTP (`POST /v1/voice?wait=30` until the spoken reply is ready) on the
local backend, for this checkout and, with `--root`, another one in the same run (the same demo
data, a copy each). The clips are the same sentences spoken by the tts skill.

    .venv/bin/python bench/voice_turn.py [--root OTHER_CHECKOUT] [--turns 8] [--rounds 2]

Prints the median voice turn per checkout and the ratio to this one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = (
    "Hello, I lost my card yesterday. Can you block it?",
    "What are your branch opening hours on Saturday?",
    "How do I reset my online banking password?",
    "I was charged twice for the same purchase.",
)


def clips() -> list[bytes]:
    from skills.audio import encode
    from skills.tts.skill import synthesize

    out = []
    for text in SENTENCES:
        samples, rate = synthesize(text, noise_scale=0.0, noise_w_scale=0.0)
        out.append(encode(samples, sample_rate=rate, fmt="ogg"))
    return out


def measure(base_url: str, admin_key: str, args: argparse.Namespace) -> dict[str, float]:
    audio = args.clips
    headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "audio/ogg"}
    times: list[float] = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        for index in range(args.turns + 1):
            started = time.perf_counter()
            response = client.post("/v1/voice?wait=30", content=audio[index % len(audio)])
            body = response.json()
            if body.get("status") != "succeeded":
                raise SystemExit(f"voice turn failed: {response.status_code} {body}")
            if index:  # the first turn loads the models
                times.append((time.perf_counter() - started) * 1000)
    return {"voice_turn_p50_ms": statistics.median(times)}


def main() -> int:
    from bench.text_turn import LAMBDESK, serve_and_measure

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT / ".lambdesk"))
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--root", type=Path, action="append", default=[])
    args = parser.parse_args()
    args.clips = clips()
    env = {**os.environ, "LAMBDESK_DATA_DIR": args.data_dir, "LAMBDESK_LOG_STDOUT": "false"}
    subprocess.run([*LAMBDESK, "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    roots = [ROOT, *(r.resolve() for r in args.root)]
    results: dict[Path, list[float]] = {root: [] for root in roots}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for index, root in enumerate(roots):
                copy = Path(scratch) / f"data-{index}"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(args.data_dir, copy)
                figures: Any = serve_and_measure(root, copy, args, measure_with=measure)
                results[root].append(figures["voice_turn_p50_ms"])
    this = statistics.median(results[ROOT])
    for root in roots:
        value = statistics.median(results[root])
        label = "this" if root == ROOT else root.name
        print(f"voice_turn_p50_ms[{label}]={value:.0f}")
        print(f"voice_turn_over_this[{label}]={value / this:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
