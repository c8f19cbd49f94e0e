"""A tenant's intent model as stored in the BlobStore, and the numpy-only code that runs it.

Layout (keys relative to the tenant):

- `models/intent/<version>/head.npz`: `coef` (classes × 384, float32) and `intercept` (classes)
  of a softmax classifier over the encoder's normalised embeddings, and optionally `centroids`
  (intents × 384, for the centroid rejection rule) and `exemplars` (training rows × 384,
  float16, for the knn rule) (no pickles);
- `models/intent/<version>/meta.json`: `labels`, `threshold` (out-of-scope cut-off on the top
  probability), `rejection` (the out-of-scope rule and its threshold, `skills.intent.rules`;
  absent in older models: max probability with `threshold`), `metrics`, `created_at`,
  `encoder` (the packaged encoder's name, or for a fine-tuned model
  `{"name", "onnx", "onnx_int8", "serve"}`: ONNX files of this version, relative to it, and
  which one serving runs);
- `models/intent/CURRENT`: the version in use (versions are ULIDs, so they sort by age), written
  last (`training.versions`), so a reader never follows it to half a model.

Training (`training.intents`) writes these with `save_model`; the intent skill reads them
through a `ModelCache`. Both score through `IntentModel.classify`, so training and serving agree.

Hot reload: a warm process re-reads CURRENT at most every `refresh_s` seconds per tenant (on S3
each read is a GET, so not on every turn) and loads a newly published version on the next call
after that.
"""

from __future__ import annotations

import io
import json
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.ports import BlobStore
from skills.intent.rules import RejectionRule, in_scope_scores, softmax

PREFIX = "models/intent"
CURRENT_KEY = f"{PREFIX}/CURRENT"
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class IntentModel:
    """A softmax head over sentence embeddings plus its out-of-scope rejection rule.

    `rule` None means the rule of older models: reject below `threshold` on the top probability.
    A label `out_of_scope` in `labels` is a trained negative class (`RejectionRule.oos_class`).
    """

    version: str
    labels: list[str]
    coef: np.ndarray  # (classes, dim)
    intercept: np.ndarray  # (classes,)
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)
    centroids: np.ndarray | None = None  # (intents, dim), L2-normalised
    rule: RejectionRule | None = None
    exemplars: np.ndarray | None = None  # (training rows, dim) float16, for the knn rule

    @property
    def rejection(self) -> RejectionRule:
        if self.rule is not None:
            return self.rule
        return RejectionRule(score="max_prob", threshold=self.threshold)

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings.astype(np.float32) @ self.coef.T + self.intercept)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per embedding."""
        return softmax(self.logits(embeddings))

    def decide(self, embeddings: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(in-scope labels, their probabilities per row, whether each row is rejected)."""
        logits = self.logits(embeddings)
        rule = self.rejection
        labels = self.labels
        rejected = np.zeros(len(logits), dtype=bool)
        if OUT_OF_SCOPE in labels:
            oos = labels.index(OUT_OF_SCOPE)
            rejected |= logits.argmax(axis=1) == oos
            keep = [i for i in range(len(labels)) if i != oos]
            logits = logits[:, keep]
            labels = [labels[i] for i in keep]
        probs = softmax(logits.copy())
        if rule.score is not None:
            scores = in_scope_scores(
                rule.score,
                logits=logits,
                embeddings=embeddings,
                centroids=self.centroids,
                exemplars=self.exemplars,
            )
            rejected |= scores < rule.threshold
        return labels, probs, rejected

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """The scored rule's in-scope score per row (the top probability when the rule has
        no score)."""
        logits = self.logits(embeddings)
        if OUT_OF_SCOPE in self.labels:
            oos = self.labels.index(OUT_OF_SCOPE)
            logits = np.delete(logits, oos, axis=1)
        score = self.rejection.score or "max_prob"
        return in_scope_scores(
            score,
            logits=logits,
            embeddings=embeddings,
            centroids=self.centroids,
            exemplars=self.exemplars,
        )

    def classify(self, embeddings: np.ndarray, *, top: int = 3) -> list[dict[str, Any]]:
        """The skill's answer per embedding: intent (None when out of scope), confidence,
        ranking (top `top` intents)."""
        labels, probs, rejected = self.decide(embeddings)
        results: list[dict[str, Any]] = []
        for row, reject in zip(probs, rejected, strict=True):
            order = np.argsort(-row)[:top]
            ranking = [{"intent": labels[i], "confidence": round(float(row[i]), 6)} for i in order]
            confidence = ranking[0]["confidence"]
            results.append(
                {
                    "intent": None if reject else ranking[0]["intent"],
                    "confidence": confidence,
                    "ranking": ranking,
                    "model_version": self.version,
                }
            )
        return results

    @property
    def encoder_files(self) -> dict[str, Any] | None:
        """This version's own encoder (a fine-tuned model), else None: the packaged one."""
        encoder = self.meta.get("encoder")
        return encoder if isinstance(encoder, dict) and encoder.get("onnx") else None


