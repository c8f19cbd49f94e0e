"""A tenant's knowledge base in the BlobStore: documents, per-document chunk embeddings, and the
versioned search index built from them (numpy only; the encoder is passed in by the caller).

Layout (keys relative to the tenant):

- `knowledge/docs/<doc_id>.json`: the document (id, title, filename, content_type, text, bytes,
  created_at, chunks);
- `knowledge/chunks/<doc_id>.npz` (`vectors`: chunks × 384 float32, L2-normalised; `units`:
  the embeddings of the chunks' answer units, stacked) and `knowledge/chunks/<doc_id>.json`
  (title and the chunks' ids, headings, texts and unit counts);
- `knowledge/index/<version>/vectors.npz` + `knowledge/index/<version>/chunks.json`: every
  chunk of every document, stacked; `knowledge/index/CURRENT` names the version in use.

Search ranks chunks by a fusion of dense and lexical scores: the chunk's cosine, plus
`UNIT_WEIGHT` × the cosine of its unit (sentence, list item, table row) closest to the query (a
chunk that holds the one sentence that answers beats one that is only about the same subject),
plus `LEXICAL_WEIGHT` × its BM25 (`knowledge.lexical`, built when an index is loaded) over the
summed idf of the query's terms (how much of the query the chunk covers), the lexical weight
growing with the corpus (idf says little over a handful of chunks). The weights were
chosen on the demo FAQ set and checked on a public one (`bench/conversation.py`); reciprocal rank
fusion (`FUSION="rrf"`) measured lower on both.
Whatever ranks them, each hit's `score` stays its chunk's plain cosine similarity in [-1, 1], so a
tenant's `knowledge_threshold` (default 0.45) keeps one meaning whatever the corpus size;
`lexical` is its BM25 relative to the query's best. Each hit carries the answer part of its chunk
(`knowledge.passages`) and its section's `anchor`. An index built before units were stored ranks
without the unit term and selects answers lexically.

A rebuild takes its version (a ULID) *before* it lists the documents and moves CURRENT only
forward, so when two rebuilds race, the one that wins saw every document stored before it began.
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from core.errors import NotFound
from core.ids import new_ulid
from core.ports import BlobStore
from knowledge.lexical import BM25, tokens
from knowledge.passages import anchor, select_answer, unit_embedding_text, units
from knowledge.store import (
    CHUNKS_PREFIX,
    DOCS_PREFIX,
    INDEX_CURRENT,
    INDEX_PREFIX,
    chunk_keys,
    delete_chunks,
    doc_key,
    list_doc_ids,
    read_doc,
    valid_doc_id,
)

__all__ = [
    "CHUNKS_PREFIX",
    "DOCS_PREFIX",
    "INDEX_CURRENT",
    "INDEX_PREFIX",
    "chunk_keys",
    "delete_chunks",
    "doc_key",
    "list_doc_ids",
    "read_doc",
    "valid_doc_id",
]

Embedder = Callable[[Sequence[str]], np.ndarray]
DIMENSION = 384
RRF_K = 60
# "weighted" (the default), "weighted-lexical" (without the unit term), "rrf", "dense",
# "dense+units": the variants bench/conversation.py compares
FUSION = "weighted"
LEXICAL_WEIGHT = 0.4  # chosen on bench/data/demo_bank_faq.csv, checked on the public FAQ set
LEXICAL_HALF_TRUST = 50  # chunks at which BM25 gets half its weight (idf needs a corpus)
UNIT_WEIGHT = 0.25


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _load_vectors(data: bytes) -> np.ndarray:
    return _load_arrays(data)[0]


def _load_arrays(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """(chunk vectors, unit vectors or None for an older file)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        vectors = np.ascontiguousarray(arrays["vectors"], dtype=np.float32)
        unit_vectors = (
            np.ascontiguousarray(arrays["units"], dtype=np.float32) if "units" in arrays else None
        )
    return vectors, unit_vectors


# --------------------------------------------------------------------------- per-document chunks


