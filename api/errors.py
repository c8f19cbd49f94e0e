"""Every error the API returns is `{"error": {"code", "message"}}` with the right status.

Domain errors (`core.errors.LambdeskError`) carry their own status and code; FastAPI's validation
errors become 422 (malformed JSON: 400 `invalid_json`); Starlette's 404/405 keep their status;
anything unexpected is logged and becomes a 500 without internals in the body. Messages that
echo the request (`session '...' not found`) have personal data masked, like the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import LambdeskError
from core.redaction import redact

logger = logging.getLogger("lambdesk.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Malformed request (invalid JSON, too deep, not valid Unicode, bad parameter)",
    401: "Missing, unknown, revoked or expired credential",
    403: "The credential may not do this (role, or a browser origin the tenant does not allow)",
    404: "Not found, or not visible to this credential (the two look the same)",
    409: "Conflict (busy session, Idempotency-Key in use or reused, job not ready)",
    413: "Over a limit (body, text, metadata, audio size or length); the message names it",
    415: "Unsupported media type",
    422: "Well-formed but unprocessable (validation, empty text, undecodable file)",
    429: "Rate limited; see Retry-After",
    503: "Starting up, or a skill the request needs is unavailable",
}


_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a router or route gives (the body: `ErrorBody`).

    The body's schema is a reference, not a `model`: FastAPI builds a pydantic field for each
    route and status given a model (about 200 here, the largest part of building the app in a
    cold start), while a reference costs nothing. `install_error_schema` puts `ErrorBody` into
    the document's components."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
        }
        for status in statuses
    }


def install_error_schema(app: FastAPI) -> None:
    """Add `ErrorBody` (and what it references) to the app's OpenAPI components, built once
    when the document is first asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas["ErrorBody"] = body
        return document

    app.openapi = openapi  # type: ignore[method-assign]


# What any authenticated /v1 route may answer besides its success.
API_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503)


def error_body(code: str, message: str) -> dict[str, Any]:
    """The error document; personal data a message echoes from the request is masked."""
    return {"error": {"code": code, "message": redact(message)}}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=dict(headers or {}))


async def _lambdesk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LambdeskError)
    if exc.status >= 500:
        logger.warning("request failed: %s %s", exc.code, exc.message)
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None or exc.status == 429:
        headers["Retry-After"] = str(retry_after or 60)
    return error_response(exc.status, exc.code, exc.message, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    if exc.status_code == 429 and not (exc.headers or {}).get("Retry-After"):
        exc.headers = {**(exc.headers or {}), "Retry-After": "60"}
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route for {request.method} {request.url.path}"
    return error_response(exc.status_code, code, message, headers=exc.headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    parts = [f"{_location(err.get('loc', ()))}: {err.get('msg', 'invalid')}" for err in errors[:5]]
    return error_response(422, "validation_error", "; ".join(parts) or "invalid request")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LambdeskError, _lambdesk_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
