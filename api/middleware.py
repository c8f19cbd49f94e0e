"""The API's one ASGI middleware, outermost around the routes:

- `X-Request-Id` on every response (a valid incoming id is echoed, else a new one is made);
- CORS: a preflight `OPTIONS` is answered for any origin (the credential decides later); actual
  responses carry `Access-Control-Allow-Origin` only when the authenticated tenant allows the
  origin (the auth dependency records it in `request.state.cors_origin`);
- a body-size limit per route family (413 naming the limit; nothing reaches a route half-read);
- one structured JSON access log line per request;
- a last-resort 500 in the error format for anything that escaped the exception handlers.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from core.ids import new_ulid
from core.logging import log_context
from core.settings import Settings

access_logger = logging.getLogger("lambdesk.access")
logger = logging.getLogger("lambdesk.api")

MULTIPART_SLACK_BYTES = 64 * 1024
CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id, X-Callback-Url"
CORS_MAX_AGE = "600"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def body_limit(settings: Settings, path: str) -> tuple[int, str]:
    """The largest body a route accepts, and the setting it comes from."""
    uploads = (
        ("/v1/knowledge/documents", settings.max_document_bytes, "max_document_bytes"),
        ("/v1/intents", settings.max_document_bytes, "max_document_bytes"),
        ("/v1/voice", settings.max_audio_bytes, "max_audio_bytes"),
        ("/v1/images", settings.max_image_bytes, "max_image_bytes"),
    )
    for prefix, limit, name in uploads:
        if path.startswith(prefix):
            return limit + MULTIPART_SLACK_BYTES, name
    return settings.max_json_body_bytes, "max_json_body_bytes"


class _BodyTooLarge(Exception):
    pass


class ApiMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else new_ulid()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        log_context.set({"request_id": request_id})
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                out = MutableHeaders(scope=message)
                out["X-Request-Id"] = request_id
                origin = state.get("cors_origin")
                if origin:
                    out["Access-Control-Allow-Origin"] = origin
                    out["Access-Control-Expose-Headers"] = "X-Request-Id"
                    out.add_vary_header("Origin")
            await send(message)

        try:
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await self._preflight(headers, send_wrapper)
            elif scope["method"] in _BODY_METHODS:
                limit, name = body_limit(self.settings(), scope["path"])
                try:
                    replay = await self._read_body(headers, receive, limit)
                except _BodyTooLarge:
                    await self._send_json(
                        send_wrapper,
                        413,
                        error_body(
                            "payload_too_large",
                            f"request body exceeds {limit} bytes ({name})",
                        ),
                    )
                else:
                    await self.app(scope, replay, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not response_started:
                await self._send_json(
                    send_wrapper, 500, error_body("internal_error", "internal server error")
                )
        finally:
            access_logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "tenant": state.get("tenant_id"),
                    "session": state.get("session_id"),
                    "request_id": request_id,
                },
            )

    @staticmethod
    async def _read_body(headers: Headers, receive: Receive, limit: int) -> Receive:
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    @staticmethod
    async def _preflight(headers: Headers, send: Send) -> None:
        origin = headers.get("origin", "*")
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-allow-methods", CORS_METHODS.encode()),
                    (b"access-control-allow-headers", CORS_HEADERS.encode()),
                    (b"access-control-max-age", CORS_MAX_AGE.encode()),
                    (b"vary", b"Origin"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
