"""Knowledge-base service functions the API and the CLI call: add, list, delete, search.

They never load a model: parsing happens here, in a worker thread (never on the event loop) and
under a time budget; embedding and indexing happen in the retrieval skill, reached through the
`SkillInvoker` port (in-process locally, a Lambda on AWS). Adding is all-or-nothing: nothing is
stored for a document that cannot be parsed in time, and a document whose indexing fails is
removed again before the error propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from core.errors import BadRequest, NotFound, PayloadTooLarge
from core.ids import new_ulid
from core.models import utcnow
from core.ports import BlobStore, SkillInvoker
from knowledge.ingest import parse_document
from knowledge.parse_budget import DEFAULT_MAX_PARSE_SECONDS, ParseBudget
from knowledge.pdf_text import DEFAULT_MAX_PDF_PAGES
from knowledge.store import (
    DOCS_PREFIX,
    delete_chunks,
    doc_key,
    list_doc_ids,
    read_doc,
    valid_doc_id,
)

logger = logging.getLogger(__name__)

RETRIEVAL = "retrieval"
MAX_TOP_K = 20


class DocumentInfo(BaseModel):
    """What the API shows about a stored document (its text stays in the store)."""

    doc_id: str
    title: str
    filename: str
    content_type: str
    chunks: int
    bytes: int
    created_at: datetime


def _info(record: dict[str, Any]) -> DocumentInfo:
    return DocumentInfo.model_validate(
        {name: record.get(name) for name in DocumentInfo.model_fields}
    )


def _put_record(*, tenant_id: str, blobs: BlobStore, record: dict[str, Any]) -> None:
    blobs.put(
        tenant_id=tenant_id,
        key=doc_key(record["doc_id"]),
        data=json.dumps(record).encode(),
        content_type="application/json",
    )


async def add_document(
    *,
    tenant_id: str,
    filename: str,
    content_type: str | None,
    data: bytes,
    blobs: BlobStore,
    skills: SkillInvoker,
    max_bytes: int,
    timeout: float,
    max_parse_seconds: float = DEFAULT_MAX_PARSE_SECONDS,
    max_pages: int = DEFAULT_MAX_PDF_PAGES,
) -> DocumentInfo:
    """Validate, parse (in a worker thread, within `max_parse_seconds`), store and index one
    document.

    Raises `PayloadTooLarge` (413, naming the limit), `UnsupportedMediaType` (415),
    `Unprocessable` (422; `document_too_complex` past the parse budget), or the skill's error, in
    which case nothing stays stored.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"document is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    parsed = await asyncio.to_thread(
        parse_document,
        filename=filename,
        content_type=content_type,
        data=data,
        budget=ParseBudget(max_parse_seconds),
        max_pages=max_pages,
    )
    doc_id = new_ulid()
    record: dict[str, Any] = {
        "doc_id": doc_id,
        "title": parsed.title,
        "filename": filename or "",
        "content_type": parsed.media_type,
        "text": parsed.text,
        "bytes": len(data),
        "created_at": utcnow().isoformat(),
        "chunks": 0,
    }
    _put_record(tenant_id=tenant_id, blobs=blobs, record=record)
    try:
        result = await skills.invoke(
            RETRIEVAL, {"op": "index", "tenant_id": tenant_id, "doc_id": doc_id}, timeout=timeout
        )
    except BaseException:
        blobs.delete(tenant_id=tenant_id, key=doc_key(doc_id))
        delete_chunks(tenant_id=tenant_id, blobs=blobs, doc_id=doc_id)
        # The skill may have finished after a timeout: rebuild without the document, unawaited.
        with contextlib.suppress(Exception):
            await skills.invoke_async(RETRIEVAL, {"op": "rebuild", "tenant_id": tenant_id})
        raise
    record["chunks"] = int(result.get("chunks", 0))
    _put_record(tenant_id=tenant_id, blobs=blobs, record=record)
    return _info(record)


def list_documents(*, tenant_id: str, blobs: BlobStore) -> list[DocumentInfo]:
    """The tenant's documents, oldest first."""
    infos: list[DocumentInfo] = []
    for doc_id in list_doc_ids(tenant_id=tenant_id, blobs=blobs):
        data = blobs.find(tenant_id=tenant_id, key=f"{DOCS_PREFIX}{doc_id}.json")
        if data is not None:  # deleted meanwhile
            infos.append(_info(json.loads(data)))
    return sorted(infos, key=lambda d: (d.created_at, d.doc_id))


def get_document(*, tenant_id: str, doc_id: str, blobs: BlobStore) -> DocumentInfo:
    """One document, or `NotFound` (also for another tenant's id)."""
    return _info(read_doc(tenant_id=tenant_id, blobs=blobs, doc_id=doc_id))


async def delete_document(
    *, tenant_id: str, doc_id: str, blobs: BlobStore, skills: SkillInvoker, timeout: float
) -> None:
    """Remove a document and rebuild the index without it; `NotFound` for unknown ids."""
    if not valid_doc_id(doc_id) or blobs.find(tenant_id=tenant_id, key=doc_key(doc_id)) is None:
        raise NotFound(f"document {doc_id!r} not found")
    blobs.delete(tenant_id=tenant_id, key=doc_key(doc_id))
    delete_chunks(tenant_id=tenant_id, blobs=blobs, doc_id=doc_id)
    await skills.invoke(RETRIEVAL, {"op": "rebuild", "tenant_id": tenant_id}, timeout=timeout)


async def search(
    *, tenant_id: str, query: str, top_k: int, skills: SkillInvoker, timeout: float
) -> list[dict[str, Any]]:
    """The best `top_k` passages for `query`: doc_id, chunk_id, title, heading, text, score."""
    if not query.strip():
        raise BadRequest("query must not be empty")
    top_k = max(1, min(top_k, MAX_TOP_K))
    result = await skills.invoke(
        RETRIEVAL,
        {"op": "search", "tenant_id": tenant_id, "query": query, "top_k": top_k},
        timeout=timeout,
    )
    hits: list[dict[str, Any]] = result.get("hits", [])
    return hits
