"""Unit tests for hot reload: the model cache re-reads CURRENT at most every `refresh_s`
seconds per tenant (a fake clock), serves a newly published version after that, and keeps
blob stores and tenants apart."""

from __future__ import annotations

import numpy as np

from core.ports import BlobStore
from skills.intent.model import IntentModel, ModelCache, save_model
from tests.memory_stores import MemoryBlobStore

T = "bank-one"


class CountingBlobStore(MemoryBlobStore):
    """Counts reads of CURRENT (a GET each on S3)."""

    def __init__(self) -> None:
        super().__init__()
        self.current_reads = 0

    def _get(self, path: str) -> bytes | None:
        if path.endswith("/CURRENT"):
            self.current_reads += 1
        return super()._get(path)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _save(blobs: BlobStore, version: str, tenant_id: str = T) -> None:
    model = IntentModel(
        version=version,
        labels=["a", "b"],
        coef=np.eye(2, 4, dtype=np.float32),
        intercept=np.zeros(2, dtype=np.float32),
        threshold=0.0,
    )
    save_model(tenant_id=tenant_id, blobs=blobs, model=model)


def test_current_is_read_at_most_once_per_window_and_a_new_version_follows() -> None:
    blobs = CountingBlobStore()
    clock = FakeClock()
    cache = ModelCache(refresh_s=2.0, clock=clock)
    _save(blobs, "01A")
    for _ in range(50):
        model = cache.current(tenant_id=T, blobs=blobs)
        assert model is not None and model.version == "01A"
    assert blobs.current_reads == 1
    _save(blobs, "01B")  # published: within the window the old one is still served
    clock.now += 1.9
    model = cache.current(tenant_id=T, blobs=blobs)
    assert model is not None and model.version == "01A"
    clock.now += 0.2
    model = cache.current(tenant_id=T, blobs=blobs)
    assert model is not None and model.version == "01B"
    assert blobs.current_reads == 2


def test_zero_refresh_reads_every_time() -> None:
    blobs = CountingBlobStore()
    cache = ModelCache(refresh_s=0.0, clock=FakeClock())
    _save(blobs, "01A")
    for _ in range(3):
        cache.current(tenant_id=T, blobs=blobs)
    assert blobs.current_reads == 3


def test_no_model_yet_then_one_is_published() -> None:
    blobs = CountingBlobStore()
    clock = FakeClock()
    cache = ModelCache(refresh_s=2.0, clock=clock)
    assert cache.current(tenant_id=T, blobs=blobs) is None
    _save(blobs, "01A")
    clock.now += 2.0
    model = cache.current(tenant_id=T, blobs=blobs)
    assert model is not None and model.version == "01A"


def test_tenants_and_blob_stores_have_their_own_pointers() -> None:
    one, two = CountingBlobStore(), CountingBlobStore()
    cache = ModelCache(refresh_s=60.0, clock=FakeClock())
    _save(one, "01A")
    _save(two, "01B")
    _save(one, "01C", tenant_id="bank-two")
    assert cache.current(tenant_id=T, blobs=one).version == "01A"  # type: ignore[union-attr]
    assert cache.current(tenant_id=T, blobs=two).version == "01B"  # type: ignore[union-attr]
    other = cache.current(tenant_id="bank-two", blobs=one)
    assert other is not None and other.version == "01C"
