"""Benchmark: intent accuracy on BANKING77 and the cost of training and inference.

Trains a model for a scratch tenant on `demo/banking77/train.csv` (in a temporary blob store),
then prints, one figure per line: training time, held-out accuracy and threshold, BANKING77 test
accuracy with and without out-of-scope rejection, the share of generic out-of-scope sentences
rejected, and the intent skill's latency per sentence (one sentence per call, warm) and per
sentence in batches. Run: `.venv/bin/python bench/intent_accuracy.py`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TENANT = "bench-intents"


def main() -> None:
    from core.ports import SkillContext
    from infra.local.filesystem_blob_store import FilesystemBlobStore
    from skills.encoder import get_encoder
    from skills.intent import skill
    from training.intents import default_negatives, evaluate, load_examples, train_intent_model

    data = ROOT / "demo" / "banking77"
    train = load_examples(data / "train.csv")
    test = load_examples(data / "test.csv")
    with tempfile.TemporaryDirectory() as tmp:
        blobs = FilesystemBlobStore(root=Path(tmp))
        started = time.perf_counter()
        get_encoder()
        print(f"encoder_load_s {time.perf_counter() - started:.2f}")
        result = train_intent_model(tenant_id=TENANT, examples=train, blobs=blobs, progress=False)
        print(f"train_examples {result.n_examples}")
        print(f"train_s {result.seconds:.1f}")
        print(f"heldout_accuracy {result.heldout_accuracy:.4f}")
        print(f"heldout_accuracy_no_rejection {result.heldout_accuracy_no_rejection:.4f}")
        print(f"threshold {result.threshold:.4f}")
        report = evaluate(tenant_id=TENANT, blobs=blobs, examples=test)
        print(f"test_examples {report.n}")
        print(f"test_accuracy {report.accuracy:.4f}")
        print(f"test_accuracy_no_rejection {report.accuracy_no_rejection:.4f}")
        print(f"test_in_scope_rejected {report.in_scope_rejected:.4f}")
        print("baseline_published_bert_finetuned_test_accuracy 0.9302")
        negatives = default_negatives()
        ctx = SkillContext(blobs=blobs, settings=None)
        batch = skill.run({"tenant_id": TENANT, "texts": negatives}, ctx)["results"]
        rejected = sum(r["intent"] is None for r in batch) / len(batch)
        print(f"generic_negatives_rejected {rejected:.4f} (n={len(batch)}, seen in tuning)")

        sentences = [e.text for e in test[:200]]
        skill.run({"tenant_id": TENANT, "text": sentences[0]}, ctx)  # warm
        latencies = []
        for text in sentences:
            t0 = time.perf_counter()
            skill.run({"tenant_id": TENANT, "text": text}, ctx)
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        print(f"latency_single_p50_ms {statistics.median(latencies):.2f}")
        print(f"latency_single_p99_ms {latencies[int(len(latencies) * 0.99) - 1]:.2f}")
        t0 = time.perf_counter()
        skill.run({"tenant_id": TENANT, "texts": [e.text for e in test[:1000]]}, ctx)
        print(f"latency_batched_ms_per_sentence {(time.perf_counter() - t0) * 1000 / 1000:.2f}")


if __name__ == "__main__":
    main()
