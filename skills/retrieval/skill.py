"""The retrieval skill: semantic search over a tenant's knowledge base, and (re)indexing.

Events (all carry `tenant_id`; contracts in `core.skill_contracts`: `SearchEvent`, `IndexEvent`,
`RebuildEvent` and their results):

- `{"op": "search", "query", "top_k": 3, "focus"?}` → `{"hits": [{doc_id, chunk_id, title,
  heading, text, score, lexical, answer, anchor}], "index_version"}`, best first (dense and BM25
  rankings fused); `score` is the cosine similarity in [-1, 1]; `answer` the part of the chunk
  that answers the query; no index → no hits.
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
from core.skill_contracts import IndexEvent, SearchEvent, parse_event, retrieval_events
from knowledge.index import FUSION, IndexCache, embed_document, rebuild_index, valid_doc_id

_indexes = IndexCache()


def _embed(texts: Sequence[str]) -> np.ndarray:
    from skills.encoder import embed

    return embed(texts)


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    request = parse_event("retrieval", retrieval_events(), event)
    tenant_id = request.tenant_id
    blobs = ctx.blobs
    if isinstance(request, SearchEvent):
        index = _indexes.current(tenant_id=tenant_id, blobs=blobs)
        if index is None or not index.rows or not request.query.strip():
            return {"hits": [], "index_version": index.version if index else None}
        hits = index.search(
            _embed([request.query])[0],
            top_k=request.top_k,
            query=request.query,
            focus=request.focus,
            fusion=FUSION if request.fusion else "dense",
            select=request.select,
        )
        return {"hits": hits, "index_version": index.version}
    if isinstance(request, IndexEvent):
        if not valid_doc_id(request.doc_id):
            raise BadRequest("retrieval: invalid doc_id")
        chunks = embed_document(
            tenant_id=tenant_id, blobs=blobs, doc_id=request.doc_id, embed=_embed
        )
        index = rebuild_index(tenant_id=tenant_id, blobs=blobs, embed=_embed)
        _indexes.put(tenant_id=tenant_id, index=index)
        return {"doc_id": request.doc_id, "chunks": len(chunks), "index_version": index.version}
    index = rebuild_index(tenant_id=tenant_id, blobs=blobs, embed=_embed)
    _indexes.put(tenant_id=tenant_id, index=index)
    return {
        "documents": len({row["doc_id"] for row in index.rows}),
        "chunks": len(index.rows),
        "index_version": index.version,
    }
