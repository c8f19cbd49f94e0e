"""A tenant's knowledge base in the BlobStore: documents, per-document chunk embeddings, and the
versioned search index built from them (numpy only; the encoder is passed in by the caller).

Layout (keys relative to the tenant):

- `knowledge/docs/<doc_id>.json`: the document (id, title, filename, content_type, text, bytes,
  created_at, chunks);
- `knowledge/chunks/<doc_id>.npz` (`vectors`: chunks × 384 float32, L2-normalised) and
  `knowledge/chunks/<doc_id>.json` (title and the chunks' ids, headings and texts);
- `knowledge/index/<version>/vectors.npz` + `knowledge/index/<version>/chunks.json`: every
  chunk of every document, stacked; `knowledge/index/CURRENT` names the version in use.

Search scores are plain cosine similarities in [-1, 1] (dense retrieval, no lexical fusion), so a
tenant's `knowledge_threshold` (default 0.45) has one meaning whatever the corpus size.

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
from typing import Any

import numpy as np

from core.errors import NotFound
from core.ids import new_ulid
from core.ports import BlobStore
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


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _load_vectors(data: bytes) -> np.ndarray:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return np.ascontiguousarray(arrays["vectors"], dtype=np.float32)


# --------------------------------------------------------------------------- per-document chunks


def embed_document(
    *, tenant_id: str, blobs: BlobStore, doc_id: str, embed: Embedder
) -> list[dict[str, Any]]:
    """Chunk one stored document, embed its chunks, store both. Returns the chunk records."""
    from knowledge.chunking import chunk_text

    doc = read_doc(tenant_id=tenant_id, blobs=blobs, doc_id=doc_id)
    title = str(doc.get("title") or "")
    chunks = chunk_text(str(doc.get("text") or ""))
    records = [
        {"chunk_id": f"{doc_id}-{i}", "heading": c.heading, "text": c.text}
        for i, c in enumerate(chunks)
    ]
    vectors = embed([c.embedding_text(title) for c in chunks]) if chunks else np.zeros((0, 384))
    vectors_key, texts_key = chunk_keys(doc_id)
    blobs.put(
        tenant_id=tenant_id,
        key=vectors_key,
        data=_npz({"vectors": np.asarray(vectors, dtype=np.float32)}),
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

    def search(self, query_vector: np.ndarray, *, top_k: int) -> list[dict[str, Any]]:
        """The `top_k` chunks by cosine similarity, best first."""
        if not self.rows:
            return []
        scores = self.vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        k = min(top_k, len(self.rows))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        hits = []
        for i in best:
            row = self.rows[int(i)]
            hits.append(
                {
                    "doc_id": row["doc_id"],
                    "chunk_id": row["chunk_id"],
                    "title": row["title"],
                    "heading": row.get("heading", ""),
                    "text": row["text"],
                    "score": round(float(np.clip(scores[i], -1.0, 1.0)), 6),
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
            vectors = _load_vectors(vectors_data)
            texts = json.loads(texts_data)
            if len(texts["chunks"]) != len(vectors):
                raise ValueError(f"chunks of document {doc_id} are inconsistent")
            parts.append(vectors)
            for chunk in texts["chunks"]:
                rows.append({"doc_id": doc_id, "title": texts["title"], **chunk})
        matrix = np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)
        index = KnowledgeIndex(version=version, vectors=matrix.astype(np.float32), rows=rows)
        base = f"{INDEX_PREFIX}{version}/"
        blobs.put(
            tenant_id=tenant_id,
            key=base + "vectors.npz",
            data=_npz({"vectors": index.vectors}),
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
    vectors = _load_vectors(blobs.get(tenant_id=tenant_id, key=base + "vectors.npz"))
    rows = json.loads(blobs.get(tenant_id=tenant_id, key=base + "chunks.json"))["rows"]
    return KnowledgeIndex(version=version, vectors=vectors, rows=rows)


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
