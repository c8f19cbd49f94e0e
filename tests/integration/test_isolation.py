"""Tenant isolation: every route that names a session, document or job answers another tenant's
admin key, widget key and session token with 404, exactly as for a missing id, and changes
nothing. The routes are walked from the app's route table, so a new route cannot be forgotten."""

from __future__ import annotations

import base64
import re
from typing import Any

from core.models import Job, JobStatus
from tests.integration.conftest import LiveApi
from tests.vision_fixtures import encode, solid

PNG = encode(solid((220, 30, 30), width=8, height=8), "PNG")

_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def _fill(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group(1)], path)


def _acme_resources(api: LiveApi) -> dict[str, str]:
    session = api.open_session(api.acme)
    reply = api.client.post(
        "/v1/chat", headers=api.token_headers(session), json={"text": "refund please"}
    )
    assert reply.status_code == 200, reply.text
    pictured = api.client.post(  # an image attached to a message (no model: vision degrades)
        "/v1/chat",
        headers=api.token_headers(session),
        json={"text": "see my card", "image_b64": base64.b64encode(PNG).decode()},
    )
    assert pictured.status_code == 200, pictured.text
    doc = api.client.post(
        "/v1/knowledge/documents?filename=returns.md",
        headers={**api.acme.admin, "Content-Type": "text/markdown"},
        content=b"# Returns\n\nParcels can be returned within thirty days of delivery.\n",
    )
    assert doc.status_code == 201, doc.text
    job = api.services.jobs.create_job(  # finished, so no worker picks it up
        Job(job_id="j_acme1", tenant_id="acme", kind="voice", status=JobStatus.SUCCEEDED)
    )
    return {
        "session_id": session["session_id"],
        "message_id": reply.json()["message_id"],
        "doc_id": doc.json()["doc_id"],
        "job_id": job.job_id,
        "name": pictured.json()["image"]["name"],
    }


def _missing() -> dict[str, str]:
    return {
        "session_id": "s_missing0000",
        "message_id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ",
        "doc_id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ",
        "job_id": "j_no",
        "name": "01ZZZZZZZZZZZZZZZZZZZZZZZZ.png",
    }


def test_another_tenants_credentials_get_404_on_every_id_route(live_api: LiveApi) -> None:
    api = live_api
    owned = _acme_resources(api)
    before = (
        api.messages(api.acme, owned["session_id"]),
        api.client.get("/v1/knowledge/documents", headers=api.acme.admin).json(),
    )
    globex_session = api.open_session(api.globex)
    credentials: dict[str, dict[str, str]] = {
        "admin key": api.globex.admin,
        "widget key": api.globex.widget(),
        "session token": {**api.token_headers(globex_session), "Origin": api.globex.origin},
    }
    body: dict[str, Any] = {"text": "hello", "reason": "test", "agent": "x", "rating": "down"}

    # The route table as the app publishes it (FastAPI includes routers lazily; the OpenAPI
    # document is the public, complete list of paths and methods).
    routes = [
        (path, method.upper())
        for path, operations in api.app.openapi()["paths"].items()
        if _PARAM.search(path)
        for method in operations
    ]
    assert len(routes) >= 5, routes
    checked = 0
    for path, method in routes:
        unknown = [n for n in _PARAM.findall(path) if n not in owned]
        assert not unknown, f"{path}: add {unknown} to the isolation test's resources"
        for label, headers in credentials.items():
            for values, what in ((owned, "acme's"), (_missing(), "a missing")):
                response = api.client.request(
                    method,
                    _fill(path, values),
                    headers=headers,
                    json=body if method in ("POST", "PUT", "PATCH") else None,
                )
                assert response.status_code == 404, (
                    f"{method} {path} with globex's {label} on {what} id: "
                    f"{response.status_code} {response.text}"
                )
                assert response.json()["error"]["code"] == "not_found"
                checked += 1
    assert checked >= 5 * 3 * 2
    after = (
        api.messages(api.acme, owned["session_id"]),
        api.client.get("/v1/knowledge/documents", headers=api.acme.admin).json(),
    )
    assert after == before


def test_a_session_token_reaches_only_its_own_session(live_api: LiveApi) -> None:
    api = live_api
    mine, other = api.open_session(api.acme), api.open_session(api.acme)
    headers = api.token_headers(mine)
    assert api.client.get(f"/v1/sessions/{mine['session_id']}/messages", headers=headers).is_success
    for path in (f"/v1/sessions/{other['session_id']}/messages",):
        assert api.client.get(path, headers=headers).status_code == 404
    response = api.client.post(
        "/v1/chat", headers=headers, json={"session_id": other["session_id"], "text": "hi"}
    )
    assert response.status_code == 404
    assert api.messages(api.acme, other["session_id"]) == []


def test_lists_show_only_the_callers_tenant(live_api: LiveApi) -> None:
    api = live_api
    _acme_resources(api)
    api.client.post(
        "/v1/chat", headers=api.acme.admin, json={"text": "I want a human"}
    ).raise_for_status()
    assert api.client.get("/v1/handoffs", headers=api.acme.admin).json()["items"]
    assert api.client.get("/v1/handoffs", headers=api.globex.admin).json()["items"] == []
    docs = api.client.get("/v1/knowledge/documents", headers=api.globex.admin).json()
    assert docs["items"] == []
    summary = api.client.get("/v1/analytics/summary", headers=api.globex.admin).json()
    assert summary["turns"] == 0 and summary["sessions"] == 0