def embed_document(
    *, tenant_id: str, blobs: BlobStore, doc_id: str, embed: Embedder
) -> list[dict[str, Any]]:
    """Chunk one stored document, embed its chunks, store both. Returns the chunk records."""
    from knowledge.chunking import chunk_text

    doc = read_doc(tenant_id=tenant_id, blobs=blobs, doc_id=doc_id)
    title = str(doc.get("title") or "")
    chunks = chunk_text(str(doc.get("text") or ""))
    chunk_units = [[unit_embedding_text(c.heading, u.text) for u in units(c.text)] for c in chunks]
    records = [
        {"chunk_id": f"{doc_id}-{i}", "heading": c.heading, "text": c.text, "units": len(us)}
        for i, (c, us) in enumerate(zip(chunks, chunk_units, strict=True))
    ]
    texts = [c.embedding_text(title) for c in chunks] + [u for us in chunk_units for u in us]
    embedded = embed(texts) if texts else np.zeros((0, DIMENSION))
    vectors, unit_vectors = embedded[: len(chunks)], embedded[len(chunks) :]
    vectors_key, texts_key = chunk_keys(doc_id)
    blobs.put(
        tenant_id=tenant_id,
        key=vectors_key,
        data=_npz(
            {
                "vectors": np.asarray(vectors, dtype=np.float32).reshape(-1, DIMENSION),
                "units": np.asarray(unit_vectors, dtype=np.float32).reshape(-1, DIMENSION),
            }
        ),
        content_type="application/octet-stream",
    )
    blobs.put(
        tenant_id=tenant_id,
        key=texts_key,
        data=json.dumps({"doc_id": doc_id, "title": title, "chunks": records}).encode(),
        content_type="application/json",
    )
    return records


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class KnowledgeIndex:
    version: str
    vectors: np.ndarray  # (chunks, dim), L2-normalised
    rows: list[dict[str, Any]]  # doc_id, chunk_id, title, heading, text — one per vector row
    unit_vectors: np.ndarray | None = None  # (units, dim): every row's units, stacked in order

    @cached_property
    def lexical(self) -> BM25:
        """BM25 over the chunks (title, heading and text), built once per loaded index."""
        return BM25([tokens(f"{r['title']} {r.get('heading', '')} {r['text']}") for r in self.rows])

    @cached_property
    def unit_spans(self) -> list[tuple[int, int]] | None:
        """Each row's slice of `unit_vectors` (None when the index has no unit vectors)."""
        if self.unit_vectors is None:
            return None
        spans, start = [], 0
        for row in self.rows:
            count = int(row.get("units", -1))
            if count < 0:
                return None
            spans.append((start, start + count))
            start += count
        return spans if start == len(self.unit_vectors) else None

    @cached_property
    def _unit_starts(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(first unit row, has units) per chunk, for `np.maximum.reduceat`."""
        spans = self.unit_spans
        if spans is None or self.unit_vectors is None or not len(self.unit_vectors):
            return None
        starts = np.asarray([start for start, _ in spans], dtype=np.int64)
        present = np.asarray([end > start for start, end in spans])
        return starts, present

    def best_units(self, query_vector: np.ndarray) -> np.ndarray | None:
        """Per chunk, the cosine of its unit closest to the query (None without unit vectors;
        a chunk without units gets its own cosine)."""
        found = self._unit_starts
        if found is None or self.unit_vectors is None:
            return None
        starts, present = found
        sims = self.unit_vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        out = self.vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        out[present] = np.maximum.reduceat(sims, starts[present])
        return out

    def rank(
        self, query_vector: np.ndarray, query: str, *, fusion: str = FUSION
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row order best first, cosine per row, BM25 per row)."""
        dense = self.vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        terms = tokens(query) if fusion not in ("dense", "dense+units") else []
        lexical = (
            self.lexical.scores(terms) if terms else np.zeros(len(self.rows), dtype=np.float32)
        )
        semantic = dense
        if fusion in ("weighted", "dense+units", "rrf"):
            units_best = self.best_units(query_vector)
            if units_best is not None:
                semantic = (dense + UNIT_WEIGHT * units_best).astype(np.float32)
        if fusion in ("dense", "dense+units") or not lexical.any():
            return np.argsort(-semantic, kind="stable"), dense, lexical
        if fusion.startswith("weighted"):
            # BM25 over the idf of every query term: how much of the query a chunk covers (a
            # chunk matching one common word of four gets little, not the whole weight)
            coverage = lexical / sum(self.lexical.weight(t) for t in set(terms))
            # idf means little over a handful of chunks: the weight grows with the corpus
            trust = len(self.rows) / (len(self.rows) + LEXICAL_HALF_TRUST)
            fused = semantic + LEXICAL_WEIGHT * trust * coverage
        else:
            dense_rank = np.empty(len(dense), dtype=np.float32)
            dense_rank[np.argsort(-semantic, kind="stable")] = np.arange(1, len(dense) + 1)
            lexical_rank = np.empty(len(dense), dtype=np.float32)
            lexical_rank[np.argsort(-lexical, kind="stable")] = np.arange(1, len(dense) + 1)
            fused = (
                1.0 / (RRF_K + dense_rank)
                + np.where(lexical > 0, 1.0 / (RRF_K + lexical_rank), 0.0)
            ).astype(np.float32)
        return np.argsort(-fused, kind="stable"), dense, lexical

    def search(
        self,
        query_vector: np.ndarray,
        *,
        top_k: int,
        query: str = "",
        focus: str | None = None,
        fusion: str = FUSION,
        select: bool = True,
    ) -> list[dict[str, Any]]:
        """The `top_k` chunks, best first (see the module docstring), each with its answer."""
        if not self.rows:
            return []
        order, dense, lexical = self.rank(query_vector, query, fusion=fusion)
        best_lexical = float(lexical.max()) if lexical.any() else 0.0
        spans = self.unit_spans
        hits = []
        for i in order[: min(top_k, len(self.rows))]:
            row = self.rows[int(i)]
            heading = row.get("heading", "")
            answer = ""
            if select:
                vectors = None
                if spans is not None and self.unit_vectors is not None:
                    start, end = spans[int(i)]
                    vectors = self.unit_vectors[start:end]
                answer = select_answer(
                    heading=heading,
                    text=row["text"],
                    query_vector=query_vector,
                    unit_vectors=vectors,
                    query=query,
                    focus=focus,
                    weight=self.lexical.weight,
                )
            hits.append(
                {
                    "doc_id": row["doc_id"],
                    "chunk_id": row["chunk_id"],
                    "title": row["title"],
                    "heading": heading,
                    "text": row["text"],
                    "score": round(float(np.clip(dense[i], -1.0, 1.0)), 6),
                    "lexical": round(float(lexical[i]) / best_lexical, 6) if best_lexical else 0.0,
                    "answer": answer,
                    "anchor": anchor(heading) if heading else "",
                }
            )
        return hits


_rebuild_locks: dict[str, threading.Lock] = {}
_rebuild_locks_guard = threading.Lock()


def _tenant_lock(tenant_id: str) -> threading.Lock:
    with _rebuild_locks_guard:
        return _rebuild_locks.setdefault(tenant_id, threading.Lock())


def current_index_version(*, tenant_id: str, blobs: BlobStore) -> str | None:
    data = blobs.find(tenant_id=tenant_id, key=INDEX_CURRENT)
    return data.decode().strip() or None if data is not None else None


def rebuild_index(*, tenant_id: str, blobs: BlobStore, embed: Embedder) -> KnowledgeIndex:
    """Stack every present document's chunks into a new index version and make it CURRENT.

    Documents without stored chunks are embedded first; chunks of deleted documents are removed.
    """
    with _tenant_lock(tenant_id):
        version = new_ulid()  # before listing: see the module docstring
        doc_ids = list_doc_ids(tenant_id=tenant_id, blobs=blobs)
        present = set(doc_ids)
        for key in blobs.list(tenant_id=tenant_id, prefix=CHUNKS_PREFIX):
            stem = key[len(CHUNKS_PREFIX) :].rsplit(".", 1)[0]
            if stem not in present:
                blobs.delete(tenant_id=tenant_id, key=key)
        rows: list[dict[str, Any]] = []
        parts: list[np.ndarray] = []
        unit_parts: list[np.ndarray] = []
        for doc_id in doc_ids:
            vectors_key, texts_key = chunk_keys(doc_id)
            vectors_data = blobs.find(tenant_id=tenant_id, key=vectors_key)
            texts_data = blobs.find(tenant_id=tenant_id, key=texts_key)
            if vectors_data is None or texts_data is None:
                try:
                    embed_document(tenant_id=tenant_id, blobs=blobs, doc_id=doc_id, embed=embed)
                except NotFound:  # deleted meanwhile
                    continue
                vectors_data = blobs.get(tenant_id=tenant_id, key=vectors_key)
                texts_data = blobs.get(tenant_id=tenant_id, key=texts_key)
            vectors, unit_vectors = _load_arrays(vectors_data)
            texts = json.loads(texts_data)
            if len(texts["chunks"]) != len(vectors):
                raise ValueError(f"chunks of document {doc_id} are inconsistent")
            parts.append(vectors)
            chunks = texts["chunks"]
            if unit_vectors is None or sum(int(c.get("units", 0)) for c in chunks) != len(
                unit_vectors
            ):  # an older document: no unit vectors (answers are selected lexically)
                chunks = [{k: v for k, v in c.items() if k != "units"} for c in chunks]
                unit_vectors = np.zeros((0, DIMENSION), dtype=np.float32)
            unit_parts.append(unit_vectors)
            for chunk in chunks:
                rows.append({"doc_id": doc_id, "title": texts["title"], **chunk})
        matrix = np.concatenate(parts) if parts else np.zeros((0, DIMENSION), dtype=np.float32)
        unit_matrix = (
            np.concatenate(unit_parts) if unit_parts else np.zeros((0, DIMENSION), np.float32)
        )
        index = KnowledgeIndex(
            version=version,
            vectors=matrix.astype(np.float32),
            rows=rows,
            unit_vectors=unit_matrix.astype(np.float32),
        )
        base = f"{INDEX_PREFIX}{version}/"
        blobs.put(
            tenant_id=tenant_id,
            key=base + "vectors.npz",
            data=_npz({"vectors": index.vectors, "units": unit_matrix.astype(np.float32)}),
            content_type="application/octet-stream",
        )
        blobs.put(
            tenant_id=tenant_id,
            key=base + "chunks.json",
            data=json.dumps({"version": version, "rows": rows}).encode(),
            content_type="application/json",
        )
        current = current_index_version(tenant_id=tenant_id, blobs=blobs)
        if current is None or current < version:
            blobs.put(
                tenant_id=tenant_id,
                key=INDEX_CURRENT,
                data=version.encode(),
                content_type="text/plain",
            )
        _prune_versions(tenant_id=tenant_id, blobs=blobs, keep=2)
        return index


def _prune_versions(*, tenant_id: str, blobs: BlobStore, keep: int) -> None:
    """Delete all but the newest `keep` index versions (a warm reader may still hold the last)."""
    keys = [k for k in blobs.list(tenant_id=tenant_id, prefix=INDEX_PREFIX) if k != INDEX_CURRENT]
    versions = sorted({k[len(INDEX_PREFIX) :].split("/", 1)[0] for k in keys})
    current = current_index_version(tenant_id=tenant_id, blobs=blobs)
    stale = [v for v in versions[:-keep] if v != current]
    for key in keys:
        if key[len(INDEX_PREFIX) :].split("/", 1)[0] in stale:
            blobs.delete(tenant_id=tenant_id, key=key)


def read_index(*, tenant_id: str, blobs: BlobStore, version: str) -> KnowledgeIndex:
    base = f"{INDEX_PREFIX}{version}/"
    vectors, unit_vectors = _load_arrays(blobs.get(tenant_id=tenant_id, key=base + "vectors.npz"))
    rows = json.loads(blobs.get(tenant_id=tenant_id, key=base + "chunks.json"))["rows"]
    return KnowledgeIndex(version=version, vectors=vectors, rows=rows, unit_vectors=unit_vectors)


class IndexCache:
    """Loaded indexes keyed by (tenant, version), least recently used dropped first."""

    def __init__(self, *, size: int = 32) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], KnowledgeIndex] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, *, tenant_id: str, index: KnowledgeIndex) -> None:
        with self._lock:
            self._items[(tenant_id, index.version)] = index
            self._items.move_to_end((tenant_id, index.version))
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def current(self, *, tenant_id: str, blobs: BlobStore) -> KnowledgeIndex | None:
        version = current_index_version(tenant_id=tenant_id, blobs=blobs)
        if version is None:
            return None
        with self._lock:
            index = self._items.get((tenant_id, version))
            if index is not None:
                self._items.move_to_end((tenant_id, version))
                return index
        try:
            index = read_index(tenant_id=tenant_id, blobs=blobs, version=version)
        except NotFound:
            return None
        self.put(tenant_id=tenant_id, index=index)
        return index
