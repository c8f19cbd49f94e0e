"""Where a tenant's knowledge lives in the BlobStore: the keys of documents, their chunks and the
index, and reading the document records. No numpy: the API's document routes use this module
(adding, listing, deleting), while searching and indexing (`knowledge.index`) run in the
retrieval skill.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import NotFound
from core.ports import BlobStore

DOCS_PREFIX = "knowledge/docs/"
CHUNKS_PREFIX = "knowledge/chunks/"
INDEX_PREFIX = "knowledge/index/"
INDEX_CURRENT = f"{INDEX_PREFIX}CURRENT"
_DOC_ID = re.compile(r"^[0-9A-Za-z_-]{1,80}$")


def valid_doc_id(doc_id: str) -> bool:
    return bool(_DOC_ID.match(doc_id))


def doc_key(doc_id: str) -> str:
    if not valid_doc_id(doc_id):
        raise NotFound(f"document {doc_id!r} not found")
    return f"{DOCS_PREFIX}{doc_id}.json"


def chunk_keys(doc_id: str) -> tuple[str, str]:
    """(vectors `.npz`, chunk texts `.json`) of one document."""
    doc_key(doc_id)
    return f"{CHUNKS_PREFIX}{doc_id}.npz", f"{CHUNKS_PREFIX}{doc_id}.json"


def list_doc_ids(*, tenant_id: str, blobs: BlobStore) -> list[str]:
    keys = blobs.list(tenant_id=tenant_id, prefix=DOCS_PREFIX)
    return [k[len(DOCS_PREFIX) : -len(".json")] for k in keys if k.endswith(".json")]


def read_doc(*, tenant_id: str, blobs: BlobStore, doc_id: str) -> dict[str, Any]:
    """The stored document record, or `NotFound`."""
    data = blobs.find(tenant_id=tenant_id, key=doc_key(doc_id))
    if data is None:
        raise NotFound(f"document {doc_id!r} not found")
    record: dict[str, Any] = json.loads(data)
    return record


def delete_chunks(*, tenant_id: str, blobs: BlobStore, doc_id: str) -> None:
    for key in chunk_keys(doc_id):
        blobs.delete(tenant_id=tenant_id, key=key)
