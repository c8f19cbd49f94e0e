"""The FastAPI application: `create_app(services=None)`.

Without services, they are built (`core.bootstrap.build_services`) from the process settings at
startup and closed at shutdown; with them (tests, the Lambda entry) they are used as given. The
lifespan starts the background parts (the local job worker, callback delivery).
With `settings.warmup`, one background intent and retrieval call loads the text models before
the first customer arrives, and what the process holds then is frozen out of the collector's
scans (`warm_up`). Imports core only: never a model library (see
`tests/unit/test_import_light.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers, install_error_schema
from api.middleware import ApiMiddleware
from api.routes import (
    analytics,
    chat,
    feedback,
    handoffs,
    health,
    images,
    intents,
    jobs,
    knowledge,
    pages,
    sessions,
    videos,
    voice,
    widget,
)
from core.bootstrap import Services, build_services
from core.settings import Settings, get_settings

logger = logging.getLogger("lambdesk.api")


async def warm_up(services: Services) -> None:
    """Load the text models in the background (failures only logged: a cold tenant is fine),
    then freeze what the process holds by then (`gc.freeze`): modules, services and models live
    as long as the server, and a full collection rescanning them all took 40-120 ms of some
    unlucky request's time."""
    tenants = services.tenants.list_tenants()
    tenant_id = tenants[0].tenant_id if tenants else "warmup"
    calls = (
        ("intent", {"tenant_id": tenant_id, "text": "hello"}),
        ("retrieval", {"op": "search", "tenant_id": tenant_id, "query": "hello", "top_k": 1}),
    )
    for name, event in calls:
        try:
            await services.skills.invoke(name, event, timeout=services.settings.index_timeout_s)
        except Exception as exc:
            logger.info("warm-up of %s skipped: %s", name, exc)
    gc.freeze()


class KnownOrigins:
    """The browser origins some tenant allows (what a CORS preflight, which carries no
    credential, is checked against), re-read at most every `ttl_s` seconds."""

    def __init__(self, services: Callable[[], Services | None], ttl_s: float = 30.0) -> None:
        self.services = services
        self.ttl_s = ttl_s
        self._origins: frozenset[str] = frozenset()
        self._read_at = float("-inf")

    def allowed(self, origin: str) -> bool:
        now = time.monotonic()
        if now - self._read_at > self.ttl_s:
            services = self.services()
            if services is not None:
                self._origins = frozenset(
                    o.rstrip("/")
                    for t in services.tenants.list_tenants()
                    for o in t.allowed_origins
                )
                self._read_at = now
        return "*" in self._origins or origin.rstrip("/") in self._origins


def create_app(services: Services | None = None) -> FastAPI:
    """The API over `services` (or over ones built from the settings at startup)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = getattr(app.state, "services", None) is None
        current: Services = app.state.services if not owned else build_services()
        app.state.services = current
        await current.start()
        task: asyncio.Task[None] | None = None
        if current.settings.warmup:
            task = asyncio.create_task(warm_up(current))
        try:
            yield
        finally:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await current.stop()
            if owned:
                current.close()
                app.state.services = None

    app = FastAPI(
        title="lambdesk",
        version="0.1.0",
        description="Multi-tenant AI customer-service chatbot API",
        lifespan=lifespan,
    )
    app.state.services = services

    def current_settings() -> Settings:
        held: Services | None = getattr(app.state, "services", None)
        return held.settings if held is not None else get_settings()

    origins = KnownOrigins(lambda: getattr(app.state, "services", None))
    install_error_handlers(app)
    app.add_middleware(ApiMiddleware, settings=current_settings, preflight_allowed=origins.allowed)
    for module in (
        health,
        sessions,
        chat,
        voice,
        images,
        videos,
        jobs,
        handoffs,
        knowledge,
        analytics,
        feedback,
        intents,
        pages,
        widget,
    ):
        app.include_router(module.router)
    install_error_schema(app)
    return app
