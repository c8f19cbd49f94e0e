"""The API as an attacker and a careless client meet it: each finding of the hardening review
is a case here (request forgery through callbacks, half-written turns, existence oracles,
unthrottled anonymous work, erasure that left data behind, CORS, file modes, error shapes)."""

from __future__ import annotations

import http.server
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.settings import Settings
from tests.integration.conftest import LiveApi

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Production defaults for callbacks (https, public addresses only), low throttles."""
    return Settings(
        backend="local",
        data_dir=tmp_path / "data",
        log_stdout=False,
        warmup=False,
        sessions_per_minute_per_client=5,
        admin_turns_per_minute=4,
    )


class _Sink(http.server.BaseHTTPRequestHandler):
    """A receiver on loopback: a forged callback would land here."""

    hits: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        _Sink.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[int]:
    _Sink.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()


# --------------------------------------------------------------------------- 1. callbacks

FORGED = (
    "http://127.0.0.1:{port}/hook",
    "https://127.0.0.1:{port}/hook",
    "https://localhost:{port}/hook",
    "https://127.1:{port}/hook",
    "https://[::ffff:127.0.0.1]:{port}/hook",
    "https://[::1]:{port}/hook",
    "https://0.0.0.0:{port}/hook",
    "https://2130706433:{port}/hook",
    "https://0x7f000001:{port}/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/hook",
    "https://192.168.1.1/hook",
    "https://[fd00::1]/hook",
    "http://example.com/hook",  # not https
    "https://user:pass@example.com/hook",
    "ftp://example.com/hook",
)


@pytest.mark.parametrize("template", FORGED)
def test_a_callback_to_a_private_or_insecure_address_is_refused_up_front(
    live_api: LiveApi, sink: int, template: str
) -> None:
    url = template.format(port=sink)
    response = live_api.client.post(
        "/v1/voice",
        headers={**live_api.acme.admin, "Content-Type": "audio/ogg", "X-Callback-Url": url},
        content=b"OggS" + b"\0" * 200,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_callback_url"
    assert _Sink.hits == []
    assert live_api.services.blobs.list(tenant_id="acme", prefix="audio/") == []


def test_only_the_admin_key_may_set_a_callback(live_api: LiveApi, sink: int) -> None:
    session = live_api.open_session(live_api.acme)
    response = live_api.client.post(
        "/v1/voice",
        headers={
            **live_api.token_headers(session),
            "Content-Type": "audio/ogg",
            "X-Callback-Url": "https://hooks.example.com/voice",
        },
        content=b"OggS" + b"\0" * 200,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "callback_not_allowed"


def test_a_tenant_with_callback_origins_accepts_only_those(live_api: LiveApi) -> None:
    tenants = live_api.services.tenants
    acme = tenants.get_tenant(tenant_id="acme")
    tenants.update_tenant(
        acme.model_copy(update={"callback_origins": ["https://hooks.acme.example"]})
    )
    response = live_api.client.post(
        "/v1/voice",
        headers={
            **live_api.acme.admin,
            "Content-Type": "audio/ogg",
            "X-Callback-Url": "https://elsewhere.example/hook",
        },
        content=b"OggS" + b"\0" * 200,
    )
    assert response.status_code == 400
    assert "registered callback origins" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    ["https://localhost/hook", "https://127.0.0.1/hook", "https://[::1]/x", "http://example.com/x"],
)
def test_the_sender_checks_the_resolved_address_again(url: str) -> None:
    import asyncio

    from infra.http.callback_sender import HttpxCallbackSender

    sender = HttpxCallbackSender(token_secret=b"s")
    with pytest.raises(ValueError):
        asyncio.run(sender.pin(url))


def test_the_sender_connects_to_the_address_it_checked() -> None:
    import asyncio

    from infra.http.callback_sender import HttpxCallbackSender

    sender = HttpxCallbackSender(token_secret=b"s")
    target = asyncio.run(sender.pin("https://93.184.215.14:8443/hooks/a?x=1"))
    assert target.url == "https://93.184.215.14:8443/hooks/a?x=1"
    assert target.hostname == "93.184.215.14" and target.host_header == "93.184.215.14:8443"


# --------------------------------------------------------------------------- 5. half-written turns


def test_text_that_is_not_unicode_is_refused_and_nothing_is_written(live_api: LiveApi) -> None:
    session = live_api.open_session(live_api.acme)
    body = b'{"session_id": "%s", "text": "hello \\ud800"}' % session["session_id"].encode()
    response = live_api.client.post(
        "/v1/chat",
        headers={**live_api.token_headers(session), "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_unicode"
    state = live_api.services.history.get_state(tenant_id="acme", session_id=session["session_id"])
    assert state is not None and state.turns == 0 and state.handoff == "none"
    assert live_api.messages(live_api.acme, session["session_id"]) == []


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"x": value}
    return value


def test_deep_metadata_is_refused_on_chat_and_on_opening_a_session(live_api: LiveApi) -> None:
    too_deep = json.dumps({"text": "hi", "metadata": _nested(300)})
    chat = live_api.client.post(
        "/v1/chat",
        headers={**live_api.acme.admin, "Content-Type": "application/json"},
        content=too_deep,
    )
    assert chat.status_code == 400 and chat.json()["error"]["code"] == "json_too_deep"
    opened = live_api.client.post(
        "/v1/sessions",
        headers={**live_api.acme.widget(), "Content-Type": "application/json"},
        content=json.dumps({"metadata": _nested(300)}),
    )
    assert opened.status_code == 400
    fairly_deep = live_api.client.post(
        "/v1/sessions", headers=live_api.acme.widget(), json={"metadata": _nested(12)}
    )
    assert fairly_deep.status_code == 422
    assert fairly_deep.json()["error"]["code"] == "metadata_too_deep"
    large = live_api.client.post(
        "/v1/sessions", headers=live_api.acme.widget(), json={"metadata": {"blob": "x" * 5000}}
    )
    assert large.status_code == 413 and large.json()["error"]["code"] == "metadata_too_large"
    sessions = live_api.services.history.list_sessions(tenant_id="acme")
    assert sessions.items == []  # nothing was opened by the refused requests


# --------------------------------------------------------------------------- 7. erasure


def test_erasing_a_session_removes_its_jobs_audio_and_tokens_reach(live_api: LiveApi) -> None:
    from core.jobs import create_job
    from core.voice import audio_in_key, audio_out_key

    services = live_api.services
    session = live_api.open_session(live_api.acme)
    sid = session["session_id"]
    token = live_api.token_headers(session)
    chat = live_api.client.post("/v1/chat", headers=token, json={"text": "what are your hours"})
    assert chat.status_code == 200
    job = create_job(
        jobs=services.jobs,
        tenant_id="acme",
        kind="voice",
        session_id=sid,
        payload={"session_id": sid, "audio_key": audio_in_key("j_x")},
    )
    services.blobs.put(tenant_id="acme", key=audio_in_key(job.job_id), data=b"in")
    services.blobs.put(tenant_id="acme", key=audio_out_key(job.job_id), data=b"out")
    services.blobs.put(tenant_id="acme", key=audio_out_key(job.job_id, "wav"), data=b"out")
    services.blobs.put(tenant_id="acme", key=f"sessions/{sid}/images/1.png", data=b"img")
    assert live_api.client.get(f"/v1/jobs/{job.job_id}", headers=token).status_code == 200

    erased = live_api.client.delete(f"/v1/sessions/{sid}", headers=live_api.acme.admin)
    assert erased.status_code == 204
    for headers in (token, live_api.acme.admin):
        assert live_api.client.get(f"/v1/jobs/{job.job_id}", headers=headers).status_code == 404
        assert (
            live_api.client.get(f"/v1/sessions/{sid}/messages", headers=headers).status_code == 404
        )
    assert live_api.client.post("/v1/chat", headers=token, json={"text": "hi"}).status_code == 404
    assert services.blobs.list(tenant_id="acme", prefix="audio/") == []
    assert services.blobs.list(tenant_id="acme", prefix="sessions/") == []
    assert services.jobs.list_session_jobs(tenant_id="acme", session_id=sid) == []
    files = [p for p in (services.settings.resolved_data_dir / "blobs").rglob("*") if p.is_file()]
    assert not [p for p in files if job.job_id in p.name or sid in str(p)]


# --------------------------------------------------------------------------- 8. throttles


def _within_one_window(window_s: int = 60, needed_s: float = 15.0) -> None:
    """Start a burst inside one fixed throttle window: the limits count per `window_s` of the
    epoch clock, and a burst that crossed a boundary would be counted in two windows. When
    less than `needed_s` of the current window is left, wait for the next one to begin."""
    left = window_s - time.time() % window_s
    if left < needed_s:
        time.sleep(left + 0.05)


def test_opening_sessions_is_throttled_per_widget_key_and_client(live_api: LiveApi) -> None:
    _within_one_window()
    answers = [
        live_api.client.post("/v1/sessions", headers=live_api.acme.widget(), json={})
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    # another tenant's widget is not slowed down by acme's visitors
    other = live_api.client.post("/v1/sessions", headers=live_api.globex.widget(), json={})
    assert other.status_code == 201


def test_sessionless_admin_turns_are_throttled_per_key(live_api: LiveApi) -> None:
    _within_one_window()
    answers = [
        live_api.client.post("/v1/chat", headers=live_api.acme.admin, json={"text": f"q {i}"})
        for i in range(5)
    ]
    assert [a.status_code for a in answers] == [200] * 4 + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_an_oversized_upload_without_a_length_is_cut_off_and_nothing_stored(
    live_api: LiveApi,
) -> None:
    limit = live_api.services.settings.max_audio_bytes

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 65536 + 4):
            yield b"\0" * 65536

    response = live_api.client.post(
        "/v1/voice", headers={**live_api.acme.admin, "Content-Type": "audio/ogg"}, content=chunks()
    )
    assert response.status_code == 413
    assert live_api.services.blobs.list(tenant_id="acme", prefix="audio/") == []


# --------------------------------------------------------------------------- 9. smaller gaps


def test_a_non_ascii_bearer_is_401(live_api: LiveApi) -> None:
    for credential in ("ldk_st_é.x", "ldk_admin_ünïcode", "ldk_st_" + "a" * 5000):
        raw = [(b"authorization", f"Bearer {credential}".encode())]
        response = live_api.client.get("/v1/handoffs", headers=raw)
        assert response.status_code == 401, credential


def test_refusals_never_tell_whether_a_resource_exists(live_api: LiveApi) -> None:
    session = live_api.open_session(live_api.acme)
    widget = live_api.acme.widget()
    token = live_api.token_headers(session)
    for sid in (session["session_id"], "s_missing"):
        assert live_api.client.delete(f"/v1/sessions/{sid}", headers=widget).status_code == 404
        assert live_api.client.delete(f"/v1/sessions/{sid}", headers=token).status_code == 404
    doc = live_api.client.post(
        "/v1/knowledge/documents?filename=faq.md",
        headers={**live_api.acme.admin, "Content-Type": "text/markdown"},
        content=b"# FAQ\n\nWe are open 9 to 5.",
    )
    assert doc.status_code == 201
    for doc_id in (doc.json()["doc_id"], "d_missing"):
        path = f"/v1/knowledge/documents/{doc_id}"
        assert live_api.client.delete(path, headers=token).status_code == 404


def test_a_preflight_from_an_unknown_origin_gets_no_cors_answer(live_api: LiveApi) -> None:
    headers = {"Access-Control-Request-Method": "POST"}
    known = live_api.client.options("/v1/chat", headers={**headers, "Origin": live_api.acme.origin})
    assert known.status_code == 204
    assert known.headers["access-control-allow-origin"] == live_api.acme.origin
    stranger = live_api.client.options(
        "/v1/chat", headers={**headers, "Origin": "https://evil.example"}
    )
    assert stranger.status_code == 403
    assert "access-control-allow-origin" not in stranger.headers


def test_data_files_are_readable_by_their_owner_only(live_api: LiveApi) -> None:
    live_api.client.post("/v1/chat", headers=live_api.acme.admin, json={"text": "hello"})
    data = live_api.services.settings.resolved_data_dir
    database = data / "lambdesk.db"
    assert stat.S_IMODE(os.stat(database).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data).st_mode) & 0o077 == 0
    logs = list((data / "logs").rglob("*.jsonl"))
    assert logs and all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in logs)


def test_the_schema_documents_errors_and_refuses_empty_text(live_api: LiveApi) -> None:
    schema = live_api.client.get("/openapi.json").json()
    chat = schema["paths"]["/v1/chat"]["post"]
    assert {"400", "401", "404", "409", "413", "422", "429"} <= set(chat["responses"])
    voice = schema["paths"]["/v1/voice"]["post"]
    assert {"200", "202", "413", "415", "422"} <= set(voice["responses"])
    request = schema["components"]["schemas"]["ChatRequest"]["properties"]["text"]
    assert request["minLength"] == 1
