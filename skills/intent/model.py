"""A tenant's intent model as stored in the BlobStore, and the numpy-only code that runs it.

Layout (keys relative to the tenant):

- `models/intent/<version>/head.npz`: `coef` (classes × 384, float32) and `intercept` (classes)
  of a softmax classifier over the encoder's normalised embeddings (no pickles);
- `models/intent/<version>/meta.json`: `labels`, `threshold` (out-of-scope cut-off on the top
  probability), `metrics`, `created_at`, `encoder`;
- `models/intent/CURRENT`: the version in use (versions are ULIDs, so they sort by age).

Training (`training.intents`) writes these with `save_model`; the intent skill reads them with
`load_current`. Both score through `IntentModel.scores`, so training and serving agree.
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.ports import BlobStore

PREFIX = "models/intent"
CURRENT_KEY = f"{PREFIX}/CURRENT"
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class IntentModel:
    """A softmax head over frozen sentence embeddings plus its out-of-scope threshold."""

    version: str
    labels: list[str]
    coef: np.ndarray  # (classes, dim)
    intercept: np.ndarray  # (classes,)
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per embedding."""
        logits = embeddings.astype(np.float32) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def classify(self, embeddings: np.ndarray, *, top: int = 3) -> list[dict[str, Any]]:
        """The skill's answer per embedding: intent (None when out of scope), confidence,
        ranking (top `top` labels)."""
        probs = self.probabilities(embeddings)
        results: list[dict[str, Any]] = []
        for row in probs:
            order = np.argsort(-row)[:top]
            ranking = [
                {"intent": self.labels[i], "confidence": round(float(row[i]), 6)} for i in order
            ]
            confidence = ranking[0]["confidence"]
            intent = ranking[0]["intent"] if confidence >= self.threshold else None
            results.append(
                {
                    "intent": intent,
                    "confidence": confidence,
                    "ranking": ranking,
                    "model_version": self.version,
                }
            )
        return results


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


def save_model(*, tenant_id: str, blobs: BlobStore, model: IntentModel) -> None:
    """Write the model's files, then move CURRENT to it (readers never see half a model)."""
    base = f"{PREFIX}/{model.version}"
    buffer = io.BytesIO()
    np.savez(
        buffer, coef=model.coef.astype(np.float32), intercept=model.intercept.astype(np.float32)
    )
    blobs.put(
        tenant_id=tenant_id,
        key=f"{base}/head.npz",
        data=buffer.getvalue(),
        content_type="application/octet-stream",
    )
    meta = {**model.meta, "version": model.version, "labels": model.labels}
    meta["threshold"] = model.threshold
    blobs.put(
        tenant_id=tenant_id,
        key=f"{base}/meta.json",
        data=json.dumps(meta, indent=1).encode(),
        content_type="application/json",
    )
    blobs.put(
        tenant_id=tenant_id, key=CURRENT_KEY, data=model.version.encode(), content_type="text/plain"
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
    return IntentModel(
        version=version,
        labels=list(meta["labels"]),
        coef=coef,
        intercept=intercept,
        threshold=float(meta["threshold"]),
        meta=meta,
    )


class ModelCache:
    """Loaded models keyed by (tenant, version): a new CURRENT is picked up by warm processes."""

    def __init__(self, *, size: int = 32) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], IntentModel] = OrderedDict()
        self._lock = threading.Lock()

    def current(self, *, tenant_id: str, blobs: BlobStore) -> IntentModel | None:
        version = current_version(tenant_id=tenant_id, blobs=blobs)
        if version is None:
            return None
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
