"""Images: `POST /v1/images/classify` (the tenant's image classifier) and
`GET /v1/sessions/{id}/images/{name}` (an image a customer attached to a chat message).

Classify takes the image as a multipart `file` part, a raw `image/*` body (an untyped body is
recognised by its bytes), or JSON `{"image_b64": "...", "top_k": 3}` (base64 or a `data:` URL,
as API Gateway hands an image to a function). Session token or admin key; the tenant comes from
the credential, so only the caller's own model ever sees the image. Checked before anything is
stored or classified: over `max_image_bytes` 413, not PNG/JPEG/WebP/GIF 415, a broken header 422,
too many pixels 413; the vision skill decodes it (undecodable 422). Answers the best label, the
top labels with their scores and the model version; 503 when the tenant has no model and the
deployment no default one.

A chat image is served to the session's token and the tenant's admin key; anyone else gets 404.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import PrincipalDep, ServicesDep, SessionDep, TenantDep
from api.errors import API_ERRORS
from api.uploads import receive_upload
from core.errors import BadRequest, NotFound, Unprocessable
from core.image_headers import CONTENT_TYPES, EXTENSIONS, FORMATS, UnsupportedImage
from core.models import MAX_IMAGE_B64_CHARS
from core.skill_contracts import MAX_TOP_K, describe_validation
from core.vision import IMAGE_NAME_PATTERN, ImageClassified

router = APIRouter(prefix="/v1", tags=["images"], responses=API_ERRORS)

_NAME_RE = re.compile(IMAGE_NAME_PATTERN)
_MEDIA_TYPES = {ext: FORMATS[fmt] for fmt, ext in EXTENSIONS.items()}


class ClassifyRequest(BaseModel):
    """The JSON form of `POST /v1/images/classify`."""

    model_config = ConfigDict(extra="forbid")

    image_b64: str = Field(min_length=1, max_length=MAX_IMAGE_B64_CHARS)
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K)


CLASSIFY_DOC: dict[str, Any] = {
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
            "application/json": {"schema": ClassifyRequest.model_json_schema()},
            **{
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("image/png", "image/jpeg", "image/webp", "image/gif")
            },
        },
    }
}


def _json_image(body: bytes) -> ClassifyRequest:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON", code="invalid_json") from None
    try:
        return ClassifyRequest.model_validate(document)
    except ValidationError as exc:
        raise Unprocessable(describe_validation(exc), code="validation_error") from None


@router.post("/images/classify", openapi_extra=CLASSIFY_DOC)
async def classify_image(
    request: Request,
    principal: PrincipalDep,
    tenant: TenantDep,
    services: ServicesDep,
    top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 3,
) -> ImageClassified:
    settings = services.settings
    vision = services.vision
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() == "application/json":
        document = _json_image(await request.body())
        image = vision.check_b64(document.image_b64)
        top_k = document.top_k or top_k
    else:
        upload = await receive_upload(
            request, max_bytes=settings.max_image_bytes, limit_name="max_image_bytes"
        )
        try:
            declared = upload.content_type.split(";", 1)[0].strip().lower()
            if not upload.untyped and declared not in CONTENT_TYPES:
                raise UnsupportedImage(
                    f"unsupported image type {declared!r}; send PNG, JPEG, WebP or GIF"
                )
            data = upload.file.read(settings.max_image_bytes + 1)
        finally:
            upload.close()
        image = vision.check(data)
    return await vision.classify(tenant_id=tenant.tenant_id, image=image, top_k=top_k)


@router.get(
    "/sessions/{session_id}/images/{name}",
    response_class=Response,
    responses={200: {"content": {m: {} for m in FORMATS.values()}, "description": "The image"}},
)
async def get_session_image(
    state: SessionDep,
    services: ServicesDep,
    name: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    if not _NAME_RE.match(name):
        raise NotFound(f"image {name!r} not found")
    data = services.vision.read_session_image(
        tenant_id=state.tenant_id, session_id=state.session_id, name=name
    )
    return Response(
        content=data,
        media_type=_MEDIA_TYPES[name.rsplit(".", 1)[1]],
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
            "Cache-Control": "private, max-age=3600",
        },
    )
