"""The API's main flows over HTTP: answers from intents and knowledge, idempotent retries,
history paging, handoff to agents, analytics, erasure, rate limits, degraded skills, CORS."""

from __future__ import annotations

from typing import Any

from core.models import Tenant
from tests.fakes import failing_skill, slow_skill
from tests.integration.conftest import ACME_RESPONSES, LiveApi


def _chat(api: LiveApi, session: dict[str, Any], text: str, **headers: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/chat", headers={**api.token_headers(session), **headers}, json={"text": text}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_intent_then_knowledge_then_fallback(live_api: LiveApi) -> None:
    api = live_api
    upload = api.client.post(
        "/v1/knowledge/documents",
        headers=api.acme.admin,
        files={"file": ("delivery.md", b"# Delivery\n\nParcels arrive within three working days.")},
    )
    assert upload.status_code == 201, upload.text
    session = api.open_session(api.acme)
    assert session["greeting"]

    reply = _chat(api, session, "what is your refund policy")
    assert (reply["source"], reply["intent"]) == ("intent", "refund_policy")
    assert reply["text"] == ACME_RESPONSES["refund_policy"]

    reply = _chat(api, session, "when do parcels arrive")
    assert reply["source"] == "knowledge"
    assert "three working days" in reply["text"]
    assert reply["citations"][0]["doc_id"] == upload.json()["doc_id"]

    reply = _chat(api, session, "zzz qqq")
    # not understood: no suggestions rather than random ones (the ranking of gibberish is noise)
    assert reply["source"] == "fallback" and reply["suggestions"] == []

    search = api.client.post(
        "/v1/knowledge/search", headers=api.acme.admin, json={"query": "parcels", "top_k": 2}
    )
    assert search.status_code == 200 and search.json()["hits"]


def test_idempotent_retry_returns_the_same_reply_and_stores_once(live_api: LiveApi) -> None:
    api = live_api
    session = api.open_session(api.acme)
    first = _chat(api, session, "refund?", **{"Idempotency-Key": "k-1"})
    again = _chat(api, session, "refund?", **{"Idempotency-Key": "k-1"})
    assert again == first
    assert len(api.messages(api.acme, session["session_id"])) == 2
    conflict = api.client.post(
        "/v1/chat",
        headers={**api.token_headers(session), "Idempotency-Key": "k-1"},
        json={"text": "something else"},
    )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_key_reused"
    assert len(api.messages(api.acme, session["session_id"])) == 2


def test_messages_page_oldest_first_with_a_cursor(live_api: LiveApi) -> None:
    api = live_api
    session = api.open_session(api.acme)
    for i in range(5):
        _chat(api, session, f"question {i}")
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.client.get(
            f"/v1/sessions/{session['session_id']}/messages",
            headers=api.token_headers(session),
            params=params,
        ).json()
        seen.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert [m["text"] for m in seen[::2]] == [f"question {i}" for i in range(5)]
    assert [m["role"] for m in seen] == ["user", "bot"] * 5


def test_handoff_flow(live_api: LiveApi) -> None:
    api = live_api
    session = api.open_session(api.acme)
    sid = session["session_id"]
    reply = _chat(api, session, "can I talk to a human please")
    assert reply["source"] == "handoff" and reply["handoff"] == "waiting"

    quiet = _chat(api, session, "what is your refund policy")
    assert quiet["source"] == "handoff" and quiet["intent"] is None

    queue = api.client.get("/v1/handoffs", headers=api.acme.admin).json()["items"]
    assert [item["session_id"] for item in queue] == [sid]

    agent = api.client.post(
        f"/v1/sessions/{sid}/agent-messages",
        headers=api.acme.admin,
        json={"text": "Hi, Sam here. How can I help?", "agent": "sam"},
    )
    assert agent.status_code == 201, agent.text
    messages = api.client.get(
        f"/v1/sessions/{sid}/messages", headers=api.token_headers(session)
    ).json()["items"]
    assert messages[-1]["role"] == "agent" and messages[-1]["source"] == "agent"
    assert messages[-1]["text"] == "Hi, Sam here. How can I help?"
    assert [m["role"] for m in messages[:4]] == ["user", "bot", "user", "bot"]
    queue = api.client.get("/v1/handoffs", headers=api.acme.admin).json()["items"]
    assert queue[0]["handoff"] == "active"

    # a session token may not post as an agent: the admin-only route does not exist for it
    forbidden = api.client.post(
        f"/v1/sessions/{sid}/agent-messages", headers=api.token_headers(session), json={"text": "x"}
    )
    assert forbidden.status_code == 404
    assert (
        api.client.delete(f"/v1/sessions/{sid}/handoff", headers=api.token_headers(session))
    ).status_code == 404

    # the agent is done: the session leaves the queue and the bot answers again
    closed = api.client.delete(f"/v1/sessions/{sid}/handoff", headers=api.acme.admin)
    assert closed.status_code == 200, closed.text
    assert closed.json()["handoff"] == "closed"
    assert api.client.get("/v1/handoffs", headers=api.acme.admin).json()["items"] == []
    assert _chat(api, session, "what is your refund policy")["source"] != "handoff"


def test_explicit_handoff_request(live_api: LiveApi) -> None:
    api = live_api
    session = api.open_session(api.acme)
    response = api.client.post(
        f"/v1/sessions/{session['session_id']}/handoff",
        headers=api.token_headers(session),
        json={"reason": "billing dispute"},
    )
    assert response.status_code == 200
    assert response.json()["handoff"] == "waiting"
    assert _chat(api, session, "hello?")["source"] == "handoff"


def test_analytics_after_a_few_turns(live_api: LiveApi) -> None:
    api = live_api
    one, two = api.open_session(api.acme), api.open_session(api.acme)
    _chat(api, one, "refund please")
    _chat(api, one, "opening hours?")
    _chat(api, two, "refund")
    _chat(api, two, "blorp")  # fallback
    summary = api.client.get("/v1/analytics/summary", headers=api.acme.admin).json()
    assert summary["turns"] == 4
    assert summary["sessions"] == 2
    assert summary["top_intents"][0] == {"intent": "refund_policy", "count": 2}
    assert summary["fallback_rate"] == 0.25
    assert [u["text"] for u in summary["unanswered"]] == ["blorp"]
    assert summary["latency_ms"]["p50"] is not None
    assert summary["handoffs"] == 0


def test_admin_chat_without_a_session_opens_one_and_erasure(live_api: LiveApi) -> None:
    api = live_api
    response = api.client.post("/v1/chat", headers=api.acme.admin, json={"text": "refund"})
    assert response.status_code == 200
    sid = response.json()["session_id"]
    assert len(api.messages(api.acme, sid)) == 2
    assert api.client.delete(f"/v1/sessions/{sid}", headers=api.acme.admin).status_code == 204
    assert api.messages(api.acme, sid) == []
    gone = api.client.get(f"/v1/sessions/{sid}/messages", headers=api.acme.admin)
    assert gone.status_code == 404


def test_rate_limit_per_session(live_api: LiveApi) -> None:
    api = live_api
    tenant = api.services.tenants.get_tenant(tenant_id="acme")
    api.services.tenants.update_tenant(tenant.model_copy(update={"turns_per_minute": 3}))
    session = api.open_session(api.acme)
    for _ in range(3):
        _chat(api, session, "refund")
    response = api.client.post(
        "/v1/chat", headers=api.token_headers(session), json={"text": "refund"}
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert len(api.messages(api.acme, session["session_id"])) == 6


def test_a_failing_skill_degrades_the_turn(live_api: LiveApi) -> None:
    api = live_api
    api.services.skills.register("intent", failing_skill)  # type: ignore[attr-defined]
    session = api.open_session(api.acme)
    reply = _chat(api, session, "refund")
    assert reply["source"] == "fallback"
    api.services.settings.retrieval_timeout_s = 0.2
    api.services.skills.register("retrieval", slow_skill(1.0))  # type: ignore[attr-defined]
    reply = _chat(api, session, "anything")
    assert reply["source"] == "handoff"  # second fallback in a row
    bot = api.messages(api.acme, session["session_id"])[-1]
    assert sorted(bot["metadata"]["degraded"]) == ["intent", "retrieval"]


def test_request_id_and_cors(live_api: LiveApi) -> None:
    api = live_api
    echoed = api.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert echoed.json() == {"status": "ok", "backend": api.services.settings.backend}
    assert echoed.headers["x-request-id"] == "abc-123"
    assert api.client.get("/healthz", headers={"X-Request-Id": "bad id!"}).headers["x-request-id"]

    # a preflight names no tenant: only an origin some tenant allows gets an answer
    preflight = api.client.options(
        "/v1/chat",
        headers={"Origin": api.acme.origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == api.acme.origin
    assert "Idempotency-Key" in preflight.headers["access-control-allow-headers"]
    refused = api.client.options(
        "/v1/chat",
        headers={"Origin": "https://anything.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers

    opened = api.client.post("/v1/sessions", headers=api.acme.widget(), json={})
    assert opened.headers["access-control-allow-origin"] == api.acme.origin
    admin = api.client.get(
        "/v1/handoffs", headers={**api.acme.admin, "Origin": "https://elsewhere.example"}
    )
    assert admin.status_code == 200
    assert "access-control-allow-origin" not in admin.headers


def test_openapi_and_docs(live_api: LiveApi) -> None:
    paths = live_api.client.get("/openapi.json").json()["paths"]
    assert {"/v1/chat", "/v1/sessions", "/v1/knowledge/documents"} <= set(paths)
    assert live_api.client.get("/docs").status_code == 200


def test_a_new_tenant_setting_applies_without_restart(live_api: LiveApi) -> None:
    api = live_api
    api.services.tenants.update_tenant(
        Tenant(
            tenant_id="globex",
            allowed_origins=[api.globex.origin],
            responses={"opening_hours": "Always open."},
        )
    )
    session = api.open_session(api.globex)
    assert _chat(api, session, "hours?")["text"] == "Always open."
