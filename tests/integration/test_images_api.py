"""`POST /v1/images/classify` over HTTP with the real vision skill (in-process) and hand-made ONNX
colour models: every input form (multipart, raw typed and untyped bodies, JSON base64 and data
URLs, a large image by reference), every refusal (413 bytes and pixels, 415, 422 from the header
and from the skill's decode, 400 bad JSON) with nothing stored, and each tenant served only its
own model."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import core.vision
import skills.vision.skill as vision_skill
from core.settings import Settings
from skills.vision.model import ModelCache, save_model
from tests.integration.conftest import LiveApi
from tests.vision_fixtures import colour_onnx, encode, png_header_only, solid

RED = (220, 30, 30)
GREEN = (30, 200, 40)
BLUE = (30, 40, 220)
MAX_BYTES = 100_000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        backend="local",
        data_dir=tmp_path / "data",
        log_stdout=False,
        warmup=False,
        max_image_bytes=MAX_BYTES,
    )


@pytest.fixture
def api(live_api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApi]:
    """acme's model says red/green/blue (v1); globex's says rot/grün/blau (w1)."""
    monkeypatch.setattr(vision_skill, "_models", ModelCache())
    onnx_bytes, meta = colour_onnx()
    blobs = live_api.services.blobs
    save_model(tenant_id="acme", blobs=blobs, version="v1", onnx_bytes=onnx_bytes, meta=meta)
    german = {**meta, "labels": ["rot", "grün", "blau"]}
    save_model(tenant_id="globex", blobs=blobs, version="w1", onnx_bytes=onnx_bytes, meta=german)
    yield live_api


def png(rgb: tuple[int, int, int] = RED) -> bytes:
    return encode(solid(rgb, width=40, height=30), "PNG")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def stored(api: LiveApi, tenant_id: str = "acme") -> list[str]:
    """The tenant's blobs other than its models."""
    return [k for k in api.services.blobs.list(tenant_id=tenant_id) if not k.startswith("models/")]


