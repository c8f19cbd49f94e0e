"""Versioned models in the BlobStore, per tenant and model kind ("intent", "vision", ...).

Layout (keys relative to the tenant; the intent skill's existing layout):

- `models/<kind>/<version>/...`: the version's files, `meta.json` written last, so a version
  without `meta.json` is incomplete and never listed nor published;
- `models/<kind>/<version>/evaluation.json`: how it compared with the live version (optional);
- `models/<kind>/HISTORY`: JSON list of publications `{version, published_at, reason}`;
- `models/<kind>/CURRENT`: the live version, written last: a reader following CURRENT always
  finds a complete version.

Versions are ULIDs, so they sort by age. `publish_if_better` moves CURRENT to a candidate only
when its score on the held-out data is at least the live version's score on the same data
(`force` overrides); `rollback` moves it back to the previously published version, or to a
named one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.errors import NotFound
from core.models import utcnow
from core.ports import BlobStore

MODELS = "models"
META = "meta.json"
EVALUATION = "evaluation.json"
ROLLBACK = "rollback"


def prefix(kind: str) -> str:
    if not kind or "/" in kind or kind.startswith("."):
        raise ValueError(f"invalid model kind {kind!r}")
    return f"{MODELS}/{kind}"


def version_key(kind: str, version: str, name: str) -> str:
    if not version or "/" in version or version.startswith(".") or version in {"CURRENT"}:
        raise ValueError(f"invalid model version {version!r}")
    return f"{prefix(kind)}/{version}/{name}"


class VersionInfo(BaseModel):
    """One stored version: what `lambdesk intents versions` lists."""

    version: str
    live: bool = False
    created_at: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    evaluation: dict[str, Any] | None = None


class Publication(BaseModel):
    version: str
    published_at: datetime
    reason: str


class PublishDecision(BaseModel):
    """The outcome of `publish_if_better` (stored beside the candidate as evaluation.json)."""

    candidate: str
    live: str | None
    metric: str
    candidate_score: float
    live_score: float | None
    published: bool
    forced: bool = False
    reason: str


# --------------------------------------------------------------------------- reading


def current_version(*, tenant_id: str, blobs: BlobStore, kind: str) -> str | None:
    data = blobs.find(tenant_id=tenant_id, key=f"{prefix(kind)}/CURRENT")
    if data is None:
        return None
    return data.decode().strip() or None


def read_meta(*, tenant_id: str, blobs: BlobStore, kind: str, version: str) -> dict[str, Any]:
    """The version's meta.json, or `NotFound` (also for an incomplete version)."""
    data = blobs.find(tenant_id=tenant_id, key=version_key(kind, version, META))
    if data is None:
        raise NotFound(f"{kind} model version {version!r} not found")
    meta: dict[str, Any] = json.loads(data)
    return meta


def read_evaluation(
    *, tenant_id: str, blobs: BlobStore, kind: str, version: str
) -> dict[str, Any] | None:
    data = blobs.find(tenant_id=tenant_id, key=version_key(kind, version, EVALUATION))
    return None if data is None else dict(json.loads(data))


def complete_versions(*, tenant_id: str, blobs: BlobStore, kind: str) -> list[str]:
    """Versions whose meta.json exists, oldest first."""
    base = prefix(kind) + "/"
    found = set()
    for key in blobs.list(tenant_id=tenant_id, prefix=base):
        parts = key[len(base) :].split("/")
        if len(parts) == 2 and parts[1] == META:
            found.add(parts[0])
    return sorted(found)


def list_versions(*, tenant_id: str, blobs: BlobStore, kind: str) -> list[VersionInfo]:
    """Every complete version with its figures, newest first."""
    live = current_version(tenant_id=tenant_id, blobs=blobs, kind=kind)
    infos: list[VersionInfo] = []
    for version in reversed(complete_versions(tenant_id=tenant_id, blobs=blobs, kind=kind)):
        meta = read_meta(tenant_id=tenant_id, blobs=blobs, kind=kind, version=version)
        infos.append(
            VersionInfo(
                version=version,
                live=version == live,
                created_at=meta.get("created_at"),
                metrics=dict(meta.get("metrics") or {}),
                evaluation=read_evaluation(
                    tenant_id=tenant_id, blobs=blobs, kind=kind, version=version
                ),
            )
        )
    return infos


def history(*, tenant_id: str, blobs: BlobStore, kind: str) -> list[Publication]:
    data = blobs.find(tenant_id=tenant_id, key=f"{prefix(kind)}/HISTORY")
    if data is None:
        return []
    return [Publication.model_validate(item) for item in json.loads(data)]


# --------------------------------------------------------------------------- writing


def write_version(
    *,
    tenant_id: str,
    blobs: BlobStore,
    kind: str,
    version: str,
    files: Mapping[str, bytes],
    meta: Mapping[str, Any],
) -> None:
    """Store a version's files, then its meta.json (which makes it complete). Not published."""
    for name, data in files.items():
        if name in {META, EVALUATION}:
            raise ValueError(f"{name} is written by the version store itself")
        blobs.put(
            tenant_id=tenant_id,
            key=version_key(kind, version, name),
            data=data,
            content_type="application/octet-stream",
        )
    blobs.put(
        tenant_id=tenant_id,
        key=version_key(kind, version, META),
        data=json.dumps({**meta, "version": version}, indent=1).encode(),
        content_type="application/json",
    )