def head_from_classifier(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn a fitted logistic regression's weights into a softmax head.

    A binary scikit-learn model has one row (the log-odds of the second class): softmax over
    `[0, z]` equals the sigmoid of `z`, so a zero row is prepended for the first class.
    """
    coef = np.asarray(coef, dtype=np.float32)
    intercept = np.asarray(intercept, dtype=np.float32).reshape(-1)
    if coef.shape[0] == 1:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([np.zeros(1, dtype=np.float32), intercept])
    return coef, intercept


def save_model(
    *, tenant_id: str, blobs: BlobStore, model: IntentModel, publish: bool = True
) -> None:
    """Write the model's files (meta.json last), then, with `publish`, move CURRENT to it
    (readers never see half a model)."""
    base = f"{PREFIX}/{model.version}"
    buffer = io.BytesIO()
    arrays = {
        "coef": model.coef.astype(np.float32),
        "intercept": model.intercept.astype(np.float32),
    }
    if model.centroids is not None:
        arrays["centroids"] = model.centroids.astype(np.float32)
    if model.exemplars is not None:
        arrays["exemplars"] = model.exemplars.astype(np.float16)
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    blobs.put(
        tenant_id=tenant_id,
        key=f"{base}/head.npz",
        data=buffer.getvalue(),
        content_type="application/octet-stream",
    )
    meta = {**model.meta, "version": model.version, "labels": model.labels}
    meta["threshold"] = model.threshold
    if model.rule is not None:
        meta["rejection"] = model.rule.to_meta()
    blobs.put(
        tenant_id=tenant_id,
        key=f"{base}/meta.json",
        data=json.dumps(meta, indent=1).encode(),
        content_type="application/json",
    )
    if publish:
        blobs.put(
            tenant_id=tenant_id,
            key=CURRENT_KEY,
            data=model.version.encode(),
            content_type="text/plain",
        )


def current_version(*, tenant_id: str, blobs: BlobStore) -> str | None:
    data = blobs.find(tenant_id=tenant_id, key=CURRENT_KEY)
    if data is None:
        return None
    return data.decode().strip() or None


def read_model(*, tenant_id: str, blobs: BlobStore, version: str) -> IntentModel:
    """Load one stored version (numpy arrays only: `allow_pickle=False`)."""
    base = f"{PREFIX}/{version}"
    meta = json.loads(blobs.get(tenant_id=tenant_id, key=f"{base}/meta.json"))
    with np.load(
        io.BytesIO(blobs.get(tenant_id=tenant_id, key=f"{base}/head.npz")), allow_pickle=False
    ) as arrays:
        coef = np.ascontiguousarray(arrays["coef"], dtype=np.float32)
        intercept = np.ascontiguousarray(arrays["intercept"], dtype=np.float32)
        centroids = (
            np.ascontiguousarray(arrays["centroids"], dtype=np.float32)
            if "centroids" in arrays.files
            else None
        )
        exemplars = (
            np.ascontiguousarray(arrays["exemplars"], dtype=np.float16)
            if "exemplars" in arrays.files
            else None
        )
    return IntentModel(
        version=version,
        labels=list(meta["labels"]),
        coef=coef,
        intercept=intercept,
        threshold=float(meta["threshold"]),
        meta=meta,
        centroids=centroids,
        rule=RejectionRule.from_meta(meta) if "rejection" in meta else None,
        exemplars=exemplars,
    )


class ModelCache:
    """Loaded models keyed by (tenant, version), and per blob store and tenant the CURRENT
    pointer with the time it was read: it is read again once it is older than `refresh_s`, so a
    newly published version is served within about `refresh_s` seconds, without a restart."""

    def __init__(
        self,
        *,
        size: int = 32,
        refresh_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self.refresh_s = refresh_s
        self._clock = clock
        self._items: OrderedDict[tuple[str, str], IntentModel] = OrderedDict()
        self._pointers: weakref.WeakKeyDictionary[BlobStore, dict[str, tuple[float, str | None]]]
        self._pointers = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def version(
        self, *, tenant_id: str, blobs: BlobStore, refresh_s: float | None = None
    ) -> str | None:
        """The tenant's CURRENT, as read at most `refresh_s` seconds ago."""
        window = self.refresh_s if refresh_s is None else refresh_s
        now = self._clock()
        with self._lock:
            seen = self._pointers.get(blobs, {}).get(tenant_id)
        if seen is not None and now - seen[0] < window:
            return seen[1]
        version = current_version(tenant_id=tenant_id, blobs=blobs)
        with self._lock:
            self._pointers.setdefault(blobs, {})[tenant_id] = (now, version)
        return version

    def current(
        self, *, tenant_id: str, blobs: BlobStore, refresh_s: float | None = None
    ) -> IntentModel | None:
        version = self.version(tenant_id=tenant_id, blobs=blobs, refresh_s=refresh_s)
        if version is None:
            return None
        return self.get(tenant_id=tenant_id, blobs=blobs, version=version)

    def get(self, *, tenant_id: str, blobs: BlobStore, version: str) -> IntentModel:
        """One version, loaded once and kept (least recently used ones are dropped)."""
        key = (tenant_id, version)
        with self._lock:
            model = self._items.get(key)
            if model is not None:
                self._items.move_to_end(key)
                return model
        model = read_model(tenant_id=tenant_id, blobs=blobs, version=version)
        with self._lock:
            self._items[key] = model
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return model

    def forget(self, *, tenant_id: str, blobs: BlobStore) -> None:
        """Drop the remembered CURRENT of a tenant (the next call reads it again)."""
        with self._lock:
            self._pointers.get(blobs, {}).pop(tenant_id, None)