def test_every_input_form_answers_the_top_labels(api: LiveApi) -> None:
    headers = api.acme.admin
    answers = [
        api.client.post(
            "/v1/images/classify", headers=headers, files={"file": ("a.png", png(), "image/png")}
        ),
        api.client.post(
            "/v1/images/classify",
            headers={**headers, "Content-Type": "image/png"},
            content=png(),
        ),
        api.client.post(  # untyped: recognised by its bytes
            "/v1/images/classify",
            headers={**headers, "Content-Type": "application/octet-stream"},
            content=png(),
        ),
        api.client.post("/v1/images/classify", headers=headers, json={"image_b64": b64(png())}),
        api.client.post(
            "/v1/images/classify",
            headers=headers,
            json={"image_b64": f"data:image/png;base64,{b64(png())}"},
        ),
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["label"] == "red" and body["score"] > 0.9
        assert [item["label"] for item in body["labels"]] == ["red", "green", "blue"]
        assert (body["format"], body["width"], body["height"]) == ("PNG", 40, 30)
        assert body["model_version"] == "v1" and body["default_model"] is False
    jpeg = encode(solid(BLUE, width=64, height=64), "JPEG")
    one = api.client.post(
        "/v1/images/classify?top_k=1",
        headers={**headers, "Content-Type": "image/jpeg"},
        content=jpeg,
    ).json()
    assert (one["label"], len(one["labels"]), one["format"]) == ("blue", 1, "JPEG")
    two = api.client.post(
        "/v1/images/classify", headers=headers, json={"image_b64": b64(jpeg), "top_k": 2}
    ).json()
    assert len(two["labels"]) == 2
    assert stored(api) == []


def test_a_session_token_classifies_and_a_widget_key_may_not(api: LiveApi) -> None:
    session = api.open_session(api.acme)
    headers = {**api.token_headers(session), "Origin": api.acme.origin}
    answer = api.client.post("/v1/images/classify", headers=headers, json={"image_b64": b64(png())})
    assert answer.status_code == 200 and answer.json()["label"] == "red"
    widget = api.client.post(
        "/v1/images/classify", headers=api.acme.widget(), json={"image_b64": b64(png())}
    )
    assert widget.status_code == 403
    anonymous = api.client.post("/v1/images/classify", json={"image_b64": b64(png())})
    assert anonymous.status_code == 401


def test_a_large_image_goes_by_reference_and_is_not_kept(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core.vision, "INLINE_MAX_BYTES", 100)
    response = api.client.post(
        "/v1/images/classify",
        headers={**api.acme.admin, "Content-Type": "image/png"},
        content=png(GREEN),
    )
    assert response.status_code == 200 and response.json()["label"] == "green"
    assert stored(api) == []


NOISE = encode(np.random.default_rng(0).integers(0, 255, (250, 250, 3), np.uint8), "PNG")
# over MAX_BYTES decoded, within what the route lets in as base64
NOISE_B64 = encode(np.random.default_rng(1).integers(0, 255, (200, 200, 3), np.uint8), "PNG")


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("image/png", NOISE, 413, "upload_too_large"),
        ("image/png", png_header_only(60_000, 60_000), 413, "image_too_many_pixels"),
        ("text/plain", b"hello", 415, "unsupported_image"),
        ("image/png", b"hello, not a picture", 415, "unsupported_image"),
        ("application/octet-stream", b"%PDF-1.7", 415, "unsupported_image"),
        ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(8), 422, "undecodable_image"),
        ("image/png", png_header_only(10, 10), 422, "undecodable_image"),  # the skill's decode
        ("image/png", b"", 415, "unsupported_image"),
    ],
)
def test_raw_bodies_that_are_refused(
    api: LiveApi, content_type: str, body: bytes, status: int, code: str
) -> None:
    response = api.client.post(
        "/v1/images/classify",
        headers={**api.acme.admin, "Content-Type": content_type},
        content=body,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert stored(api) == []


@pytest.mark.parametrize(
    ("document", "status", "code"),
    [
        ({"image_b64": b64(NOISE_B64)}, 413, "image_too_large"),
        ({"image_b64": b64(NOISE * 2)}, 413, "payload_too_large"),  # past the body's limit
        ({"image_b64": b64(b"just text")}, 415, "unsupported_image"),
        ({"image_b64": "!!! not base64 !!!"}, 422, "undecodable_image"),
        ({"image_b64": "data:image/png,plain"}, 422, "undecodable_image"),
        ({"image_b64": b64(png_header_only(10, 10))}, 422, "undecodable_image"),
        ({"image": b64(png())}, 422, "validation_error"),
        ({"image_b64": b64(png()), "top_k": 99}, 422, "validation_error"),
    ],
)
def test_json_bodies_that_are_refused(
    api: LiveApi, document: dict[str, object], status: int, code: str
) -> None:
    response = api.client.post("/v1/images/classify", headers=api.acme.admin, json=document)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert stored(api) == []


def test_malformed_json_and_a_body_over_the_limit(api: LiveApi) -> None:
    response = api.client.post(
        "/v1/images/classify",
        headers={**api.acme.admin, "Content-Type": "application/json"},
        content=b'{"image_b64": ',
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")
    huge = api.client.post(
        "/v1/images/classify",
        headers={**api.acme.admin, "Content-Type": "image/png"},
        content=b"\x89PNG" + bytes(MAX_BYTES * 2),
    )
    assert huge.status_code == 413


def test_each_tenant_is_answered_by_its_own_model_only(api: LiveApi) -> None:
    image = {"image_b64": b64(png(GREEN))}
    acme = api.client.post("/v1/images/classify", headers=api.acme.admin, json=image).json()
    globex = api.client.post("/v1/images/classify", headers=api.globex.admin, json=image).json()
    assert (acme["label"], acme["model_version"]) == ("green", "v1")
    assert (globex["label"], globex["model_version"]) == ("grün", "w1")
    # a tenant without a model of its own (and no default model here): 503, never another's
    api.services.blobs.delete_prefix(tenant_id="globex", prefix="models/")
    vision_skill._models = ModelCache()
    refused = api.client.post("/v1/images/classify", headers=api.globex.admin, json=image)
    assert refused.status_code == 503, refused.text
    assert "acme" not in refused.text and "green" not in refused.text
