"""Unit tests for versioned models: complete versions only, publish-if-better refusing a worse
candidate and accepting a better one, force, stale comparisons, and rollback."""

from __future__ import annotations

import pytest

from core.errors import NotFound
from tests.memory_stores import MemoryBlobStore
from training import versions as v

T = "bank-one"
KIND = "intent"


def _store(blobs: MemoryBlobStore, version: str, accuracy: float) -> None:
    v.write_version(
        tenant_id=T,
        blobs=blobs,
        kind=KIND,
        version=version,
        files={"head.npz": b"weights of " + version.encode()},
        meta={"created_at": "2026-01-01T00:00:00+00:00", "metrics": {"accuracy": accuracy}},
    )


def _publish(
    blobs: MemoryBlobStore, candidate: str, score: float, **kw: object
) -> v.PublishDecision:
    live = v.current_version(tenant_id=T, blobs=blobs, kind=KIND)
    live_score = None if live is None else float(kw.pop("live_score"))  # type: ignore[arg-type]
    return v.publish_if_better(
        tenant_id=T,
        blobs=blobs,
        kind=KIND,
        candidate=candidate,
        metric="accuracy",
        candidate_score=score,
        live_score=live_score,
        live=live,
        force=bool(kw.get("force", False)),
    )


def test_first_version_is_published_and_listed_with_its_figures() -> None:
    blobs = MemoryBlobStore()
    _store(blobs, "01A", 0.80)
    decision = _publish(blobs, "01A", 0.80)
    assert decision.published and decision.reason == "no live version"
    assert v.current_version(tenant_id=T, blobs=blobs, kind=KIND) == "01A"
    [info] = v.list_versions(tenant_id=T, blobs=blobs, kind=KIND)
    assert info.live and info.metrics == {"accuracy": 0.80}
    assert info.evaluation is not None and info.evaluation["published"] is True


def test_a_worse_candidate_is_refused_and_the_live_version_stays() -> None:
    blobs = MemoryBlobStore()
    _store(blobs, "01A", 0.90)
    _publish(blobs, "01A", 0.90)
    _store(blobs, "01B", 0.85)
    decision = _publish(blobs, "01B", 0.85, live_score=0.90)
    assert not decision.published
    assert v.current_version(tenant_id=T, blobs=blobs, kind=KIND) == "01A"
    listed = {i.version: i for i in v.list_versions(tenant_id=T, blobs=blobs, kind=KIND)}
    assert [i.version for i in v.list_versions(tenant_id=T, blobs=blobs, kind=KIND)] == [
        "01B",
        "01A",
    ]
    assert listed["01B"].evaluation is not None
    assert listed["01B"].evaluation["live_score"] == 0.90
    assert not listed["01B"].live


def test_an_equal_or_better_candidate_is_published() -> None:
    blobs = MemoryBlobStore()
    _store(blobs, "01A", 0.90)
    _publish(blobs, "01A", 0.90)
    _store(blobs, "01B", 0.90)
    assert _publish(blobs, "01B", 0.90, live_score=0.90).published
    _store(blobs, "01C", 0.95)
    assert _publish(blobs, "01C", 0.95, live_score=0.90).published
    assert v.current_version(tenant_id=T, blobs=blobs, kind=KIND) == "01C"


def test_force_publishes_a_worse_candidate() -> None:
    blobs = MemoryBlobStore()
    _store(blobs, "01A", 0.90)
    _publish(blobs, "01A", 0.90)
    _store(blobs, "01B", 0.50)
    decision = _publish(blobs, "01B", 0.50, live_score=0.90, force=True)
    assert decision.published and decision.forced
    assert v.current_version(tenant_id=T, blobs=blobs, kind=KIND) == "01B"


def test_a_comparison_made_against_a_version_no_longer_live_is_not_published() -> None:
    blobs = MemoryBlobStore()
    for version in ("01A", "01B", "01C"):
        _store(blobs, version, 0.9)
    _publish(blobs, "01A", 0.9)
    # measured against 01A, but another run published 01B meanwhile
    v.publish(tenant_id=T, blobs=blobs, kind=KIND, version="01B")
    decision = v.publish_if_better(
        tenant_id=T,
        blobs=blobs,
        kind=KIND,
        candidate="01C",
        metric="accuracy",
        candidate_score=0.99,
        live_score=0.9,
        live="01A",
    )
    assert not decision.published
    assert v.current_version(tenant_id=T, blobs=blobs, kind=KIND) == "01B"


def test_an_incomplete_version_is_neither_listed_nor_publishable() -> None:
    blobs = MemoryBlobStore()
    _store(blobs, "01A", 0.9)
    # files without meta.json: a writer that died half-way
    blobs.put(tenant_id=T, key="models/intent/01B/head.npz", data=b"half")
    assert [i.version for i in v.list_versions(tenant_id=T, blobs=blobs, kind=KIND)] == ["01A"]
    with pytest.raises(NotFound):
        v.publish(tenant_id=T, blobs=blobs, kind=KIND, version="01B")


def test_rollback_goes_back_one_publication_at_a_time() -> None:
    blobs = MemoryBlobStore()
    for version, score in (("01A", 0.8), ("01B", 0.85), ("01C", 0.9)):
        _store(blobs, version, score)
        live = v.current_version(tenant_id=T, blobs=blobs, kind=KIND)
        _publish(blobs, version, score, live_score=0.0 if live else None)
    assert v.rollback(tenant_id=T, blobs=blobs, kind=KIND) == "01B"
    assert v.current_version(tenant_id=T, blobs=blobs, kind=KIND) == "01B"
    assert v.rollback(tenant_id=T, blobs=blobs, kind=KIND) == "01A"
    with pytest.raises(NotFound):
        v.rollback(tenant_id=T, blobs=blobs, kind=KIND)
    assert v.rollback(tenant_id=T, blobs=blobs, kind=KIND, to="01C") == "01C"
    assert v.current_version(tenant_id=T, blobs=blobs, kind=KIND) == "01C"
    with pytest.raises(NotFound):
        v.rollback(tenant_id=T, blobs=blobs, kind=KIND, to="01Z")
    assert v.current_version(tenant_id=T, blobs=blobs, kind=KIND) == "01C"


def test_rollback_of_a_model_trained_before_publications_were_recorded() -> None:
    blobs = MemoryBlobStore()
    _store(blobs, "01A", 0.8)
    _store(blobs, "01B", 0.9)
    blobs.put(tenant_id=T, key="models/intent/CURRENT", data=b"01B")  # the old layout
    assert v.rollback(tenant_id=T, blobs=blobs, kind=KIND) == "01A"


def test_kinds_and_tenants_are_separate() -> None:
    blobs = MemoryBlobStore()
    _store(blobs, "01A", 0.8)
    _publish(blobs, "01A", 0.8)
    assert v.current_version(tenant_id=T, blobs=blobs, kind="vision") is None
    assert v.current_version(tenant_id="bank-two", blobs=blobs, kind=KIND) is None
    with pytest.raises(ValueError):
        v.current_version(tenant_id=T, blobs=blobs, kind="../x")
