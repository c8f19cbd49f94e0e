"""The intent model's lifecycle: split → train a candidate version → evaluate it beside the live
version on the same held-out rows → publish only if it is at least as good.

The workflow steps (`training.workflow_steps`) and `lambdesk intents train` both run these
functions; `bench/intents.py` calls `train_candidate` and `evaluate_version` directly.

- `split_for_training`: a stratified held-out split (10 % of each intent) of the tenant's rows;
  the generic negatives (`training/data/out_of_scope.csv`, or the data's own `out_of_scope`
  rows) are split too, the held-out half labelled `out_of_scope`, so the evaluation also
  measures out-of-scope rejection on sentences the candidate has not seen.
- `train_candidate`: `frozen` (the packaged encoder, a logistic-regression head) or `finetune`
  (`training.finetune`: the encoder's top layers trained first; its ONNX export, fp32 and int8,
  stored with the version; int8 serves when its accuracy on the tuning rows is within
  `INT8_TOLERANCE` of fp32). The rejection rule (`DEFAULT_RULE`, chosen on the open-intent
  comparison of `bench/intents.py`) is tuned on an inner split of the training rows plus half
  of the training negatives; the other half trains the `out_of_scope` class when the rule has
  one. The head is then refitted on every training row. A fine-tuned encoder is trained on all
  but `FINETUNE_TUNING_ROWS` rows per intent (`tuning_split`), which it never sees. The version
  is stored, not published.
- `evaluate_version`: a classification report (`training.reports`) of one stored version (or the
  live one) on labelled rows, with the rule's own score and threshold in the pictures.
- `publish_candidate`: `training.versions.publish_if_better` on the held-out accuracy.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from core.ids import new_ulid
from core.models import utcnow
from core.ports import BlobStore
from skills.intent.model import OUT_OF_SCOPE, PREFIX, IntentModel, head_from_classifier, save_model
from skills.intent.rules import (
    NO_REJECTION,
    RejectionRule,
    tune_threshold,
)
from training.intents import (
    HELDOUT_FRACTION,
    MAX_IN_SCOPE_REJECTION,
    REGULARISATION_C,
    Example,
    InvalidExamples,
    default_negatives,
    stratified_split,
)
from training.reports import ClassificationMetrics, classification_report
from training.versions import PublishDecision, current_version, publish_if_better

KIND = "intent"
# Fine-tuning holds out at most this many rows per intent for tuning the rejection threshold and
# the int8/fp32 choice (the encoder never sees them), not 10 %: the encoder cannot be refitted on
# every row afterwards as a head can, and on BANKING77 the other 7.7 % of rows were worth about
# 0.4 points of test accuracy.
FINETUNE_TUNING_ROWS = 3
Mode = Literal["frozen", "finetune"]
MODES: tuple[str, ...] = ("frozen", "finetune")
DEFAULT_RULE = "max_prob"
PSEUDO_UNKNOWN_FRACTION = 0.25  # intents left out of the probe to tune rejection on
INT8_TOLERANCE = 0.005  # int8 serves when its accuracy is at most 0.5 points below fp32
PUBLISH_METRIC = "accuracy"  # on held-out rows, out-of-scope ones right only when rejected
REPORT_FILES = ("metrics.json", "per_class.csv", "confusion.png", "confidence.png", "report.html")


def _log(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TrainingSplit:
    train: list[Example]  # in-scope rows to train on
    negatives: list[str]  # generic negatives for tuning (and the out-of-scope class)
    heldout: list[Example]  # in-scope rows and held-out negatives (labelled out_of_scope)

    def to_json(self) -> dict[str, Any]:
        return {
            "train": [[e.text, e.intent] for e in self.train],
            "negatives": list(self.negatives),
            "heldout": [[e.text, e.intent] for e in self.heldout],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingSplit:
        return cls(
            train=[Example(text=str(t), intent=str(i)) for t, i in data["train"]],
            negatives=[str(n) for n in data["negatives"]],
            heldout=[Example(text=str(t), intent=str(i)) for t, i in data["heldout"]],
        )


def split_for_training(
    examples: Sequence[Example],
    *,
    negatives: Sequence[str] | None = None,
    fraction: float = HELDOUT_FRACTION,
    seed: int = 0,
) -> TrainingSplit:
    """See the module docstring. The data's own `out_of_scope` rows replace the generic ones."""
    in_scope = [e for e in examples if e.intent != OUT_OF_SCOPE]
    own = [e.text for e in examples if e.intent == OUT_OF_SCOPE]
    if len({e.intent for e in in_scope}) < 2:
        raise InvalidExamples("training needs examples of at least two intents")
    pool = own or list(negatives if negatives is not None else default_negatives())
    train_idx, held_idx = stratified_split(
        [e.intent for e in in_scope], fraction=fraction, seed=seed
    )
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(pool))
    # About 20 % of the negatives, but never more than the in-scope held-out rows: the
    # held-out accuracy should mostly measure the intents.
    held_n = min(round(len(pool) * fraction * 2), len(held_idx))
    held_negatives = [pool[i] for i in sorted(order[:held_n])]
    train_negatives = [pool[i] for i in sorted(order[held_n:])]
    return TrainingSplit(
        train=[in_scope[i] for i in train_idx],
        negatives=train_negatives,
        heldout=[in_scope[i] for i in held_idx]
        + [Example(text=t, intent=OUT_OF_SCOPE) for t in held_negatives],
    )


