"""Build customer sessions from the demo tenant's data, for measuring suggestions.

    .venv/bin/python bench/sessions.py [--sessions 1500] [--heldout 0.2] [--out .bench/sessions]

A session is a short run of questions (2-4 turns): its first topic is one of the demo bank's
intents, and each next one follows a customer journey of `bench/data/journeys.csv` (what people
typically ask next: card arrival → delivery estimate → activation, …) with probability
`FOLLOW`, else any other intent (customers also change the subject). Every turn's text is a real
BANKING77 question of that intent: the training split for the sessions that seed the counters,
the test split for the held-out sessions, so no held-out text was seen. Deterministic for a seed;
writes `train.jsonl` and `heldout.jsonl` (one session per line: `[{"intent", "text"}, …]`).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANKING77 = ROOT / "demo" / "banking77"
JOURNEYS = ROOT / "bench" / "data" / "journeys.csv"
FOLLOW = 0.75
SEED = 13

Turn = dict[str, str]


def questions(split: str) -> dict[str, list[str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with (BANKING77 / f"{split}.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["category"]].append(row["text"])
    return dict(by_intent)


def journeys() -> dict[str, list[tuple[str, int]]]:
    edges: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with JOURNEYS.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            edges[row["from"]].append((row["to"], int(row["weight"])))
    return dict(edges)


def build_sessions(
    n: int, *, heldout: float = 0.2, seed: int = SEED
) -> tuple[list[list[Turn]], list[list[Turn]]]:
    """(training sessions, held-out sessions)."""
    rng = random.Random(seed)
    edges = journeys()
    train_q, test_q = questions("train"), questions("test")
    topics = sorted(set(train_q) & set(test_q))
    starts = sorted(set(edges) & set(topics))
    n_heldout = round(n * heldout)
    out: list[list[Turn]] = []
    for number in range(n):
        pool = test_q if number < n_heldout else train_q
        topic = rng.choice(starts)
        session = [{"intent": topic, "text": rng.choice(pool[topic])}]
        for _ in range(rng.randint(1, 3)):
            nexts = [t for t in edges.get(topic, []) if t[0] in pool]
            if nexts and rng.random() < FOLLOW:
                names, weights = zip(*nexts, strict=True)
                topic = rng.choices(names, weights=weights)[0]
            else:
                topic = rng.choice([t for t in topics if t != topic])
            session.append({"intent": topic, "text": rng.choice(pool[topic])})
        out.append(session)
    return out[n_heldout:], out[:n_heldout]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1500)
    parser.add_argument("--heldout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", default=str(ROOT / ".bench" / "sessions"))
    args = parser.parse_args()
    train, held = build_sessions(args.sessions, heldout=args.heldout, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, sessions in (("train", train), ("heldout", held)):
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for session in sessions:
                handle.write(json.dumps(session) + "\n")
    print(f"train_sessions={len(train)}")
    print(f"heldout_sessions={len(held)}")
    print(f"written_to={out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
