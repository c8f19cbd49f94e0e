"""A vision model as stored in the BlobStore, and the ONNX Runtime + numpy code that runs it.

Layout (keys relative to the tenant):

- `models/vision/<version>/model.onnx`: the classifier (input `image`: float32 N×3×S×S,
  normalised; output `logits`: N×classes; dynamic batch);
- `models/vision/<version>/meta.json`: `labels`, `input_size` (S), `mean` and `std` (per RGB
  channel, on 0-1 pixel values), `architecture`, `dataset`, `metrics`, `created_at`;
- `models/vision/CURRENT`: the version in use, written last (readers never see half a model).

A tenant without a model of its own is served the shared default model: the same two files in a
directory (`LAMBDESK_VISION_DEFAULT_MODEL_DIR`, else `<data dir>/models/vision-default`), built
once from scikit-learn's digits by `lambdesk vision default` (and baked into the vision image).

`ModelCache` keeps loaded models per (tenant, version) and re-reads a tenant's CURRENT at most
every `recheck_s` seconds, so a warm process picks up a new version within that delay without
reading the pointer on every image. No torch here: serving never imports it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import Unavailable
from core.ports import BlobStore

PREFIX = "models/vision"
CURRENT_KEY = f"{PREFIX}/CURRENT"
MODEL_FILE = "model.onnx"
META_FILE = "meta.json"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
DEFAULT_VERSION_PREFIX = "default-"
RECHECK_S = 2.0


class NoVisionModel(Unavailable):
    """Neither the tenant nor the deployment has a vision model yet."""

    code = "no_vision_model"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"no vision model for tenant {tenant_id!r} and no default model: train one with "
            f"`lambdesk vision train --tenant {tenant_id} --dataset digits` or build the default "
            "with `lambdesk vision default`"
        )


def _threads() -> int:
    """ONNX Runtime's intra-op threads: one by default. A 32×32 ResNet-18 answers one image in
    about 2 ms on one thread; a second thread made it slower and its tail much longer (p99 7 ms
    → 14-30 ms on a busy 2-core machine), and requests run side by side anyway."""
    configured = os.environ.get("LAMBDESK_VISION_THREADS")
    return max(1, int(configured)) if configured else 1


@dataclass
class VisionModel:
    """An ONNX classifier plus what its input needs (size, normalisation) and its labels."""

    version: str
    labels: list[str]
    input_size: int
    mean: np.ndarray  # (3,) float32
    std: np.ndarray  # (3,) float32
    session: Any  # onnxruntime.InferenceSession
    meta: dict[str, Any] = field(default_factory=dict)
    is_default: bool = False

    @classmethod
    def load(
        cls, *, version: str, onnx_bytes: bytes, meta: Mapping[str, Any], is_default: bool = False
    ) -> VisionModel:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = _threads()
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            onnx_bytes, options, providers=["CPUExecutionProvider"]
        )
        labels = [str(label) for label in meta["labels"]]
        size = int(meta["input_size"])
        mean = np.asarray(meta["mean"], dtype=np.float32).reshape(3)
        std = np.asarray(meta["std"], dtype=np.float32).reshape(3)
        if not labels or size < 1 or np.any(std <= 0):
            raise ValueError(f"vision model {version}: invalid meta.json")
        return cls(
            version=version,
            labels=labels,
            input_size=size,
            mean=mean,
            std=std,
            session=session,
            meta=dict(meta),
            is_default=is_default,
        )

    def normalise(self, images: np.ndarray) -> np.ndarray:
        """N×S×S×3 uint8 → N×3×S×S float32, as in training."""
        x = images.astype(np.float32) * np.float32(1.0 / 255.0)
        x = (x - self.mean) / self.std
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Softmax class probabilities, one row per N×S×S×3 uint8 image."""
        if images.ndim != 4 or images.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(f"expected N×{self.input_size}×{self.input_size}×3 images")
        (logits,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: self.normalise(images)})
        return softmax(np.asarray(logits, dtype=np.float32))

    def top(self, probabilities: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """The `k` best (label, probability) pairs per row, best first."""
        k = max(1, min(k, len(self.labels)))
        ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        return [
            [(self.labels[i], float(row[i])) for i in order]
            for row, order in zip(probabilities, ranked, strict=True)
        ]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


# --------------------------------------------------------------------------- storage


def version_key(version: str, name: str) -> str:
    return f"{PREFIX}/{version}/{name}"


def save_model(
    *,
    tenant_id: str,
    blobs: BlobStore,
    version: str,
    onnx_bytes: bytes,
    meta: Mapping[str, Any],
    publish: bool = True,
) -> None:
    """Store a version's files; with `publish`, then move CURRENT to it (written last). A
    workflow that publishes only when better stores with `publish=False`, then `set_current`."""
    blobs.put(
        tenant_id=tenant_id,
        key=version_key(version, MODEL_FILE),
        data=onnx_bytes,
        content_type="application/octet-stream",
    )
    blobs.put(
        tenant_id=tenant_id,
        key=version_key(version, META_FILE),
        data=json.dumps({**meta, "version": version}, indent=1).encode(),
        content_type="application/json",
    )
    if publish:
        set_current(tenant_id=tenant_id, blobs=blobs, version=version)


def set_current(*, tenant_id: str, blobs: BlobStore, version: str) -> None:
    """Point CURRENT at a stored version (publish or roll back)."""
    if blobs.find(tenant_id=tenant_id, key=version_key(version, META_FILE)) is None:
        raise ValueError(f"vision model version {version!r} is not stored")
    blobs.put(
        tenant_id=tenant_id, key=CURRENT_KEY, data=version.encode(), content_type="text/plain"
    )


def current_version(*, tenant_id: str, blobs: BlobStore) -> str | None:
    data = blobs.find(tenant_id=tenant_id, key=CURRENT_KEY)
    if data is None:
        return None
    return data.decode().strip() or None


def read_meta(*, tenant_id: str, blobs: BlobStore, version: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(
        blobs.get(tenant_id=tenant_id, key=version_key(version, META_FILE))
    )
    return meta


def read_model(*, tenant_id: str, blobs: BlobStore, version: str) -> VisionModel:
    meta = read_meta(tenant_id=tenant_id, blobs=blobs, version=version)
    onnx_bytes = blobs.get(tenant_id=tenant_id, key=version_key(version, MODEL_FILE))
    return VisionModel.load(version=version, onnx_bytes=onnx_bytes, meta=meta)


def write_model_dir(directory: Path, *, onnx_bytes: bytes, meta: Mapping[str, Any]) -> None:
    """A model as two files in a directory (the shared default); meta.json is written last."""
    from core.files import atomic_path

    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / MODEL_FILE) as temporary:
        temporary.write_bytes(onnx_bytes)
    with atomic_path(directory / META_FILE) as temporary:
        temporary.write_text(json.dumps(dict(meta), indent=1))


def read_model_dir(directory: Path) -> VisionModel | None:
    """The model in `directory`, or None when it has not been built."""
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    version = f"{DEFAULT_VERSION_PREFIX}{meta.get('version', 'local')}"
    return VisionModel.load(
        version=version,
        onnx_bytes=(directory / MODEL_FILE).read_bytes(),
        meta=meta,
        is_default=True,
    )


def default_model_dir(settings: Any) -> Path:
    """Where the shared default model lives for these settings."""
    configured = getattr(settings, "vision_default_model_dir", None)
    if configured:
        return Path(configured).expanduser()
    return Path(settings.resolved_data_dir) / "models" / "vision-default"


# --------------------------------------------------------------------------- cache


@dataclass
class _Pointer:
    version: str | None
    checked_at: float


class ModelCache:
    """Loaded models per (tenant, version), CURRENT re-read at most every `recheck_s` seconds,
    and the shared default model (looked for again at the same pace while it is missing)."""

    def __init__(
        self,
        *,
        size: int = 16,
        recheck_s: float = RECHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._recheck_s = recheck_s
        self._clock = clock
        self._models: OrderedDict[tuple[str, str], VisionModel] = OrderedDict()
        self._pointers: dict[str, _Pointer] = {}
        self._defaults: dict[str, tuple[VisionModel | None, float]] = {}
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def version(self, *, tenant_id: str, blobs: BlobStore) -> str | None:
        """The tenant's CURRENT version as last read (re-read when older than `recheck_s`)."""
        now = self._clock()
        with self._lock:
            pointer = self._pointers.get(tenant_id)
        if pointer is not None and now - pointer.checked_at < self._recheck_s:
            return pointer.version
        version = current_version(tenant_id=tenant_id, blobs=blobs)
        with self._lock:
            self._pointers[tenant_id] = _Pointer(version=version, checked_at=now)
        return version

    def tenant_model(self, *, tenant_id: str, blobs: BlobStore) -> VisionModel | None:
        version = self.version(tenant_id=tenant_id, blobs=blobs)
        if version is None:
            return None
        key = (tenant_id, version)
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model
        with self._load_lock:  # one load per model, even when many requests arrive at once
            with self._lock:
                model = self._models.get(key)
            if model is None:
                model = read_model(tenant_id=tenant_id, blobs=blobs, version=version)
            with self._lock:
                self._models[key] = model
                self._models.move_to_end(key)
                while len(self._models) > self._size:
                    self._models.popitem(last=False)
        return model

    def default_model(self, directory: Path) -> VisionModel | None:
        now = self._clock()
        key = str(directory)
        with self._lock:
            found = self._defaults.get(key)
        if found is not None and (found[0] is not None or now - found[1] < self._recheck_s):
            return found[0]
        with self._load_lock:
            model = read_model_dir(directory)
        with self._lock:
            self._defaults[key] = (model, now)
        return model

    def model_for(self, *, tenant_id: str, blobs: BlobStore, settings: Any) -> VisionModel:
        """The tenant's current model, else the shared default; `NoVisionModel` when neither."""
        model = self.tenant_model(tenant_id=tenant_id, blobs=blobs)
        if model is None:
            model = self.default_model(default_model_dir(settings))
        if model is None:
            raise NoVisionModel(tenant_id)
        return model