class CandidateResult(BaseModel):
    """What `train_candidate` stored (also the version's `metrics` in meta.json)."""

    tenant_id: str
    version: str
    mode: str
    rule: str
    threshold: float | None
    n_intents: int
    n_train: int
    n_negatives: int
    tuning_accuracy: float  # inner held-out rows + negatives, with rejection
    encoder: str  # "packaged", "fp32" or "int8"
    int8_tuning_accuracy: float | None = None
    fp32_tuning_accuracy: float | None = None
    finetune_seconds: float | None = None
    seconds: float


def tuning_split(
    labels: Sequence[str], *, seed: int, finetuned: bool
) -> tuple[list[int], list[int]]:
    """(fit, tuning) rows of a candidate's training rows: 10 % of each intent are the tuning
    rows, at most `FINETUNE_TUNING_ROWS` of them when the encoder is fine-tuned on the rest."""
    return stratified_split(
        labels,
        fraction=HELDOUT_FRACTION,
        seed=seed,
        cap=FINETUNE_TUNING_ROWS if finetuned else None,
    )


def _fit_head(
    vectors: np.ndarray, labels: Sequence[str], seed: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=REGULARISATION_C, max_iter=3000, random_state=seed)
    classifier.fit(vectors, np.asarray(labels))
    coef, intercept = head_from_classifier(classifier.coef_, classifier.intercept_)
    return [str(c) for c in classifier.classes_], coef, intercept


def _centroids(vectors: np.ndarray, labels: Sequence[str], order: Sequence[str]) -> np.ndarray:
    array = np.asarray(labels)
    rows = [vectors[array == label].mean(axis=0) for label in order]
    out = np.asarray(rows, dtype=np.float32)
    return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)


