"""Out-of-scope rejection rules of the intent model (numpy only: training and serving share them).

Each rule turns a row's head output into an in-scope score (higher: more likely one of the
tenant's intents); a row is rejected when its score is below the rule's threshold:

- `max_prob`: the top softmax probability over the tenant's intents;
- `energy`: the negative free energy, logsumexp of the logits (Liu et al., 2020);
- `centroid`: cosine similarity of the sentence vector to the nearest intent centroid;
- `knn`: cosine similarity to the nearest training sentence (the exemplars, stored with the
  version as float16);
- `oos_class`: no score; a row is rejected when an `out_of_scope` class, trained on generic
  negative sentences, is the top label. It combines with any scored rule
  (`oos_class+max_prob`, ...): rejected when either rejects.

The rule and its threshold are stored in the model version's meta (`rejection`), so serving
applies exactly the rule training chose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUT_OF_SCOPE = "out_of_scope"
SCORED_RULES = ("max_prob", "energy", "centroid", "knn")
NO_REJECTION = float("-inf")


@dataclass(frozen=True)
class RejectionRule:
    """A scored rule (or none), a threshold on its score, and whether the head has an
    `out_of_scope` class that rejects by itself."""

    score: str | None = "max_prob"
    threshold: float = NO_REJECTION
    oos_class: bool = False

    @property
    def name(self) -> str:
        parts = (["oos_class"] if self.oos_class else []) + ([self.score] if self.score else [])
        return "+".join(parts) or "none"

    @classmethod
    def parse(cls, name: str, threshold: float = NO_REJECTION) -> RejectionRule:
        parts = [p for p in name.split("+") if p and p != "none"]
        oos = "oos_class" in parts
        scored = [p for p in parts if p != "oos_class"]
        if len(scored) > 1 or any(p not in SCORED_RULES for p in scored):
            raise ValueError(f"unknown rejection rule {name!r}")
        return cls(score=scored[0] if scored else None, threshold=threshold, oos_class=oos)

    def to_meta(self) -> dict[str, object]:
        return {
            "rule": self.name,
            "threshold": None if self.threshold == NO_REJECTION else float(self.threshold),
        }

    @classmethod
    def from_meta(cls, meta: dict[str, object]) -> RejectionRule:
        """The stored rule; a model stored before rules existed used `max_prob` and its
        top-level `threshold`."""
        stored = meta.get("rejection")
        if isinstance(stored, dict):
            value = stored.get("threshold")
            threshold = NO_REJECTION if value is None else float(str(value))
            return cls.parse(str(stored.get("rule", "max_prob")), threshold)
        value = meta.get("threshold")
        return cls(score="max_prob", threshold=float(str(value)) if value else 0.0)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def logsumexp(logits: np.ndarray) -> np.ndarray:
    top = logits.max(axis=1)
    return np.asarray(top + np.log(np.exp(logits - top[:, None]).sum(axis=1)), dtype=np.float64)


def in_scope_scores(
    score: str,
    *,
    logits: np.ndarray,
    embeddings: np.ndarray,
    centroids: np.ndarray | None,
    exemplars: np.ndarray | None = None,
) -> np.ndarray:
    """One score per row for a scored rule, from the in-scope logits (rows × intents)."""
    if score == "max_prob":
        return np.asarray(softmax(logits.astype(np.float64)).max(axis=1), dtype=np.float64)
    if score == "energy":
        return logsumexp(logits.astype(np.float64))
    if score == "centroid":
        if centroids is None:
            raise ValueError("the centroid rule needs the intents' centroids")
        return np.asarray((_unit(embeddings) @ centroids.T).max(axis=1), dtype=np.float64)
    if score == "knn":
        if exemplars is None or not len(exemplars):
            raise ValueError("the knn rule needs the training sentences' vectors")
        out = np.empty(len(embeddings), dtype=np.float64)
        vectors = _unit(embeddings)
        table = exemplars.astype(np.float32).T
        for start in range(0, len(vectors), 256):  # bounded memory: 256 rows × exemplars
            out[start : start + 256] = (vectors[start : start + 256] @ table).max(axis=1)
        return out
    raise ValueError(f"unknown score {score!r}")


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float32)
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def tune_threshold(
    *,
    in_scope_scores: np.ndarray,
    in_scope_correct: np.ndarray,
    negative_scores: np.ndarray,
    max_in_scope_rejection: float,
) -> float:
    """The threshold with the best accuracy on held-out in-scope rows (right when accepted with
    the right label) plus negatives (right when rejected), among those rejecting at most
    `max_in_scope_rejection` of the in-scope rows; ties: the lowest. Placed midway between the
    scores on either side of the cut. `NO_REJECTION` when there is nothing to tune on."""
    if len(negative_scores) == 0 or len(in_scope_scores) == 0:
        return NO_REJECTION
    candidates = np.unique(np.concatenate([in_scope_scores, negative_scores]))
    n_in = len(in_scope_scores)
    total = n_in + len(negative_scores)
    # Candidate k rejects every score < candidates[k]; -1 stands for "reject nothing".
    best, best_accuracy = -1, (int(in_scope_correct.sum()) + 0) / total
    for k, t in enumerate(candidates):
        accepted = in_scope_scores >= t
        if (n_in - accepted.sum()) / n_in > max_in_scope_rejection + 1e-9:
            break  # candidates ascend: every later one rejects even more
        correct = int((accepted & in_scope_correct).sum()) + int((negative_scores < t).sum())
        accuracy = correct / total
        if accuracy > best_accuracy + 1e-12:
            best, best_accuracy = k, accuracy
    if best < 0:
        return NO_REJECTION
    if best == 0:
        return float(candidates[0])
    return float((candidates[best - 1] + candidates[best]) / 2)
