"""The FastAPI application: `create_app(container=None)`.

Without a container, one is built from the process settings at startup and closed at shutdown.
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
    handoffs,
    health,
    intents,
    jobs,
    knowledge,
    sessions,
    voice,
)
from core.bootstrap import Container, build_container, start_job_worker
from core.settings import Settings, get_settings

logger = logging.getLogger("lambdesk.api")


async def warm_up(container: Container) -> None:
    """Load the text models in the background (failures only logged: a cold tenant is fine)."""
    tenants = container.tenants.list_tenants()
    tenant_id = tenants[0].tenant_id if tenants else "warmup"
    calls = (
        ("intent", {"tenant_id": tenant_id, "text": "hello"}),
        ("retrieval", {"op": "search", "tenant_id": tenant_id, "query": "hello", "top_k": 1}),
    )
    for name, event in calls:
        try:
            await container.skills.invoke(name, event, timeout=container.settings.index_timeout_s)
        except Exception as exc:
            logger.info("warm-up of %s skipped: %s", name, exc)


def create_app(container: Container | None = None) -> FastAPI:
    """The API over `container` (or over one built from the settings at startup)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = getattr(app.state, "container", None) is None
        current: Container = app.state.container if not owned else build_container()
        app.state.container = current
        worker = await start_job_worker(current)
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
            if worker is not None:
                await worker.stop()
            if owned:
                current.close()
                app.state.container = None

    app = FastAPI(
        title="lambdesk",
        version="0.1.0",
        description="Multi-tenant AI customer-service chatbot API",
        lifespan=lifespan,
    )
    app.state.container = container

    def current_settings() -> Settings:
        held: Container | None = getattr(app.state, "container", None)
        return held.settings if held is not None else get_settings()

    install_error_handlers(app)
    app.add_middleware(ApiMiddleware, settings=current_settings)
    for module in (health, sessions, chat, voice, jobs, handoffs, knowledge, analytics, intents):
        app.include_router(module.router)
    return app