def fit_intent_head(
    *,
    version: str,
    vectors: np.ndarray,
    labels: Sequence[str],
    negative_vectors: np.ndarray,
    rule_name: str,
    seed: int = 0,
    max_in_scope_rejection: float = MAX_IN_SCOPE_REJECTION,
    pseudo_unknown_fraction: float = PSEUDO_UNKNOWN_FRACTION,
    fixed_head: tuple[list[str], np.ndarray] | None = None,
) -> tuple[IntentModel, float]:
    """Fit a head and tune `rule_name`'s threshold; returns the model refitted on every row, and
    the accuracy on the tuning rows.

    Tuning: a probe head is fitted on 90 % of the rows of all but `pseudo_unknown_fraction` of
    the intents (at least one, given four or more intents); the remaining 10 % of those intents'
    rows are the in-scope tuning rows, and the negatives are the generic ones (half of them when
    the rule trains an `out_of_scope` class on the other half) plus every row of the left-out
    intents: unseen topics from the tenant's own domain, the hard case for rejection.

    `fixed_head` (labels, weights): a head trained with the encoder (fine-tuning's scaled cosine
    classifier) used instead of fitting a logistic regression, restricted to the labels of the
    rows at hand (not with an `out_of_scope` class, which needs a fitted head)."""
    rule = RejectionRule.parse(rule_name)
    fit_idx, tune_idx = tuning_split(labels, seed=seed, finetuned=fixed_head is not None)
    n_neg = len(negative_vectors)
    half = n_neg // 2 if rule.oos_class else 0
    neg_train, neg_tune = negative_vectors[:half], negative_vectors[half:]
    intents = sorted(set(labels))
    pseudo: set[str] = set()
    if rule.score is not None and len(intents) >= 4 and pseudo_unknown_fraction > 0:
        k = max(1, round(len(intents) * pseudo_unknown_fraction))
        order = np.random.default_rng(seed + 2).permutation(len(intents))
        pseudo = {intents[i] for i in order[:k]}

    def build(rows: Sequence[int], threshold: float, name: str) -> IntentModel:
        x = vectors[list(rows)]
        y = [labels[i] for i in rows]
        if rule.oos_class and len(neg_train):
            x = np.vstack([x, neg_train])
            y = y + [OUT_OF_SCOPE] * len(neg_train)
        if fixed_head is not None and not rule.oos_class:
            present = set(y)
            keep = [i for i, label in enumerate(fixed_head[0]) if label in present]
            classes = [fixed_head[0][i] for i in keep]
            coef = np.ascontiguousarray(fixed_head[1][keep], dtype=np.float32)
            intercept = np.zeros(len(keep), dtype=np.float32)
        else:
            classes, coef, intercept = _fit_head(x, y, seed)
        kept = [c for c in classes if c != OUT_OF_SCOPE]
        return IntentModel(
            version=name,
            labels=classes,
            coef=coef,
            intercept=intercept,
            threshold=0.0,
            centroids=_centroids(vectors[list(rows)], [labels[i] for i in rows], kept),
            rule=RejectionRule(score=rule.score, threshold=threshold, oos_class=rule.oos_class),
            exemplars=vectors[list(rows)].astype(np.float16) if rule.score == "knn" else None,
        )

    threshold = NO_REJECTION
    tuning_accuracy = 0.0
    probe_fit = [i for i in fit_idx if labels[i] not in pseudo]
    tune_in = [i for i in tune_idx if labels[i] not in pseudo]
    if tune_in and len({labels[i] for i in probe_fit}) >= 2:
        probe = build(probe_fit, NO_REJECTION, "tuning")
        tune_vectors = vectors[tune_in]
        left_out = [i for i in range(len(labels)) if labels[i] in pseudo]
        negatives = np.vstack([neg_tune.reshape(-1, vectors.shape[1]), vectors[left_out]])
        truth = np.asarray([labels[i] for i in tune_in])
        names, probs, rejected_in = probe.decide(tune_vectors)
        predicted = np.asarray(names)[probs.argmax(axis=1)]
        correct = (predicted == truth) & ~rejected_in
        if rule.score is not None and len(negatives):
            in_scores = probe.scores(tune_vectors)
            neg_scores = probe.scores(negatives)
            _, _, rejected_neg = probe.decide(negatives)
            # Rows the out-of-scope class already rejects are decided: tune on the rest.
            floor = float(min(in_scores.min(), neg_scores.min())) - 1.0
            threshold = tune_threshold(
                in_scope_scores=np.where(rejected_in, floor, in_scores),
                in_scope_correct=correct,
                negative_scores=neg_scores[~rejected_neg],
                max_in_scope_rejection=max_in_scope_rejection,
            )
        tuned = replace(probe, rule=_with_threshold(rule, threshold))
        _, _, rej_in = tuned.decide(tune_vectors)
        right = int(((predicted == truth) & ~rej_in).sum())
        if len(negatives):
            _, _, rej_neg = tuned.decide(negatives)
            right += int(rej_neg.sum())
        tuning_accuracy = right / (len(tune_in) + len(negatives))
    final = build(range(len(labels)), threshold, version)
    return final, tuning_accuracy


def _with_threshold(rule: RejectionRule, threshold: float) -> RejectionRule:
    return RejectionRule(score=rule.score, threshold=threshold, oos_class=rule.oos_class)


def _onnx_vectors(data: bytes, texts: Sequence[str]) -> np.ndarray:
    from skills.encoder import _cpu_threads
    from skills.onnx_encoder import OnnxEncoder

    encoder = OnnxEncoder(data, threads=_cpu_threads())
    return np.concatenate(
        [encoder.encode(list(texts[i : i + 64])) for i in range(0, len(texts), 64)]
    )


