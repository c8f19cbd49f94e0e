"""The retrieval skill: semantic search over a tenant's knowledge base, and (re)indexing.

Events (all carry `tenant_id`):

- `{"op": "search", "query", "top_k": 3}` → `{"hits": [{doc_id, chunk_id, title, heading, text,
  score}], "index_version"}`; scores are cosine similarities in [-1, 1]; no index → no hits.
- `{"op": "index", "doc_id"}`: chunk and embed that stored document, then rebuild the index →
  `{"doc_id", "chunks", "index_version"}`.
- `{"op": "rebuild"}`: rebuild the index from the documents present (after a delete) →
  `{"documents", "chunks", "index_version"}`.

Storage and scoring live in `knowledge.index`; this module adds the encoder and an index cache
keyed by (tenant, version), so a warm process picks up a new index on its next call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.errors import BadRequest
from core.ports import SkillContext
from knowledge.index import IndexCache, embed_document, rebuild_index, valid_doc_id

MAX_TOP_K = 50
_indexes = IndexCache()


def _embed(texts: Sequence[str]) -> np.ndarray:
    from skills.encoder import embed

    return embed(texts)


def _require(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"retrieval: {name} is required")
    return value


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    tenant_id = _require(event, "tenant_id")
    op = event.get("op", "search")
    blobs = ctx.blobs
    if op == "search":
        query = event.get("query")
        if not isinstance(query, str):
            raise BadRequest("retrieval: query is required")
        try:
            top_k = max(1, min(int(event.get("top_k", 3)), MAX_TOP_K))
        except (TypeError, ValueError) as exc:
            raise BadRequest("retrieval: top_k must be an integer") from exc
        index = _indexes.current(tenant_id=tenant_id, blobs=blobs)
        if index is None or not index.rows or not query.strip():
            return {"hits": [], "index_version": index.version if index else None}
        return {
            "hits": index.search(_embed([query])[0], top_k=top_k),
            "index_version": index.version,
        }
    if op == "index":
        doc_id = _require(event, "doc_id")
        if not valid_doc_id(doc_id):
            raise BadRequest("retrieval: invalid doc_id")
        chunks = embed_document(tenant_id=tenant_id, blobs=blobs, doc_id=doc_id, embed=_embed)
        index = rebuild_index(tenant_id=tenant_id, blobs=blobs, embed=_embed)
        _indexes.put(tenant_id=tenant_id, index=index)
        return {"doc_id": doc_id, "chunks": len(chunks), "index_version": index.version}
    if op == "rebuild":
        index = rebuild_index(tenant_id=tenant_id, blobs=blobs, embed=_embed)
        _indexes.put(tenant_id=tenant_id, index=index)
        return {
            "documents": len({row["doc_id"] for row in index.rows}),
            "chunks": len(index.rows),
            "index_version": index.version,
        }
    raise BadRequest(f"retrieval: unknown op {op!r}")
