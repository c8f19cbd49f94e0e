"""Knowledge documents (admin): add (multipart `file`, or a raw body with its `Content-Type` and
`?filename=`), list, delete, and a search for testing answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from api.deps import AdminDep, AnyPrincipalDep, ServicesDep
from api.errors import API_ERRORS
from core.auth import PrincipalRole
from core.errors import BadRequest, NotFound
from knowledge import documents
from knowledge.documents import DocumentInfo
from knowledge.store import valid_doc_id

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"], responses=API_ERRORS)

_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "text/plain": {"schema": {"type": "string"}},
            "text/markdown": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


class DocumentList(BaseModel):
    items: list[DocumentInfo]


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=50)


class SearchResult(BaseModel):
    hits: list[dict[str, Any]]


async def _upload(request: Request, filename: str | None) -> tuple[str, str | None, bytes]:
    """(filename, content type, bytes) from a multipart `file` part or the raw body."""
    content_type = request.headers.get("content-type")
    if content_type and content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise BadRequest("multipart upload needs a 'file' part", code="missing_file")
        data = await part.read()
        return part.filename or filename or "document", part.content_type, data
    return filename or "document", content_type, await request.body()


@router.post("/documents", status_code=201, openapi_extra=_UPLOAD_DOC)
async def add_document(
    request: Request,
    principal: AdminDep,
    services: ServicesDep,
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> DocumentInfo:
    name, content_type, data = await _upload(request, filename)
    settings = services.settings
    return await documents.add_document(
        tenant_id=principal.tenant_id,
        filename=name,
        content_type=content_type,
        data=data,
        blobs=services.blobs,
        skills=services.skills,
        max_bytes=settings.max_document_bytes,
        timeout=settings.index_timeout_s,
        max_parse_seconds=settings.max_parse_seconds,
        max_pages=settings.max_pdf_pages,
    )


@router.get("/documents")
async def list_documents(principal: AdminDep, services: ServicesDep) -> DocumentList:
    return DocumentList(
        items=documents.list_documents(tenant_id=principal.tenant_id, blobs=services.blobs)
    )


@router.delete("/documents/{doc_id}", status_code=204)
async def delete_document(
    doc_id: str, principal: AnyPrincipalDep, services: ServicesDep
) -> Response:
    if not valid_doc_id(doc_id) or principal.role is not PrincipalRole.ADMIN:
        # Only the admin key may see documents: anyone else gets 404 whether or not it exists.
        raise NotFound(f"document {doc_id!r} not found")
    await documents.delete_document(
        tenant_id=principal.tenant_id,
        doc_id=doc_id,
        blobs=services.blobs,
        skills=services.skills,
        timeout=services.settings.index_timeout_s,
    )
    return Response(status_code=204)


@router.post("/search")
async def search(principal: AdminDep, services: ServicesDep, body: SearchRequest) -> SearchResult:
    hits = await documents.search(
        tenant_id=principal.tenant_id,
        query=body.query,
        top_k=body.top_k,
        skills=services.skills,
        timeout=services.settings.retrieval_timeout_s,
    )
    return SearchResult(hits=hits)
