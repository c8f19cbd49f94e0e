"""Bad requests get the right status and error code, and store nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.conftest import LiveApi


def stored(api: LiveApi) -> tuple[int, int, int]:
    """(sessions, messages, knowledge blobs) of both tenants."""
    sessions = messages = blobs = 0
    for tenant in ("acme", "globex"):
        states = api.services.history.list_sessions(tenant_id=tenant, limit=500).items
        sessions += len(states)
        for state in states:
            messages += len(api.messages(api.acme, state.session_id))
        blobs += len(api.services.blobs.list(tenant_id=tenant, prefix="knowledge/"))
    return sessions, messages, blobs


Case = Callable[[LiveApi, dict[str, Any]], httpx.Response]


def _chat(text: str, headers: Callable[[LiveApi, dict[str, Any]], dict[str, str]]) -> Case:
    def run(api: LiveApi, session: dict[str, Any]) -> httpx.Response:
        return api.client.post(
            "/v1/chat",
            headers=headers(api, session),
            json={"session_id": session["session_id"], "text": text},
        )

    return run


def _token(api: LiveApi, session: dict[str, Any]) -> dict[str, str]:
    return api.token_headers(session)


CASES: dict[str, tuple[Case, int, str]] = {
    "missing key": (_chat("hi", lambda api, s: {}), 401, "missing_credentials"),
    "unknown key": (
        _chat("hi", lambda api, s: {"Authorization": "Bearer ldk_admin_nope"}),
        401,
        "invalid_key",
    ),
    "not bearer": (
        _chat("hi", lambda api, s: {"Authorization": f"Basic {api.acme.admin_key}"}),
        401,
        "bad_scheme",
    ),
    "forged token": (
        _chat("hi", lambda api, s: {"Authorization": "Bearer " + s["session_token"][:-3] + "abc"}),
        401,
        "invalid_token",
    ),
    "widget key from a disallowed origin": (
        lambda api, s: api.client.post(
            "/v1/sessions", headers=api.acme.widget("https://evil.example"), json={}
        ),
        403,
        "origin_not_allowed",
    ),
    "widget key without an origin": (
        lambda api, s: api.client.post(
            "/v1/sessions", headers={"Authorization": f"Bearer {api.acme.widget_key}"}, json={}
        ),
        403,
        "origin_not_allowed",
    ),
    "session token from a disallowed origin": (
        _chat("hi", lambda api, s: {**_token(api, s), "Origin": "https://evil.example"}),
        403,
        "origin_not_allowed",
    ),
    "widget key chatting": (
        _chat("hi", lambda api, s: api.acme.widget()),
        403,
        "widget_key_not_allowed",
    ),
    "empty text": (_chat("", _token), 422, "validation_error"),  # the schema says minLength 1
    "whitespace text": (_chat("  \n\t ", _token), 422, "empty_text"),
    "missing text": (
        lambda api, s: api.client.post("/v1/chat", headers=_token(api, s), json={}),
        422,
        "validation_error",
    ),
    "text over 2,000 chars": (_chat("a" * 2001, _token), 413, "text_too_long"),
    "malformed JSON": (
        lambda api, s: api.client.post(
            "/v1/chat",
            headers={**_token(api, s), "Content-Type": "application/json"},
            content=b'{"text": "hi",',
        ),
        400,
        "invalid_json",
    ),
    "unknown session": (
        lambda api, s: api.client.post(
            "/v1/chat", headers=api.acme.admin, json={"session_id": "s_missing", "text": "hi"}
        ),
        404,
        "not_found",
    ),
    "another session with a token": (
        lambda api, s: api.client.post(
            "/v1/chat", headers=_token(api, s), json={"session_id": "s_other", "text": "hi"}
        ),
        404,
        "not_found",
    ),
    "unsupported document type": (
        lambda api, s: api.client.post(
            "/v1/knowledge/documents?filename=x.png",
            headers={**api.acme.admin, "Content-Type": "image/png"},
            content=b"\x89PNG\r\n\x1a\n binary",
        ),
        415,
        "unsupported_media_type",
    ),
    "broken PDF": (
        lambda api, s: api.client.post(
            "/v1/knowledge/documents?filename=x.pdf",
            headers={**api.acme.admin, "Content-Type": "application/pdf"},
            content=b"%PDF-1.4 binary",
        ),
        422,
        "invalid_pdf",
    ),
    "JSON body over the limit": (
        lambda api, s: api.client.post(
            "/v1/chat",
            headers=_token(api, s),
            json={"text": "hi", "metadata": {"pad": "x" * (65 * 1024)}},
        ),
        413,
        "payload_too_large",
    ),
    "document over the limit": (  # 10 MiB default + slack
        lambda api, s: api.client.post(
            "/v1/knowledge/documents?filename=big.txt",
            headers={**api.acme.admin, "Content-Type": "text/plain"},
            content=b"word " * (2 * 1024 * 1024 + 20_000),
        ),
        413,
        "payload_too_large",
    ),
    "unknown route": (lambda api, s: api.client.get("/v1/nope"), 404, "not_found"),
    "wrong method": (lambda api, s: api.client.put("/v1/chat"), 405, "method_not_allowed"),
    "admin route with a token": (
        lambda api, s: api.client.get("/v1/analytics/summary", headers=_token(api, s)),
        403,
        "admin_required",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_and_nothing_is_stored(live_api: LiveApi, name: str) -> None:
    case, status, code = CASES[name]
    session = live_api.open_session(live_api.acme)
    before = stored(live_api)
    response = case(live_api, session)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert response.headers["x-request-id"]
    assert stored(live_api) == before


def test_limit_is_named_in_the_413(live_api: LiveApi) -> None:
    response = live_api.client.post(
        "/v1/chat", headers=live_api.acme.admin, json={"text": "x", "pad": "y" * 70_000}
    )
    assert response.status_code == 413
    assert "max_json_body_bytes" in response.json()["error"]["message"]


def test_revoked_key_is_refused(live_api: LiveApi) -> None:
    from core.auth import hash_key

    live_api.services.tenants.revoke_key(
        tenant_id="acme", key_hash=hash_key(live_api.acme.admin_key)
    )
    response = live_api.client.get("/v1/handoffs", headers=live_api.acme.admin)
    assert response.status_code == 401
