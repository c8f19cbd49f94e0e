"""Intent model training, prediction and evaluation for one tenant.

The model is a logistic-regression head (scikit-learn) on frozen all-MiniLM-L6-v2 embeddings,
exported as a numpy softmax head (`skills.intent.model`), so serving needs numpy only.

Training: split a stratified held-out set (10%), fit on the rest, tune the out-of-scope threshold
on the held-out rows plus negatives (the CSV's `out_of_scope` rows, else generic negatives), then
refit on every row, store the result as a new version and move CURRENT to it.

Threshold rule: a held-out in-scope row counts as correct only when it is accepted with the right
label, a negative only when it is rejected; the threshold with the best held-out accuracy wins,
among those that reject at most `MAX_IN_SCOPE_REJECTION` of the in-scope rows (ties: the lowest),
placed midway between the held-out scores on either side of the cut.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from core.errors import Unprocessable
from core.ids import new_ulid
from core.models import utcnow
from core.ports import BlobStore
from skills.intent.model import OUT_OF_SCOPE, IntentModel, head_from_classifier, save_model

HELDOUT_FRACTION = 0.1
MAX_IN_SCOPE_REJECTION = 0.05
REGULARISATION_C = 20.0  # inverse strength; 10-30 all give ~93% on BANKING77 with this encoder
OUT_OF_SCOPE_CSV = Path(__file__).parent / "data" / "out_of_scope.csv"

# Used when neither the examples nor training/data/out_of_scope.csv provide negatives.
_GENERIC_NEGATIVES = [
    "What's the weather like tomorrow?",
    "Tell me a joke",
    "Who won the football match last night?",
    "How do I bake sourdough bread?",
    "What is the capital of Australia?",
    "Play some jazz music",
    "Can you recommend a good movie?",
    "How tall is Mount Everest?",
    "What time is it in Tokyo?",
    "Translate hello into French",
    "I like turtles",
    "What's your favourite colour?",
    "How many legs does a spider have?",
    "Set an alarm for 7am",
    "Who wrote Pride and Prejudice?",
    "What should I cook for dinner tonight?",
    "How do I fix a flat bicycle tyre?",
    "Is it going to rain this weekend?",
    "Sing me a song",
    "What is the meaning of life?",
    "How far away is the moon?",
    "Recommend a book about dragons",
    "What's the best way to learn the guitar?",
    "Where can I watch the new superhero film?",
    "How do I get rid of weeds in my garden?",
    "asdfgh qwerty",
    "hello?",
    "Do you dream?",
    "Write a poem about the sea",
    "What's the score of the basketball game?",
]


@dataclass(frozen=True)
class Example:
    text: str
    intent: str


class InvalidExamples(Unprocessable, ValueError):
    """A training or evaluation CSV that cannot be used (422 in the API, a ValueError for
    command-line callers)."""


class TrainResult(BaseModel):
    """What a training run produced (stored in the model's meta.json as `metrics`, too)."""

    tenant_id: str
    version: str
    labels: list[str]
    n_examples: int  # in-scope rows used for the final model
    n_train: int
    n_heldout: int
    n_negatives: int
    negatives_source: str  # "examples", "supplied", "default" or "none"
    heldout_accuracy: float  # with out-of-scope rejection (a rejected in-scope row is wrong)
    heldout_accuracy_no_rejection: float
    heldout_in_scope_rejected: float
    heldout_negatives_rejected: float | None
    threshold: float
    seconds: float


class EvalResult(BaseModel):
    n: int
    n_out_of_scope: int
    accuracy: float  # rejections of in-scope rows count as wrong; OOS rows right when rejected
    accuracy_no_rejection: float  # in-scope rows only, top label
    in_scope_rejected: float
    out_of_scope_rejected: float | None
    model_version: str | None


def _log(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


def load_examples(path: Path) -> list[Example]:
    """Rows of a CSV with columns `text,intent` (or `text,category`, as in BANKING77)."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "text" not in fields or not ({"intent", "category"} & set(fields)):
            raise InvalidExamples(f"{path}: need columns text and intent (or category)")
        examples: list[Example] = []
        for row in reader:
            row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
            text = row.get("text", "").strip()
            intent = (row.get("intent") or row.get("category") or "").strip()
            if text and intent:
                examples.append(Example(text=text, intent=intent))
    return examples


def default_negatives() -> list[str]:
    """Generic out-of-scope sentences: `training/data/out_of_scope.csv` (column `text`) when
    present, else a small built-in list."""
    if OUT_OF_SCOPE_CSV.exists():
        with OUT_OF_SCOPE_CSV.open(newline="", encoding="utf-8-sig") as handle:
            rows = [(r.get("text") or "").strip() for r in csv.DictReader(handle)]
        rows = [r for r in rows if r]
        if rows:
            return rows
    return list(_GENERIC_NEGATIVES)


def stratified_split(
    labels: Sequence[str], *, fraction: float, seed: int, cap: int | None = None
) -> tuple[list[int], list[int]]:
    """(train, held-out) row indexes: about `fraction` of each label held out (at most `cap`
    rows), at least one for labels with three or more rows, none for rarer labels (they must be
    trained on)."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    train: list[int] = []
    heldout: list[int] = []
    for label in sorted(by_label):
        rows = by_label[label]
        rng.shuffle(rows)
        k = round(len(rows) * fraction)
        if cap is not None:
            k = min(k, cap)
        if k == 0 and len(rows) >= 3:
            k = 1
        heldout.extend(rows[:k])
        train.extend(rows[k:])
    return sorted(train), sorted(heldout)


# --------------------------------------------------------------------------- fitting


def _fit(embeddings: np.ndarray, labels: Sequence[str], seed: int) -> tuple[list[str], Any]:
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=REGULARISATION_C, max_iter=3000, random_state=seed)
    classifier.fit(embeddings, np.asarray(labels))
    return [str(c) for c in classifier.classes_], classifier


def _as_model(version: str, labels: list[str], classifier: Any, threshold: float) -> IntentModel:
    coef, intercept = head_from_classifier(classifier.coef_, classifier.intercept_)
    return IntentModel(
        version=version, labels=labels, coef=coef, intercept=intercept, threshold=threshold
    )


def tune_threshold(
    *,
    in_scope_confidence: np.ndarray,
    in_scope_correct: np.ndarray,
    negative_confidence: np.ndarray,
    max_in_scope_rejection: float = MAX_IN_SCOPE_REJECTION,
) -> float:
    """The out-of-scope threshold (see the module docstring). 0.0 when there are no negatives."""
    if len(negative_confidence) == 0 or len(in_scope_confidence) == 0:
        return 0.0
    candidates = np.unique(np.concatenate([[0.0], in_scope_confidence, negative_confidence]))
    n_in = len(in_scope_confidence)
    total = n_in + len(negative_confidence)
    best, best_accuracy = 0, -1.0
    for k, t in enumerate(candidates):
        accepted = in_scope_confidence >= t
        if (n_in - accepted.sum()) / n_in > max_in_scope_rejection + 1e-9:
            break  # candidates ascend: every later one rejects even more
        correct = int((accepted & in_scope_correct).sum()) + int((negative_confidence < t).sum())
        accuracy = correct / total
        if accuracy > best_accuracy + 1e-12:
            best, best_accuracy = k, accuracy
    if best == 0:
        return 0.0
    # Any value in (previous score, chosen score] scores the same on held-out data: take the
    # middle of that gap, the widest margin on both sides.
    return float((candidates[best - 1] + candidates[best]) / 2)


def train_intent_model(
    *,
    tenant_id: str,
    examples: Sequence[Example],
    blobs: BlobStore,
    progress: bool = True,
    negatives: list[str] | None = None,
    seed: int = 0,
) -> TrainResult:
    """Train, tune, store a new version and move CURRENT to it (see the module docstring)."""
    from skills.encoder import embed

    started = time.perf_counter()
    in_scope = [e for e in examples if e.intent != OUT_OF_SCOPE]
    oos_rows = [e.text for e in examples if e.intent == OUT_OF_SCOPE]
    labels_present = sorted({e.intent for e in in_scope})
    if len(labels_present) < 2:
        raise InvalidExamples("training needs examples of at least two intents")
    if oos_rows:
        negative_texts, source = oos_rows, "examples"
    elif negatives is not None:
        negative_texts, source = list(negatives), "supplied"
    else:
        negative_texts, source = default_negatives(), "default"
    if not negative_texts:
        source = "none"

    texts = [e.text for e in in_scope]
    labels = [e.intent for e in in_scope]
    _log(
        f"training intents for {tenant_id}: {len(texts)} examples, {len(labels_present)} intents,"
        f" {len(negative_texts)} negatives ({source})",
        progress,
    )
    vectors = embed(texts + negative_texts, progress=progress)
    x, x_neg = vectors[: len(texts)], vectors[len(texts) :]

    train_idx, held_idx = stratified_split(labels, fraction=HELDOUT_FRACTION, seed=seed)
    threshold = 0.0
    accuracy = accuracy_raw = rejected_in = 0.0
    rejected_neg: float | None = None
    if held_idx:
        _log(f"fitting on {len(train_idx)} rows, tuning on {len(held_idx)} held-out", progress)
        classes, classifier = _fit(x[train_idx], [labels[i] for i in train_idx], seed)
        probe = _as_model("heldout", classes, classifier, 0.0)
        held_probs = probe.probabilities(x[held_idx])
        held_conf = held_probs.max(axis=1)
        held_pred = np.asarray(classes)[held_probs.argmax(axis=1)]
        held_true = np.asarray([labels[i] for i in held_idx])
        held_correct = held_pred == held_true
        neg_conf = probe.probabilities(x_neg).max(axis=1) if len(x_neg) else np.zeros(0)
        threshold = tune_threshold(
            in_scope_confidence=held_conf,
            in_scope_correct=held_correct,
            negative_confidence=neg_conf,
        )
        accepted = held_conf >= threshold
        accuracy_raw = float(held_correct.mean())
        accuracy = float((held_correct & accepted).mean())
        rejected_in = float(1.0 - accepted.mean())
        rejected_neg = float((neg_conf < threshold).mean()) if len(neg_conf) else None
        _log(
            f"held-out accuracy {accuracy:.4f} (without rejection {accuracy_raw:.4f}), "
            f"threshold {threshold:.4f}",
            progress,
        )
    else:
        _log("too few examples per intent for a held-out set: threshold 0", progress)

    _log(f"fitting the final model on all {len(texts)} rows", progress)
    classes, classifier = _fit(x, labels, seed)
    version = new_ulid()
    seconds = time.perf_counter() - started
    result = TrainResult(
        tenant_id=tenant_id,
        version=version,
        labels=classes,
        n_examples=len(texts),
        n_train=len(train_idx),
        n_heldout=len(held_idx),
        n_negatives=len(negative_texts),
        negatives_source=source,
        heldout_accuracy=round(accuracy, 6),
        heldout_accuracy_no_rejection=round(accuracy_raw, 6),
        heldout_in_scope_rejected=round(rejected_in, 6),
        heldout_negatives_rejected=None if rejected_neg is None else round(rejected_neg, 6),
        threshold=round(threshold, 6),
        seconds=round(seconds, 3),
    )
    model = _as_model(version, classes, classifier, threshold)
    model.meta.update(
        {
            "created_at": utcnow().isoformat(),
            "encoder": "all-MiniLM-L6-v2",
            "metrics": result.model_dump(mode="json"),
        }
    )
    save_model(tenant_id=tenant_id, blobs=blobs, model=model)
    _log(f"stored intent model {version} for {tenant_id} ({seconds:.1f} s)", progress)
    return result


# --------------------------------------------------------------------------- using a model


def predict_intents(
    *, tenant_id: str, texts: Sequence[str], blobs: BlobStore
) -> list[tuple[str, float]]:
    """(intent, confidence) per text with the tenant's current model; `out_of_scope` when
    rejected or when there is no model (the intent skill's own code path)."""
    from skills.intent.skill import classify

    results = classify(tenant_id=tenant_id, texts=list(texts), blobs=blobs)
    return [(r["intent"] or OUT_OF_SCOPE, float(r["confidence"])) for r in results]


def evaluate(
    *,
    tenant_id: str,
    blobs: BlobStore,
    examples: Sequence[Example] | None = None,
    path: Path | None = None,
) -> EvalResult:
    """Accuracy of the tenant's current model on labelled rows (`examples` or a CSV `path`)."""
    from skills.intent.skill import classify

    if examples is None:
        if path is None:
            raise ValueError("evaluate needs examples or a path")
        examples = load_examples(path)
    if not examples:
        raise InvalidExamples("no labelled rows to evaluate")
    results = classify(tenant_id=tenant_id, texts=[e.text for e in examples], blobs=blobs)
    right = right_raw = in_scope = rejected_in = oos = rejected_oos = 0
    for example, result in zip(examples, results, strict=True):
        top = result["ranking"][0]["intent"] if result["ranking"] else None
        if example.intent == OUT_OF_SCOPE:
            oos += 1
            if result["intent"] is None:
                rejected_oos += 1
                right += 1
            continue
        in_scope += 1
        right_raw += top == example.intent
        right += result["intent"] == example.intent
        rejected_in += result["intent"] is None
    return EvalResult(
        n=len(examples),
        n_out_of_scope=oos,
        accuracy=round(right / len(examples), 6),
        accuracy_no_rejection=round(right_raw / in_scope, 6) if in_scope else 0.0,
        in_scope_rejected=round(rejected_in / in_scope, 6) if in_scope else 0.0,
        out_of_scope_rejected=round(rejected_oos / oos, 6) if oos else None,
        model_version=results[0]["model_version"] if results else None,
    )
