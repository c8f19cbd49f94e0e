"""The open-intent protocol: how well each out-of-scope rule holds up on topics never seen in
training.

A fixed share of the intents (25 %, chosen with a seeded permutation of the sorted intent
names) is held out as "unknown": the model trains on the other intents' rows only (plus the
generic negatives), and is scored on the whole test set with the unknown intents' rows labelled
`out_of_scope`: in-scope accuracy (a wrongly rejected in-scope row is an error), out-of-scope
recall and precision, macro-F1. `compare_rules` runs every candidate rule on the same vectors;
`bench/intents.py` prints the table and `DEFAULT_RULE` in `training.intent_lifecycle` is the
winner by `balanced` (the mean of in-scope accuracy and out-of-scope recall).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from skills.intent.model import OUT_OF_SCOPE
from training.intent_lifecycle import fit_intent_head
from training.reports import compute_metrics

RULES = (
    "max_prob",
    "energy",
    "centroid",
    "knn",
    "oos_class",
    "oos_class+max_prob",
    "oos_class+energy",
    "oos_class+centroid",
    "oos_class+knn",
)
UNKNOWN_FRACTION = 0.25


def split_intents(
    labels: Sequence[str], *, unknown_fraction: float = UNKNOWN_FRACTION, seed: int = 0
) -> tuple[list[str], list[str]]:
    """(known, unknown) intent names, both sorted."""
    names = sorted(set(labels))
    k = round(len(names) * unknown_fraction)
    order = np.random.default_rng(seed).permutation(len(names))
    unknown = sorted(names[i] for i in order[:k])
    known = sorted(set(names) - set(unknown))
    return known, unknown


@dataclass(frozen=True)
class RuleResult:
    rule: str
    threshold: float | None
    in_scope_accuracy: float
    out_of_scope_recall: float
    out_of_scope_precision: float | None
    macro_f1: float
    seconds: float

    @property
    def balanced(self) -> float:
        return (self.in_scope_accuracy + self.out_of_scope_recall) / 2


def compare_rules(
    *,
    train_vectors: np.ndarray,
    train_labels: Sequence[str],
    test_vectors: np.ndarray,
    test_labels: Sequence[str],
    negative_vectors: np.ndarray,
    rules: Sequence[str] = RULES,
    unknown_fraction: float = UNKNOWN_FRACTION,
    seed: int = 0,
    fixed_head: tuple[list[str], np.ndarray] | None = None,
) -> list[RuleResult]:
    """Every rule on the open-intent protocol (see the module docstring), best first.
    `fixed_head`: a fine-tuned encoder's own classifier (see `fit_intent_head`)."""
    known, _ = split_intents(train_labels, unknown_fraction=unknown_fraction, seed=seed)
    known_set = set(known)
    rows = [i for i, label in enumerate(train_labels) if label in known_set]
    truth = [label if label in known_set else OUT_OF_SCOPE for label in test_labels]
    results: list[RuleResult] = []
    for rule in rules:
        started = time.perf_counter()
        model, _ = fit_intent_head(
            version="open-intent",
            vectors=train_vectors[rows],
            labels=[train_labels[i] for i in rows],
            negative_vectors=negative_vectors,
            rule_name=rule,
            seed=seed,
            fixed_head=fixed_head,
        )
        names, probs, rejected = model.decide(test_vectors)
        top = np.asarray(names)[probs.argmax(axis=1)]
        predicted = [OUT_OF_SCOPE if r else str(t) for t, r in zip(top, rejected, strict=True)]
        metrics = compute_metrics(
            y_true=truth, y_pred=predicted, confidences=[1.0] * len(truth), threshold=None
        )
        oos = metrics.out_of_scope
        assert oos is not None
        threshold = model.rejection.threshold
        results.append(
            RuleResult(
                rule=rule,
                threshold=None if not np.isfinite(threshold) else float(threshold),
                in_scope_accuracy=oos.in_scope_accuracy,
                out_of_scope_recall=oos.recall,
                out_of_scope_precision=oos.precision,
                macro_f1=metrics.macro_f1,
                seconds=time.perf_counter() - started,
            )
        )
    return sorted(results, key=lambda r: -r.balanced)
