"""The API the web pages use, over HTTP: ratings on bot replies, verified user ids on sessions,
the analytics window, the pages and scripts the server hands out, and the CLI command that
prints a tenant's identity secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.bootstrap import build_services
from core.identity import identity_secret, sign_user_id, verified_user_id
from core.settings import Settings
from tests.integration.conftest import LiveApi

ROOT = Path(__file__).resolve().parents[2]


def _chat(api: LiveApi, session: dict[str, Any], text: str) -> dict[str, Any]:
    response = api.client.post("/v1/chat", headers=api.token_headers(session), json={"text": text})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _feedback_path(session_id: str, message_id: str) -> str:
    return f"/v1/sessions/{session_id}/messages/{message_id}/feedback"


def _summary(api: LiveApi, **params: str) -> dict[str, Any]:
    response = api.client.get("/v1/analytics/summary", headers=api.acme.admin, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --------------------------------------------------------------------------- feedback


def test_a_rating_is_stored_once_per_reply_and_counted(live_api: LiveApi) -> None:
    api = live_api
    session = api.open_session(api.acme)
    reply = _chat(api, session, "refund please")
    path = _feedback_path(session["session_id"], reply["message_id"])

    first = api.client.post(path, headers=api.token_headers(session), json={"rating": "up"})
    again = api.client.post(path, headers=api.token_headers(session), json={"rating": "up"})
    changed = api.client.post(
        path, headers=api.acme.admin, json={"rating": "down", "comment": "not what I asked"}
    )

    assert first.status_code == again.status_code == changed.status_code == 200
    assert changed.json() == {
        "session_id": session["session_id"],
        "message_id": reply["message_id"],
        "rating": "down",
        "comment": "not what I asked",
    }
    assert _summary(api)["feedback"] == {"up": 0, "down": 1}
    stored = api.services.history.get_feedback(
        tenant_id="acme", session_id=session["session_id"], message_id=reply["message_id"]
    )
    assert stored is not None and stored.comment == "not what I asked"


def test_only_bot_replies_of_the_callers_own_session_can_be_rated(live_api: LiveApi) -> None:
    api = live_api
    mine, other = api.open_session(api.acme), api.open_session(api.acme)
    reply = _chat(api, mine, "refund please")
    user_message = api.messages(api.acme, mine["session_id"])[0]
    assert user_message["role"] == "user"
    globex = api.open_session(api.globex)
    path = _feedback_path(mine["session_id"], reply["message_id"])
    cases = {
        "a customer's own message": (
            _feedback_path(mine["session_id"], user_message["message_id"]),
            api.token_headers(mine),
            422,
        ),
        "another session's token": (path, api.token_headers(other), 404),
        "another tenant's admin key": (path, api.globex.admin, 404),
        "another tenant's session token": (path, api.token_headers(globex), 404),
        "a widget key": (path, api.acme.widget(), 404),
        "no credentials": (path, {}, 401),
    }
    for name, (target, headers, status) in cases.items():
        response = api.client.post(target, headers=headers, json={"rating": "down"})
        assert response.status_code == status, f"{name}: {response.text}"
    bad_bodies = [{"rating": "meh"}, {}, {"rating": "up", "comment": "x" * 1001}]
    for body in bad_bodies:
        response = api.client.post(path, headers=api.token_headers(mine), json=body)
        assert response.status_code == 422, body
    assert _summary(api)["feedback"] == {"up": 0, "down": 0}
    assert (
        api.services.history.get_feedback(
            tenant_id="acme", session_id=mine["session_id"], message_id=reply["message_id"]
        )
        is None
    )


# --------------------------------------------------------------------------- identity


def test_a_session_keeps_a_user_id_only_when_its_signature_is_valid(live_api: LiveApi) -> None:
    api = live_api
    secret = identity_secret(token_secret=api.services.token_secret, tenant_id="acme")
    good = sign_user_id(secret=secret, user_id="cust-42")
    globex_secret = identity_secret(token_secret=api.services.token_secret, tenant_id="globex")
    cases = [
        ({"user_id": "cust-42", "user_signature": good}, "cust-42"),
        ({"user_id": "cust-42"}, None),
        ({"user_id": "cust-43", "user_signature": good}, None),
        (
            {
                "user_id": "cust-42",
                "user_signature": sign_user_id(secret=globex_secret, user_id="cust-42"),
            },
            None,
        ),
    ]
    for body, expected in cases:
        response = api.client.post("/v1/sessions", headers=api.acme.widget(), json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["user_verified"] is (expected is not None)
        state = api.services.history.get_state(tenant_id="acme", session_id=created["session_id"])
        assert state is not None and state.slots.get("user_id") == expected
    too_long = {"user_id": "x" * 257, "user_signature": good}
    response = api.client.post("/v1/sessions", headers=api.acme.widget(), json=too_long)
    assert response.status_code == 422


def test_the_cli_prints_the_identity_secret_the_server_verifies_with(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LAMBDESK_DATA_DIR": str(tmp_path / "data"),
        "LAMBDESK_LOG_STDOUT": "false",
    }

    def lambdesk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert lambdesk("tenants", "create", "acme").returncode == 0
    printed = lambdesk("tenants", "identity-secret", "acme")
    assert printed.returncode == 0, printed.stderr
    secret = printed.stdout.strip()
    assert len(secret) == 64 and int(secret, 16) >= 0
    missing = lambdesk("tenants", "identity-secret", "nobody")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr

    services = build_services(Settings(data_dir=tmp_path / "data", log_stdout=False))
    try:
        signature = sign_user_id(secret=secret, user_id="cust-42")
        found = verified_user_id(
            token_secret=services.token_secret,
            tenant_id="acme",
            user_id="cust-42",
            signature=signature,
        )
    finally:
        services.close()
    assert found == "cust-42"


# --------------------------------------------------------------------------- analytics window


def test_the_summary_covers_the_asked_days(live_api: LiveApi) -> None:
    api = live_api
    session = api.open_session(api.acme)
    _chat(api, session, "refund please")
    today = api.services.history.get_state(tenant_id="acme", session_id=session["session_id"])
    assert today is not None
    day = today.last_activity.date()

    window = _summary(api, **{"from": day.replace(day=1).isoformat(), "to": day.isoformat()})
    assert window["days"][-1] == {
        "day": day.isoformat(),
        "turns": 1,
        "sessions": 1,
        "fallbacks": 0,
        "handoffs": 0,
        "feedback_up": 0,
        "feedback_down": 0,
    }
    assert len(window["days"]) == day.day
    before = _summary(api, **{"from": "2020-01-01", "to": "2020-01-31"})
    assert before["turns"] == 0 and len(before["days"]) == 31
    for params in (
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "yesterday"},
    ):
        response = api.client.get("/v1/analytics/summary", headers=api.acme.admin, params=params)
        assert response.status_code == 422, params


# --------------------------------------------------------------------------- pages


def test_the_demo_page_shows_the_demo_widget_or_says_how_to_make_one(live_api: LiveApi) -> None:
    api = live_api
    empty = api.client.get("/")
    assert empty.status_code == 200 and "lambdesk demo" in empty.text
    assert "widget.js" not in empty.text

    keys = api.services.settings.resolved_data_dir / "demo-keys.json"
    keys.write_text(json.dumps({"tenant_id": "acme", "widget_key": api.acme.widget_key}))
    page = api.client.get("/")
    assert f'data-key="{api.acme.widget_key}"' in page.text
    assert '<script src="/widget.js"' in page.text

    keys.write_text(json.dumps({"tenant_id": "acme", "widget_key": 'ldk_pub_revoked"><x'}))
    assert "widget.js" not in api.client.get("/").text  # an unknown key is never put in a page
    keys.write_text("{not json")
    assert api.client.get("/").status_code == 200


def test_pages_and_scripts_have_their_types_caching_and_policy(live_api: LiveApi) -> None:
    client = live_api.client
    for path in ("/", "/agent", "/admin"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    for path, kind in (
        ("/widget.js", "text/javascript; charset=utf-8"),
        ("/static/pages/admin.js", "text/javascript; charset=utf-8"),
        ("/static/pages/site.css", "text/css; charset=utf-8"),
        ("/static/vendor/chart.umd.min.js", "text/javascript; charset=utf-8"),
        ("/static/vendor/axe-core.LICENSE", None),
    ):
        response = client.get(path)
        if kind is None:
            assert response.status_code == 404, path  # only known kinds of files are served
            continue
        assert response.status_code == 200, path
        assert response.headers["content-type"] == kind
        assert response.headers["cache-control"].startswith("public, max-age=")
        etag = response.headers["etag"]
        cached = client.get(path, headers={"If-None-Match": etag})
        assert cached.status_code == 304 and cached.content == b""
        head = client.head(path)
        assert head.status_code == 200 and head.headers["etag"] == etag and head.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/static/pages/agent.html",
        "/static/pages/../../core/settings.py",
        "/static/..%2f..%2fcore%2fsettings.py",
        "/static/vendor/%2e%2e/%2e%2e/pyproject.toml",
        "/static/__init__.py",
        "/static/pages/.hidden.js",
        "/static/pages/missing.js",
    ],
)
def test_nothing_outside_the_pages_and_vendor_folders_is_served(
    live_api: LiveApi, path: str
) -> None:
    response = live_api.client.get(path)
    assert response.status_code == 404, path


# --------------------------------------------------------------------------- handoff


def test_giving_a_session_back_tells_the_customer_once(live_api: LiveApi) -> None:
    api = live_api
    handed, never = api.open_session(api.acme), api.open_session(api.acme)
    _chat(api, handed, "I want to talk to a human")
    for session in (handed, handed, never):
        response = api.client.delete(
            f"/v1/sessions/{session['session_id']}/handoff", headers=api.acme.admin
        )
        assert response.status_code == 200
    back = [
        m
        for m in api.messages(api.acme, handed["session_id"])
        if m["metadata"].get("event") == "handoff_closed"
    ]
    assert len(back) == 1 and back[0]["role"] == "bot"
    assert api.messages(api.acme, never["session_id"]) == []
