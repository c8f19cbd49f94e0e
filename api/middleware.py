"""The API's one ASGI middleware, outermost around the routes:

- `X-Request-Id` on every response (a valid incoming id is echoed, else a new one is made);
- CORS: a preflight `OPTIONS` is answered only for an origin some tenant allows (a preflight
  carries no credential, so the union of every tenant's allowed origins decides; the credential
  decides the actual request); actual responses carry `Access-Control-Allow-Origin` only when the
  authenticated tenant allows the origin (the auth dependency records it in
  `request.state.cors_origin`);
- body limits per route family, enforced while the body streams in: uploads (voice, documents,
  images) are never held here, the route spools them; a declared or counted size over the limit
  is 413 naming the limit, and nothing is stored;
- JSON bodies (small: `max_json_body_bytes`, plus an image's base64 in `image_b64` where a route
  takes one, held to its own limit by the route) are checked before any route sees them: nesting
  deeper than `max_json_depth` and strings that are not valid Unicode (lone surrogates) are 400,
  so no store, log or encoder downstream meets them;
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
from core.errors import PayloadTooLarge
from core.ids import new_ulid
from core.logging import log_context
from core.settings import Settings

access_logger = logging.getLogger("lambdesk.access")
logger = logging.getLogger("lambdesk.api")

MULTIPART_SLACK_BYTES = 64 * 1024
CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
CORS_MAX_AGE = "600"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_UPLOADS = ("/v1/knowledge/documents", "/v1/intents", "/v1/voice", "/v1/images", "/v1/videos")
# JSON routes whose body may carry an image as base64 (`image_b64`)
IMAGE_JSON_ROUTES = frozenset({"/v1/chat"})


def base64_size(size: int) -> int:
    """Characters of `size` bytes in base64."""
    return 4 * ((size + 2) // 3)


def body_limit(settings: Settings, path: str) -> tuple[int, str]:
    """The largest body a route accepts, and the setting it comes from. An image may come as
    base64 in JSON (classify, a chat message): those routes allow its base64 size, and the
    decoded bytes are held to `max_image_bytes` where they are read."""
    image_b64 = base64_size(settings.max_image_bytes)
    uploads = (
        ("/v1/knowledge/documents", settings.max_document_bytes, "max_document_bytes"),
        ("/v1/intents", settings.max_document_bytes, "max_document_bytes"),
        ("/v1/voice", settings.max_audio_bytes, "max_audio_bytes"),
        ("/v1/images", image_b64, "max_image_bytes"),
        ("/v1/videos", settings.max_video_bytes, "max_video_bytes"),
    )
    for prefix, limit, name in uploads:
        if path.startswith(prefix):
            return limit + MULTIPART_SLACK_BYTES, name
    if path in IMAGE_JSON_ROUTES:
        return settings.max_json_body_bytes + image_b64, "max_json_body_bytes"
    return settings.max_json_body_bytes, "max_json_body_bytes"


def without_image(body: bytes) -> int:
    """The size of a JSON body less its `image_b64` string (what `max_json_body_bytes` holds
    a chat message with an image to; the image has its own limit)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return len(body)
    image = document.get("image_b64") if isinstance(document, dict) else None
    return len(body) - len(image) if isinstance(image, str) else len(body)


def is_upload(path: str) -> bool:
    return path.startswith(_UPLOADS)


class BodyTooLarge(PayloadTooLarge):
    """The request body passed its limit while it streamed in."""


def json_problem(body: bytes, *, max_depth: int) -> str | None:
    """Why a JSON body may not go further (too deep, not valid Unicode), or None. Malformed
    JSON is left to the route's own parsing (400 `invalid_json`)."""
    try:
        document = json.loads(body)
    except RecursionError:
        return f"JSON nested deeper than {max_depth} levels"
    except ValueError:
        return None
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                return f"JSON nested deeper than {max_depth} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not _valid_unicode(key):
                    return "the body holds text that is not valid Unicode"
                stack.append((item, depth + 1))
        elif isinstance(value, str) and not _valid_unicode(value):
            return "the body holds text that is not valid Unicode"
    return None


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ApiMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Callable[[], Settings],
        preflight_allowed: Callable[[str], bool] = lambda origin: False,
    ) -> None:
        self.app = app
        self.settings = settings
        self.preflight_allowed = preflight_allowed

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
                    out["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After"
                    out.add_vary_header("Origin")
            await send(message)

        try:
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await self._preflight(headers, send_wrapper)
            elif scope["method"] in _BODY_METHODS:
                await self._with_body(scope, headers, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        except BodyTooLarge as exc:
            if not response_started:
                await self._send_json(send_wrapper, 413, error_body(exc.code, exc.message))
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

    async def _with_body(
        self, scope: Scope, headers: Headers, receive: Receive, send: Send
    ) -> None:
        settings = self.settings()
        limit, name = body_limit(settings, scope["path"])
        too_large = BodyTooLarge(f"request body exceeds {limit} bytes ({name})")
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise too_large
        if is_upload(scope["path"]):  # streamed to the route, counted on the way
            await self.app(scope, _counting(receive, limit, too_large), send)
            return
        body = await _read_all(receive, limit, too_large)
        json_limit = settings.max_json_body_bytes
        if len(body) > json_limit and without_image(body) > json_limit:
            raise BodyTooLarge(f"request body exceeds {json_limit} bytes (max_json_body_bytes)")
        if "json" in headers.get("content-type", "").lower() and body:
            problem = json_problem(body, max_depth=settings.max_json_depth)
            if problem is not None:
                code = "json_too_deep" if "deeper" in problem else "invalid_unicode"
                await self._send_json(send, 400, error_body(code, problem))
                return
        await self.app(scope, _replay(body, receive), send)

    async def _preflight(self, headers: Headers, send: Send) -> None:
        origin = headers.get("origin", "")
        if not origin or not self.preflight_allowed(origin):
            await self._send_json(
                send, 403, error_body("origin_not_allowed", "this origin may not call the API")
            )
            return
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


def _counting(receive: Receive, limit: int, too_large: BodyTooLarge) -> Receive:
    """`receive`, raising `too_large` as soon as more than `limit` bytes came in."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise too_large
        return message

    return counted


async def _read_all(receive: Receive, limit: int, too_large: BodyTooLarge) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