def _accuracy(model: IntentModel, vectors: np.ndarray, truth: Sequence[str]) -> float:
    """Right answers with the rule applied: an in-scope row accepted with its intent, an
    `out_of_scope` row rejected."""
    names, probs, rejected = model.decide(vectors)
    predicted = np.asarray(names)[probs.argmax(axis=1)]
    expected = np.asarray(truth)
    right = np.where(expected == OUT_OF_SCOPE, rejected, (predicted == expected) & ~rejected)
    return float(right.mean())


def finetune_vectors(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    seed: int = 0,
    config: Any = None,
    progress: bool = True,
) -> tuple[Any, np.ndarray]:
    """Fine-tune the encoder on the rows `fit_intent_head` fits on (the same inner split), and
    the vectors of every row: the inner tuning rows stay unseen by the encoder, so rejection is
    tuned on scores like those of new sentences. (encoder, vectors)."""
    from training.finetune import FinetuneConfig, finetune_encoder

    fit_idx, tune_idx = tuning_split(labels, seed=seed, finetuned=True)
    fine = finetune_encoder(
        [texts[i] for i in fit_idx],
        [labels[i] for i in fit_idx],
        config=config or FinetuneConfig(seed=seed),
        progress=progress,
    )
    assert fine.train_vectors is not None
    vectors = np.zeros((len(texts), fine.train_vectors.shape[1]), dtype=np.float32)
    vectors[fit_idx] = fine.train_vectors
    if tune_idx:
        vectors[tune_idx] = fine.encode([texts[i] for i in tune_idx])
    return fine, vectors


def train_candidate(
    *,
    tenant_id: str,
    train: Sequence[Example],
    negatives: Sequence[str],
    blobs: BlobStore,
    mode: str = "frozen",
    version: str | None = None,
    rule: str = DEFAULT_RULE,
    seed: int = 0,
    progress: bool = True,
    finetune_config: Any = None,
) -> CandidateResult:
    """Train and store (unpublished) a candidate version; see the module docstring."""
    if mode not in MODES:
        raise InvalidExamples(f"mode must be one of {', '.join(MODES)}")
    in_scope = [e for e in train if e.intent != OUT_OF_SCOPE]
    if len({e.intent for e in in_scope}) < 2:
        raise InvalidExamples("training needs examples of at least two intents")
    started = time.perf_counter()
    version = version or new_ulid()
    texts = [e.text for e in in_scope]
    labels = [e.intent for e in in_scope]
    _log(
        f"training a {mode} intent model for {tenant_id}: {len(texts)} examples, "
        f"{len(set(labels))} intents, {len(negatives)} negatives, rule {rule}",
        progress,
    )
    files: dict[str, bytes] = {}
    encoder_meta: Any = "all-MiniLM-L6-v2"
    finetune_seconds: float | None = None
    fine: Any = None
    if mode == "finetune":
        t0 = time.perf_counter()
        fine, vectors = finetune_vectors(
            texts, labels, seed=seed, config=finetune_config, progress=progress
        )
        finetune_seconds = round(time.perf_counter() - t0, 1)
        negative_vectors = fine.encode(list(negatives)) if negatives else np.zeros((0, 384))
    else:
        from skills.encoder import embed

        everything = embed(texts + list(negatives), progress=progress)
        vectors, negative_vectors = everything[: len(texts)], everything[len(texts) :]
    model, tuning_accuracy = fit_intent_head(
        version=version,
        vectors=vectors,
        labels=labels,
        negative_vectors=negative_vectors.astype(np.float32),
        rule_name=rule,
        seed=seed,
        fixed_head=None if fine is None else fine.head,
    )
    serve, int8_acc, fp32_acc = "packaged", None, None
    if fine is not None:
        with tempfile.TemporaryDirectory(prefix="lambdesk-encoder-") as tmp:
            fp32_path, int8_path = fine.export(Path(tmp))
            files["encoder.onnx"] = fp32_path.read_bytes()
            files["encoder.int8.onnx"] = int8_path.read_bytes()
        # int8 or fp32: accuracy on the inner tuning rows (unseen by the encoder) and negatives
        _, tune_idx = tuning_split(labels, seed=seed, finetuned=True)
        check = [texts[i] for i in tune_idx] + list(negatives)
        truth = [labels[i] for i in tune_idx] + [OUT_OF_SCOPE] * len(negatives)
        if check:
            fp32_acc = _accuracy(model, _onnx_vectors(files["encoder.onnx"], check), truth)
            int8_acc = _accuracy(model, _onnx_vectors(files["encoder.int8.onnx"], check), truth)
            serve = "int8" if int8_acc >= fp32_acc - INT8_TOLERANCE else "fp32"
        else:
            serve = "fp32"
        encoder_meta = {
            "name": "all-MiniLM-L6-v2, fine-tuned",
            "onnx": "encoder.onnx",
            "onnx_int8": "encoder.int8.onnx",
            "serve": serve,
        }
        _log(
            f"encoder exported: int8 accuracy {int8_acc}, fp32 {fp32_acc}: serving {serve}",
            progress,
        )
    result = CandidateResult(
        tenant_id=tenant_id,
        version=version,
        mode=mode,
        rule=model.rejection.name,
        threshold=None if model.rejection.threshold == NO_REJECTION else model.rejection.threshold,
        n_intents=len(set(labels)),
        n_train=len(texts),
        n_negatives=len(negatives),
        tuning_accuracy=round(tuning_accuracy, 6),
        encoder=serve,
        int8_tuning_accuracy=int8_acc,
        fp32_tuning_accuracy=fp32_acc,
        finetune_seconds=finetune_seconds,
        seconds=round(time.perf_counter() - started, 1),
    )
    stored = IntentModel(
        version=version,
        labels=model.labels,
        coef=model.coef,
        intercept=model.intercept,
        # the old field, for readers of meta.json that predate rules
        threshold=model.rejection.threshold
        if model.rejection.score == "max_prob" and model.rejection.threshold != NO_REJECTION
        else 0.0,
        centroids=model.centroids,
        rule=model.rejection,
        exemplars=model.exemplars,
        meta={
            "created_at": utcnow().isoformat(),
            "encoder": encoder_meta,
            "mode": mode,
            "metrics": result.model_dump(mode="json"),
        },
    )
    for name, data in files.items():  # before meta.json: the version is complete only after
        blobs.put(tenant_id=tenant_id, key=f"{PREFIX}/{version}/{name}", data=data)
    save_model(tenant_id=tenant_id, blobs=blobs, model=stored, publish=False)
    _log(f"stored candidate {version} for {tenant_id} ({result.seconds:.1f} s)", progress)
    return result


