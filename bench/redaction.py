"""`redact` speed: microseconds per call on real customer messages (BANKING77, train and test),
and on messages full of personal data, for this checkout beside a baseline in the same run.

    .venv/bin/python bench/redaction.py [--baseline-root PATH | --baseline-rev REV] [--rounds 5]

The baseline is `core/redaction.py` of another checkout (`--baseline-root`) or of a git revision
of this one (`--baseline-rev`, default `main`), loaded as a standalone module. Each figure is the
best of `--rounds` passes over all messages (these machines are noisy: compare the ratio). Prints
one figure per line, and how many messages each version changed.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PII_TEMPLATES = (
    "my card is {card} and it was declined",
    "call me on {phone} after 5pm please",
    "send the statement to {email}",
    "the transfer to {iban} has not arrived",
    "card {card}, phone {phone}, email {email}",
)
CARDS = ("4242 4242 4242 4242", "4000\u00a00566\u00a05566\u00a05556", "6011/1111/1111/1117")
PHONES = ("+44 20 7946 0958", "(415) 555 2671", "07911 123456", "+49 30 901820")
EMAILS = ("jane.doe@example.com", "o'connor@mail.example.ie")
IBANS = ("GB82 WEST 1234 5698 7654 32", "DE89370400440532013000")


def customer_messages() -> list[str]:
    texts: list[str] = []
    for split in ("train", "test"):
        path = ROOT / "demo" / "banking77" / f"{split}.csv"
        with path.open(newline="", encoding="utf-8") as handle:
            texts.extend(row["text"] for row in csv.DictReader(handle))
    return texts


def pii_messages() -> list[str]:
    out = []
    for i in range(400):
        template = PII_TEMPLATES[i % len(PII_TEMPLATES)]
        out.append(
            template.format(
                card=CARDS[i % len(CARDS)],
                phone=PHONES[i % len(PHONES)],
                email=EMAILS[i % len(EMAILS)],
                iban=IBANS[i % len(IBANS)],
            )
        )
    return out


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def baseline_source(args: argparse.Namespace, scratch: Path) -> tuple[Path, str]:
    if args.baseline_root:
        return Path(args.baseline_root) / "core" / "redaction.py", args.baseline_root
    source = subprocess.run(
        ["git", "show", f"{args.baseline_rev}:core/redaction.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = scratch / "baseline_redaction.py"
    path.write_text(source, encoding="utf-8")
    return path, f"git:{args.baseline_rev}"


def per_call_us(redact: Callable[[str], str], texts: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            redact(text)
        best = min(best, time.perf_counter() - started)
    return best / len(texts) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-root", help="a checkout whose core/redaction.py to compare")
    parser.add_argument("--baseline-rev", default="main", help="else a git revision of this one")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from core.redaction import redact

    with tempfile.TemporaryDirectory() as scratch:
        path, label = baseline_source(args, Path(scratch))
        baseline = load_module(path, "baseline_redaction").redact
    customers, pii = customer_messages(), pii_messages()
    redact(pii[0])  # first use: the phone library loads its metadata
    print(f"baseline={label} messages={len(customers)} pii_messages={len(pii)}")
    for name, texts in (("banking77", customers), ("pii", pii)):
        before = per_call_us(baseline, texts, args.rounds)
        after = per_call_us(redact, texts, args.rounds)
        print(f"{name}_baseline_us_per_call={before:.2f}")
        print(f"{name}_us_per_call={after:.2f}")
        print(f"{name}_ratio={after / before:.2f}")
        print(f"{name}_baseline_changed={sum(baseline(t) != t for t in texts)}")
        print(f"{name}_changed={sum(redact(t) != t for t in texts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
