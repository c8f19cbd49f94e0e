"""The FastAPI application: `create_app(services=None)`.

Without services, they are built (`core.bootstrap.build_services`) from the process settings at
startup and closed at shutdown; with them (tests, the Lambda entry) they are used as given. The
lifespan starts the background parts (the local job worker, callback delivery).
With `settings.warmup`, one background intent and retrieval call loads the text models before
the first customer arrives. Imports core only: never a model library (see
`tests/unit/test_import_light.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.middleware import ApiMiddleware
from api.routes import (
    analytics,
    chat,
    feedback,
    handoffs,
    health,
    jobs,
    knowledge,
    pages,
    sessions,
    voice,
)
from core.bootstrap import Services, build_services
from core.settings import Settings, get_settings

logger = logging.getLogger("lambdesk.api")


async def warm_up(services: Services) -> None:
    """Load the text models in the background (failures only logged: a cold tenant is fine)."""
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

    install_error_handlers(app)
    app.add_middleware(ApiMiddleware, settings=current_settings)
    for module in (
        health,
        sessions,
        chat,
        voice,
        jobs,
        handoffs,
        knowledge,
        analytics,
        feedback,
        pages,
    ):
        app.include_router(module.router)
    return app