# --------------------------------------------------------------------------- evaluation


def evaluate_version(
    *,
    tenant_id: str,
    blobs: BlobStore,
    rows: Sequence[Example],
    version: str | None = None,
    report_dir: Path | None = None,
    title: str = "",
) -> ClassificationMetrics | None:
    """Report on `rows` for `version` (None: the live one; None back when there is none)."""
    from skills.intent.skill import _models, embed_for

    if not rows:
        raise InvalidExamples("no labelled rows to evaluate")
    version = version or current_version(tenant_id=tenant_id, blobs=blobs, kind=KIND)
    if version is None:
        return None
    model = _models.get(tenant_id=tenant_id, blobs=blobs, version=version)
    vectors = embed_for(tenant_id=tenant_id, blobs=blobs, model=model, texts=[e.text for e in rows])
    names, probs, rejected = model.decide(vectors)
    top = np.asarray(names)[probs.argmax(axis=1)]
    predicted = [OUT_OF_SCOPE if r else str(t) for t, r in zip(top, rejected, strict=True)]
    rule = model.rejection
    if rule.score is not None:
        confidences = model.scores(vectors)
        threshold = None if rule.threshold == NO_REJECTION else rule.threshold
    else:
        confidences, threshold = probs.max(axis=1), None
    # The rejection is already in `predicted`; the threshold only marks the picture.
    metrics = classification_report(
        y_true=[e.intent for e in rows],
        y_pred=predicted,
        confidences=[float(c) for c in confidences],
        threshold=None,
        out_dir=None,
        title=title or f"intent model {version} ({rule.name})",
    )
    metrics = metrics.model_copy(update={"threshold": threshold})
    if report_dir is not None:
        from training.reports import write_report

        write_report(
            metrics=metrics,
            y_true=[e.intent for e in rows],
            y_pred=predicted,
            confidences=[float(c) for c in confidences],
            out_dir=report_dir,
        )
    return metrics


