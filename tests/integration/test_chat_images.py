"""A chat turn with an image, over HTTP, with the real vision skill (in-process) on a hand-made ONNX
colour model and the fast text fakes: the label's response answers; otherwise the text policy
does (a fallback saying what the bot saw); the image is stored with the message, shown in the
history, served to the session's token and the admin key only, recorded in the conversation
log, and erased with the session; a failing vision skill degrades the turn; a refused image
stores nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

import skills.vision.skill as vision_skill
from core.models import utcnow
from skills.vision.model import ModelCache, save_model
from tests.integration.conftest import LiveApi
from tests.vision_fixtures import colour_onnx, encode, png_header_only, solid

RED = (220, 30, 30)
GREEN = (30, 200, 40)
REPLACEMENT = "Sorry about your damaged card: a replacement is on its way."


@pytest.fixture
def api(live_api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApi]:
    """acme's image model says red/green/blue; "red" (a damaged card, say) has a response."""
    monkeypatch.setattr(vision_skill, "_models", ModelCache())
    onnx_bytes, meta = colour_onnx()
    save_model(
        tenant_id="acme",
        blobs=live_api.services.blobs,
        version="v1",
        onnx_bytes=onnx_bytes,
        meta=meta,
    )
    tenants = live_api.services.tenants
    acme = tenants.get_tenant(tenant_id="acme")
    tenants.update_tenant(
        acme.model_copy(update={"image_responses": {"red": REPLACEMENT}, "image_threshold": 0.8})
    )
    yield live_api


def image(rgb: tuple[int, int, int], fmt: str = "PNG") -> str:
    return base64.b64encode(encode(solid(rgb, width=32, height=24), fmt)).decode()


def chat(api: LiveApi, session: dict[str, Any], text: str, image_b64: str) -> Any:
    return api.client.post(
        "/v1/chat",
        headers={**api.token_headers(session), "Origin": api.acme.origin},
        json={"text": text, "image_b64": image_b64},
    )


def test_a_confident_label_with_a_response_answers(api: LiveApi) -> None:
    session = api.open_session(api.acme)
    reply = chat(api, session, "look at my card", image(RED))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["source"], body["text"]) == ("image", REPLACEMENT)
    seen = body["image"]
    assert (seen["label"], seen["model_version"], seen["content_type"]) == (
        "red",
        "v1",
        "image/png",
    )
    assert seen["score"] >= 0.8 and (seen["width"], seen["height"]) == (32, 24)
    sid = session["session_id"]
    assert seen["key"] == f"sessions/{sid}/images/{seen['name']}"
    assert seen["url"] == f"/v1/sessions/{sid}/images/{seen['name']}"

    # the history shows the image with the customer's message
    history = api.client.get(
        f"/v1/sessions/{sid}/messages",
        headers={**api.token_headers(session), "Origin": api.acme.origin},
    ).json()["items"]
    user, bot = history
    assert user["role"] == "user" and user["image"]["url"] == seen["url"]
    assert user["image"]["label"] == "red" and bot["source"] == "image"

    # the image is served to the session's token and the admin key
    raw = base64.b64decode(image(RED))
    for headers in (api.token_headers(session), api.acme.admin):
        fetched = api.client.get(seen["url"], headers=headers)
        assert fetched.status_code == 200 and fetched.content == raw
        assert fetched.headers["content-type"] == "image/png"
        assert fetched.headers["x-content-type-options"] == "nosniff"
    other = api.open_session(api.acme)  # another session's token of the same tenant: 404
    assert api.client.get(seen["url"], headers=api.token_headers(other)).status_code == 404

    # the conversation log records the label
    (record,) = list(api.services.log.read_turns(tenant_id="acme", day=utcnow().date()))  # type: ignore[attr-defined]
    assert (record.image_label, record.source.value) == ("red", "image")
    assert record.image_score == pytest.approx(seen["score"])
    assert "vision" in record.latency_ms


def test_without_a_response_for_the_label_the_text_decides(api: LiveApi) -> None:
    session = api.open_session(api.acme)
    intent = chat(api, session, "I want a refund", image(GREEN)).json()
    assert (intent["source"], intent["intent"]) == ("intent", "refund_policy")
    assert intent["image"]["label"] == "green"
    fallback = chat(api, session, "zzz qqq", image(GREEN)).json()
    assert fallback["source"] == "fallback"
    assert fallback["text"].startswith("I can see green in your picture. ")


def test_a_failing_vision_skill_degrades_the_turn(api: LiveApi) -> None:
    api.services.blobs.delete_prefix(tenant_id="acme", prefix="models/")
    vision_skill._models = ModelCache()  # no model and no default: the skill fails
    session = api.open_session(api.acme)
    reply = chat(api, session, "I want a refund", image(RED))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["source"] == "intent" and body["image"]["label"] is None
    (_, bot) = api.messages(api.acme, session["session_id"])
    assert bot["metadata"]["degraded"] == ["vision"]
    # still stored with the message, for an agent to look at
    assert api.client.get(body["image"]["url"], headers=api.acme.admin).status_code == 200


@pytest.mark.parametrize(
    ("image_b64", "status", "code"),
    [
        (base64.b64encode(b"not an image at all").decode(), 415, "unsupported_image"),
        ("%%% not base64", 422, "undecodable_image"),
        (base64.b64encode(png_header_only(10, 10)).decode(), 422, "undecodable_image"),
        (base64.b64encode(png_header_only(60_000, 60_000)).decode(), 413, "image_too_many_pixels"),
    ],
)
def test_a_refused_image_stores_nothing(
    api: LiveApi, image_b64: str, status: int, code: str
) -> None:
    session = api.open_session(api.acme)
    reply = chat(api, session, "look", image_b64)
    assert (reply.status_code, reply.json()["error"]["code"]) == (status, code)
    assert api.messages(api.acme, session["session_id"]) == []
    assert api.services.blobs.list(tenant_id="acme", prefix="sessions/") == []


def test_an_admin_turn_without_a_session_and_erasure(api: LiveApi) -> None:
    reply = api.client.post(
        "/v1/chat", headers=api.acme.admin, json={"text": "see", "image_b64": image(RED, "JPEG")}
    ).json()
    assert reply["source"] == "image" and reply["image"]["content_type"] == "image/jpeg"
    assert reply["image"]["name"].endswith(".jpg")
    sid = reply["session_id"]
    erased = api.client.delete(f"/v1/sessions/{sid}", headers=api.acme.admin)
    assert erased.status_code in (200, 204), erased.text
    assert api.services.blobs.list(tenant_id="acme", prefix=f"sessions/{sid}/") == []
    assert api.client.get(reply["image"]["url"], headers=api.acme.admin).status_code == 404


def test_an_idempotent_retry_stores_the_image_once(api: LiveApi) -> None:
    session = api.open_session(api.acme)
    headers = {**api.token_headers(session), "Origin": api.acme.origin, "Idempotency-Key": "k1"}
    body = {"text": "look", "image_b64": image(RED)}
    first = api.client.post("/v1/chat", headers=headers, json=body).json()
    again = api.client.post("/v1/chat", headers=headers, json=body).json()
    assert again == first
    prefix = f"sessions/{session['session_id']}/images/"
    assert len(api.services.blobs.list(tenant_id="acme", prefix=prefix)) == 1
    other = api.client.post(
        "/v1/chat", headers=headers, json={"text": "look", "image_b64": image(GREEN)}
    )
    assert other.status_code == 409  # the same key with another image
