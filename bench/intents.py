"""Benchmark: the intent model lifecycle on BANKING77, side by side in one run.

Prints one figure per line:

1. frozen encoder + head (`--mode frozen`): training time, test accuracy and macro-F1 (top
   label, and with the out-of-scope rule applied);
2. fine-tuned encoder + head (`--mode finetune`, `training.finetune`): the same figures, with the
   fine-tuning time, for the fp32 and the int8 ONNX export, and which one the training chose;
3. per-sentence encoder latency (one sentence per call, warm): the packaged encoder, the
   fine-tuned fp32 and int8 exports (ratios against the packaged one: this machine is noisy);
4. the open-intent comparison (`training.open_intent`: 25 % of the intents unknown, seed 0) of
   every rejection rule, on the frozen vectors and (unless `--skip-finetune`) with the encoder
   fine-tuned on the known intents only: in-scope accuracy (wrong rejections are errors),
   out-of-scope recall and precision, macro-F1, the balanced mean; best first.

    .venv/bin/python bench/intents.py [--data DIR] [--skip-finetune] [--limit N]

`--limit N` keeps N training rows (a smoke run); the full run takes about half an hour on 2
shared cores. Published references on the BANKING77 test set: fine-tuned BERT 93.0 %,
USE+ConveRT 93.4 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from training.open_intent import RuleResult

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = Path("/work/shared/datasets/banking77")
TENANT = "bench-intents"


def say(name: str, value: object) -> None:
    if isinstance(value, float):
        value = f"{value:.4g}"
    print(f"{name} {value}", flush=True)


def scores(model: object, vectors: np.ndarray, truth: list[str]) -> dict[str, float]:
    from skills.intent.model import IntentModel
    from training.reports import compute_metrics

    assert isinstance(model, IntentModel)
    names, probs, rejected = model.decide(vectors)
    top = [str(t) for t in np.asarray(names)[probs.argmax(axis=1)]]
    plain = compute_metrics(y_true=truth, y_pred=top, confidences=[1.0] * len(top))
    gated = [
        "out_of_scope" if r else t for t, r in zip(top, rejected, strict=True)
    ]  # a rejected in-scope row is an error
    ruled = compute_metrics(y_true=truth, y_pred=gated, confidences=[1.0] * len(top))
    return {
        "accuracy": plain.accuracy,
        "macro_f1": plain.macro_f1,
        "accuracy_with_rejection": ruled.accuracy,
        "rejected": float(np.mean(rejected)),
    }


def latency_ms(encode: object, sentences: list[str]) -> float:
    assert callable(encode)
    encode([sentences[0]])  # warm
    times = []
    for text in sentences:
        started = time.perf_counter()
        encode([text])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def report(results: Sequence[RuleResult], *, prefix: str) -> None:
    print(
        f"{prefix}_table rule | in_scope_accuracy | oos_recall | oos_precision | macro_f1 "
        "| balanced | threshold"
    )
    for r in results:
        precision = "-" if r.out_of_scope_precision is None else f"{r.out_of_scope_precision:.4f}"
        threshold = "-" if r.threshold is None else f"{r.threshold:.4f}"
        print(
            f"{prefix} {r.rule} | {r.in_scope_accuracy:.4f} | {r.out_of_scope_recall:.4f} | "
            f"{precision} | {r.macro_f1:.4f} | {r.balanced:.4f} | {threshold}",
            flush=True,
        )
    say(f"{prefix}_best", results[0].rule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=SHARED if SHARED.exists() else ROOT / "demo" / "banking77"
    )
    parser.add_argument("--skip-finetune", action="store_true")
    parser.add_argument("--limit", type=int, default=0, help="training rows (0: all)")
    args = parser.parse_args()

    from infra.local.filesystem_blob_store import FilesystemBlobStore
    from skills.encoder import embed, get_encoder
    from skills.intent.skill import _models
    from skills.onnx_encoder import OnnxEncoder
    from training.intent_lifecycle import DEFAULT_RULE, fit_intent_head, train_candidate
    from training.intents import default_negatives, load_examples
    from training.open_intent import UNKNOWN_FRACTION, compare_rules

    train = load_examples(args.data / "train.csv")
    test = load_examples(args.data / "test.csv")
    if args.limit:
        rng = np.random.default_rng(0)
        train = [train[i] for i in sorted(rng.permutation(len(train))[: args.limit])]
    negatives = default_negatives()
    truth = [e.intent for e in test]
    say("data", args.data)
    say("train_rows", len(train))
    say("test_rows", len(test))
    say("intents", len({e.intent for e in train}))
    say("rule", DEFAULT_RULE)

    started = time.perf_counter()
    get_encoder()
    say("encoder_load_s", round(time.perf_counter() - started, 2))

    # 1. frozen ----------------------------------------------------------------------------
    started = time.perf_counter()
    vectors = embed([e.text for e in train] + negatives)
    train_vectors, negative_vectors = vectors[: len(train)], vectors[len(train) :]
    frozen, _ = fit_intent_head(
        version="frozen",
        vectors=train_vectors,
        labels=[e.intent for e in train],
        negative_vectors=negative_vectors,
        rule_name=DEFAULT_RULE,
    )
    say("frozen_train_s", round(time.perf_counter() - started, 1))
    test_vectors = embed([e.text for e in test])
    for key, value in scores(frozen, test_vectors, truth).items():
        say(f"frozen_test_{key}", value)
    say("baseline_published_bert_finetuned_accuracy", 0.930)
    say("baseline_published_use_convert_accuracy", 0.934)

    # 2. fine-tuned ------------------------------------------------------------------------
    if not args.skip_finetune:
        with tempfile.TemporaryDirectory() as tmp:
            blobs = FilesystemBlobStore(root=Path(tmp))
            started = time.perf_counter()
            result = train_candidate(
                tenant_id=TENANT,
                train=train,
                negatives=negatives,
                blobs=blobs,
                mode="finetune",
                progress=True,
            )
            say("finetune_train_s", round(time.perf_counter() - started, 1))
            say("finetune_encoder_s", result.finetune_seconds)
            say("finetune_target_s", 900)
            model = _models.get(tenant_id=TENANT, blobs=blobs, version=result.version)
            files = model.encoder_files
            assert files is not None
            base = f"models/intent/{result.version}/"
            encoders = {
                kind: OnnxEncoder(blobs.get(tenant_id=TENANT, key=base + files[key]), threads=2)
                for kind, key in (("fp32", "onnx"), ("int8", "onnx_int8"))
            }
            for kind, encoder in encoders.items():
                vectors = np.concatenate(
                    [
                        encoder.encode([e.text for e in test[i : i + 64]])
                        for i in range(0, len(test), 64)
                    ]
                )
                for key, value in scores(model, vectors, truth).items():
                    say(f"finetune_{kind}_test_{key}", value)
            say("finetune_served_encoder", result.encoder)
            say("finetune_int8_tuning_accuracy", result.int8_tuning_accuracy)
            say("finetune_fp32_tuning_accuracy", result.fp32_tuning_accuracy)

            # 3. latency -------------------------------------------------------------------
            sentences = [e.text for e in test[:200]]
            packaged = latency_ms(get_encoder().encode, sentences)
            say("latency_packaged_fp32_ms_per_sentence", round(packaged, 2))
            for kind, encoder in encoders.items():
                ms = latency_ms(encoder.encode, sentences)
                say(f"latency_finetune_{kind}_ms_per_sentence", round(ms, 2))
                say(f"latency_finetune_{kind}_vs_packaged", round(ms / packaged, 2))

    # 4. open intent -----------------------------------------------------------------------
    say("open_intent_unknown_fraction", UNKNOWN_FRACTION)
    say("open_intent_encoder", "frozen")
    results = compare_rules(
        train_vectors=train_vectors,
        train_labels=[e.intent for e in train],
        test_vectors=test_vectors,
        test_labels=truth,
        negative_vectors=negative_vectors,
    )
    report(results, prefix="open_intent")

    if not args.skip_finetune:
        # The same protocol with the encoder fine-tuned on the known intents only.
        from training.intent_lifecycle import finetune_vectors
        from training.open_intent import split_intents

        known, _ = split_intents([e.intent for e in train])
        known_rows = [i for i, e in enumerate(train) if e.intent in set(known)]
        started = time.perf_counter()
        fine, known_vectors = finetune_vectors(
            [train[i].text for i in known_rows], [train[i].intent for i in known_rows]
        )
        say("open_intent_finetune_s", round(time.perf_counter() - started, 1))
        tuned_train = np.zeros((len(train), known_vectors.shape[1]), dtype=np.float32)
        tuned_train[known_rows] = known_vectors
        say("open_intent_encoder", "finetuned on the known intents")
        report(
            compare_rules(
                train_vectors=tuned_train,
                train_labels=[e.intent for e in train],
                test_vectors=fine.encode([e.text for e in test]),
                test_labels=truth,
                negative_vectors=fine.encode(negatives),
                fixed_head=fine.head,
            ),
            prefix="open_intent_finetuned",
        )
    say("open_intent_target", "in_scope_accuracy>=0.95 oos_recall>=0.90 (held-out benchmark)")


if __name__ == "__main__":
    main()
