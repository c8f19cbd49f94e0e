"""The web front ends, served from the packaged `widget/` folder (no build step):

- `GET /` — the local demo page, with the demo tenant's widget (its key is read at request
  time from `<data dir>/demo-keys.json`, written by `lambdesk demo`); without a demo tenant, a
  page that says how to create one;
- `GET /widget.js` — the embeddable widget (`<script src=".../widget.js" data-key="ldk_pub_…">`);
- `GET /agent` and `GET /admin` — the agent console and the analytics page;
- `GET /static/<path>` — their scripts, styles and the vendored libraries.

HTML pages carry a strict Content-Security-Policy (scripts, styles and requests from this
origin only, no inline script); scripts and styles are cached briefly and revalidated by ETag.
"""

from __future__ import annotations

import hashlib
import html
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from api.deps import ServicesDep
from core.auth import hash_key
from core.errors import NotFound
from widget import ROOT as WIDGET_ROOT

router = APIRouter(include_in_schema=False)

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
STATIC_SUFFIXES = {".js", ".css", ".png", ".svg", ".txt", ".md"}
STATIC_DIRS = ("pages", "vendor")
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
WIDGET_MAX_AGE = 300  # unversioned URL: embedders pick up a new widget within minutes
STATIC_MAX_AGE = 3600
DEMO_KEYS_FILE = "demo-keys.json"


@lru_cache(maxsize=64)
def _load(path: Path, mtime_ns: int) -> tuple[bytes, str]:
    data = path.read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _file(relative: str) -> tuple[bytes, str, str]:
    """(bytes, ETag, content type) of a file inside the widget folder; NotFound otherwise."""
    root = WIDGET_ROOT
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("not found")
    data, etag = _load(path, path.stat().st_mtime_ns)
    return data, etag, CONTENT_TYPES.get(path.suffix, "application/octet-stream")


def _asset(request: Request, relative: str, max_age: int) -> Response:
    data, etag, content_type = _file(relative)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content=data, media_type=content_type, headers=headers)


def _page(name: str, values: dict[str, str] | None = None) -> Response:
    data, _, _ = _file(f"pages/{name}")
    text = data.decode()
    for key, value in (values or {}).items():
        text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
    return Response(content=text, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def demo_widget_key(services: ServicesDep) -> str | None:
    """The demo tenant's widget key, if `lambdesk demo` made one here and it still works."""
    if services.settings.backend != "local":
        return None
    path = services.settings.resolved_data_dir / DEMO_KEYS_FILE
    try:
        keys = json.loads(path.read_text())
        tenant_id, widget_key = str(keys["tenant_id"]), str(keys["widget_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if services.tenants.find_tenant(tenant_id=tenant_id) is None:
        return None
    stored = services.tenants.get_key(key_hash=hash_key(widget_key))
    return widget_key if stored is not None and stored.tenant_id == tenant_id else None


@router.api_route("/", methods=["GET", "HEAD"])
async def demo_page(services: ServicesDep) -> Response:
    key = demo_widget_key(services)
    if key is None:
        return _page("no-demo.html")
    return _page("demo.html", {"WIDGET_KEY": key})


@router.api_route("/agent", methods=["GET", "HEAD"])
async def agent_page() -> Response:
    return _page("agent.html")


@router.api_route("/admin", methods=["GET", "HEAD"])
async def admin_page() -> Response:
    return _page("admin.html")


@router.api_route("/widget.js", methods=["GET", "HEAD"])
async def widget_script(request: Request) -> Response:
    return _asset(request, "widget.js", WIDGET_MAX_AGE)


@router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
async def static_file(
    request: Request, path: Annotated[str, PathParam(max_length=200)]
) -> Response:
    parts = path.split("/")
    if (
        len(parts) != 2
        or parts[0] not in STATIC_DIRS
        or Path(parts[1]).suffix not in STATIC_SUFFIXES
        or parts[1].startswith(".")
    ):
        raise NotFound("not found")
    return _asset(request, path, STATIC_MAX_AGE)
