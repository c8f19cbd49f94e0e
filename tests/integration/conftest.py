"""The API served for real: uvicorn in a background thread on 127.0.0.1 (a free port), over a
temporary data dir with the real local stores (SQLite, files, JSON-lines log, in-process skill
invoker). The intent and retrieval skills are the fast fakes of `tests/fakes.py`, registered in
the invoker's registry. Two tenants (`acme`, `globex`) with their keys are ready.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from core.auth import create_tenant_with_keys
from core.bootstrap import LOCAL_FUNCTION_MODULES, Services, build_blob_store, build_services
from core.models import Tenant
from core.ports import SkillContext
from core.settings import Settings
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
from tests.fakes import fake_registry

ACME_ORIGIN = "https://shop.acme.example"
GLOBEX_ORIGIN = "https://globex.example"
ACME_RESPONSES = {
    "refund_policy": "You can ask for a refund within 30 days of purchase.",
    "opening_hours": "We are open Monday to Friday, 9am to 5pm.",
}


@dataclass
class TenantKeys:
    tenant_id: str
    admin_key: str
    widget_key: str
    origin: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def widget(self, origin: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.widget_key}", "Origin": origin or self.origin}


@dataclass
class LiveApi:
    base_url: str
    services: Services
    client: httpx.Client
    acme: TenantKeys
    globex: TenantKeys
    app: FastAPI

    def open_session(self, tenant: TenantKeys) -> dict[str, Any]:
        """A session opened the way the widget does; returns the JSON reply."""
        response = self.client.post("/v1/sessions", headers=tenant.widget(), json={})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    @staticmethod
    def token_headers(session: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {session['session_token']}"}

    def messages(self, tenant: TenantKeys, session_id: str) -> list[dict[str, Any]]:
        """Every stored message of a session, read straight from the store (oldest first)."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self.services.history.list_messages(
                tenant_id=tenant.tenant_id, session_id=session_id, limit=500, cursor=cursor
            )
            out.extend(m.model_dump(mode="json") for m in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return out


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a background thread cannot take signals
        pass


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    blobs = build_blob_store(settings)
    invoker = InProcessSkillInvoker(
        SkillContext(blobs=blobs, settings=settings),
        workers=4,
        registry=fake_registry(),
        modules=LOCAL_FUNCTION_MODULES,
    )
    built = build_services(settings, skills=invoker)
    yield built
    built.close()


def _tenant(services: Services, tenant: Tenant, origin: str) -> TenantKeys:
    created, admin, widget = create_tenant_with_keys(tenants=services.tenants, tenant=tenant)
    return TenantKeys(created.tenant_id, admin, widget, origin)


@pytest.fixture
def live_api(services: Services) -> Iterator[LiveApi]:
    acme = _tenant(
        services,
        Tenant(
            tenant_id="acme",
            name="Acme",
            allowed_origins=[ACME_ORIGIN],
            responses=dict(ACME_RESPONSES),
        ),
        ACME_ORIGIN,
    )
    globex = _tenant(
        services,
        Tenant(tenant_id="globex", name="Globex", allowed_origins=[GLOBEX_ORIGIN]),
        GLOBEX_ORIGIN,
    )
    app = create_app(services)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    base_url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield LiveApi(base_url, services, client, acme, globex, app)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