def store_report(*, tenant_id: str, blobs: BlobStore, version: str, report_dir: Path) -> str:
    """Copy a report's files beside the version (`models/intent/<v>/report/`); the prefix."""
    base = f"{PREFIX}/{version}/report"
    for name in REPORT_FILES:
        path = report_dir / name
        if path.exists():
            blobs.put(tenant_id=tenant_id, key=f"{base}/{name}", data=path.read_bytes())
    return base


def publish_candidate(
    *,
    tenant_id: str,
    blobs: BlobStore,
    version: str,
    candidate: ClassificationMetrics,
    live: ClassificationMetrics | None,
    live_version: str | None,
    force: bool = False,
) -> PublishDecision:
    return publish_if_better(
        tenant_id=tenant_id,
        blobs=blobs,
        kind=KIND,
        candidate=version,
        metric=PUBLISH_METRIC,
        candidate_score=round(candidate.accuracy, 6),
        live_score=None if live is None else round(live.accuracy, 6),
        live=live_version,
        force=force,
    )


def summary(metrics: ClassificationMetrics | None) -> dict[str, Any] | None:
    """The headline figures of a report (what steps and commands print)."""
    if metrics is None:
        return None
    out: dict[str, Any] = {
        "n": metrics.n,
        "accuracy": round(metrics.accuracy, 4),
        "macro_f1": round(metrics.macro_f1, 4),
    }
    if metrics.out_of_scope is not None:
        o = metrics.out_of_scope
        out.update(
            out_of_scope_recall=round(o.recall, 4),
            out_of_scope_precision=None if o.precision is None else round(o.precision, 4),
            in_scope_accuracy=round(o.in_scope_accuracy, 4),
        )
    return out


def train_and_publish(
    *,
    tenant_id: str,
    examples: Sequence[Example],
    blobs: BlobStore,
    mode: str = "frozen",
    force: bool = False,
    report_dir: Path | None = None,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """The whole lifecycle in one process (`lambdesk intents train`): split, train a candidate,
    evaluate it and the live version on the held-out rows, write the report, publish if
    better."""
    split = split_for_training(examples, seed=seed)
    candidate = train_candidate(
        tenant_id=tenant_id,
        train=split.train,
        negatives=split.negatives,
        blobs=blobs,
        mode=mode,
        seed=seed,
        progress=progress,
    )
    live_version = current_version(tenant_id=tenant_id, blobs=blobs, kind=KIND)
    decision: PublishDecision
    with tempfile.TemporaryDirectory(prefix="lambdesk-report-") as tmp:
        directory = report_dir or Path(tmp)
        if not split.heldout:
            # Too few rows to hold any out: nothing to compare on, so the candidate goes live.
            from training.versions import decide, publish

            decision = decide(
                candidate=candidate.version,
                live=live_version,
                metric=PUBLISH_METRIC,
                candidate_score=candidate.tuning_accuracy,
                live_score=None,
            )
            publish(tenant_id=tenant_id, blobs=blobs, kind=KIND, version=candidate.version)
            metrics = live = None
        else:
            metrics = evaluate_version(
                tenant_id=tenant_id,
                blobs=blobs,
                rows=split.heldout,
                version=candidate.version,
                report_dir=directory,
            )
            assert metrics is not None
            store_report(
                tenant_id=tenant_id, blobs=blobs, version=candidate.version, report_dir=directory
            )
            live = (
                evaluate_version(
                    tenant_id=tenant_id, blobs=blobs, rows=split.heldout, version=live_version
                )
                if live_version
                else None
            )
            decision = publish_candidate(
                tenant_id=tenant_id,
                blobs=blobs,
                version=candidate.version,
                candidate=metrics,
                live=live,
                live_version=live_version,
                force=force,
            )
    return {
        "candidate": candidate.model_dump(mode="json"),
        "heldout": summary(metrics),
        "live_heldout": summary(live),
        "decision": decision.model_dump(mode="json"),
        "report": str(report_dir) if report_dir else None,
        "labels": sorted({e.intent for e in split.train}),
    }


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