def publish(
    *, tenant_id: str, blobs: BlobStore, kind: str, version: str, reason: str = "published"
) -> None:
    """Make `version` live: record it in HISTORY, then move CURRENT (last)."""
    read_meta(tenant_id=tenant_id, blobs=blobs, kind=kind, version=version)  # complete?
    past = history(tenant_id=tenant_id, blobs=blobs, kind=kind)
    live = current_version(tenant_id=tenant_id, blobs=blobs, kind=kind)
    if not past and live is not None and live != version:
        # A live version from before publications were recorded: keep it rollback-able.
        past.append(Publication(version=live, published_at=utcnow(), reason="found live"))
    past.append(Publication(version=version, published_at=utcnow(), reason=reason))
    blobs.put(
        tenant_id=tenant_id,
        key=f"{prefix(kind)}/HISTORY",
        data=json.dumps([p.model_dump(mode="json") for p in past[-200:]], indent=1).encode(),
        content_type="application/json",
    )
    blobs.put(
        tenant_id=tenant_id,
        key=f"{prefix(kind)}/CURRENT",
        data=version.encode(),
        content_type="text/plain",
    )


def decide(
    *,
    candidate: str,
    live: str | None,
    metric: str,
    candidate_score: float,
    live_score: float | None,
    force: bool = False,
) -> PublishDecision:
    """Publish when there is no live version, when the candidate scores at least as well as the
    live one on the same held-out data, or when forced."""
    if live is None or live_score is None:
        published, reason = True, "no live version"
    elif candidate_score >= live_score:
        published, reason = True, f"{metric} {candidate_score:.4f} >= live {live_score:.4f}"
    elif force:
        published, reason = True, f"forced: {metric} {candidate_score:.4f} < live {live_score:.4f}"
    else:
        published, reason = False, f"{metric} {candidate_score:.4f} < live {live_score:.4f}"
    return PublishDecision(
        candidate=candidate,
        live=live,
        metric=metric,
        candidate_score=candidate_score,
        live_score=live_score,
        published=published,
        forced=force and published and live_score is not None and candidate_score < live_score,
        reason=reason,
    )


def publish_if_better(
    *,
    tenant_id: str,
    blobs: BlobStore,
    kind: str,
    candidate: str,
    metric: str,
    candidate_score: float,
    live_score: float | None,
    live: str | None,
    force: bool = False,
) -> PublishDecision:
    """Record the comparison beside the candidate and publish it when `decide` says so.

    `live` must be the version `live_score` was measured on: if CURRENT moved meanwhile (another
    run published), the comparison is stale and nothing is published unless forced."""
    now_live = current_version(tenant_id=tenant_id, blobs=blobs, kind=kind)
    decision = decide(
        candidate=candidate,
        live=live,
        metric=metric,
        candidate_score=candidate_score,
        live_score=live_score,
        force=force,
    )
    if now_live != live and not force:
        decision = decision.model_copy(
            update={
                "published": False,
                "reason": f"live version moved to {now_live} during the evaluation",
            }
        )
    blobs.put(
        tenant_id=tenant_id,
        key=version_key(kind, candidate, EVALUATION),
        data=json.dumps(decision.model_dump(mode="json"), indent=1).encode(),
        content_type="application/json",
    )
    if decision.published:
        publish(
            tenant_id=tenant_id, blobs=blobs, kind=kind, version=candidate, reason=decision.reason
        )
    return decision


def rollback(*, tenant_id: str, blobs: BlobStore, kind: str, to: str | None = None) -> str:
    """Make `to` live again, or, without it, the version published before the live one (else
    the newest complete version older than it). Returns the version now live."""
    live = current_version(tenant_id=tenant_id, blobs=blobs, kind=kind)
    if to is None:
        lineage = _lineage(history(tenant_id=tenant_id, blobs=blobs, kind=kind))
        target: str | None = None
        if lineage and lineage[-1] == live and len(lineage) > 1:
            target = lineage[-2]
        if target is None:
            older = [
                v
                for v in complete_versions(tenant_id=tenant_id, blobs=blobs, kind=kind)
                if live is None or v < live
            ]
            target = older[-1] if older else None
        if target is None:
            raise NotFound(f"no earlier {kind} model version to roll back to")
    else:
        target = to
    read_meta(tenant_id=tenant_id, blobs=blobs, kind=kind, version=target)
    publish(tenant_id=tenant_id, blobs=blobs, kind=kind, version=target, reason=ROLLBACK)
    return target


def _lineage(publications: list[Publication]) -> list[str]:
    """The stack of live versions: a publication pushes; a rollback to a version on the stack
    pops back to it (so rolling back twice goes two versions back, not back and forth)."""
    stack: list[str] = []
    for p in publications:
        if p.reason == ROLLBACK and p.version in stack:
            while stack[-1] != p.version:
                stack.pop()
        elif not stack or stack[-1] != p.version:
            stack.append(p.version)
    return stack
