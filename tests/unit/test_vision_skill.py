"""The vision skill's every input case, over an in-memory blob store and a hand-made ONNX colour
model (no training): one image by value or by key, a batch, the default model, tenant isolation,
the CURRENT re-check delay, and each typed error."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import skills.vision.skill as vision_skill
from core.errors import BadRequest, NotFound
from core.ports import SkillContext
from core.settings import Settings
from skills.vision.model import (
    CURRENT_KEY,
    ModelCache,
    NoVisionModel,
    current_version,
    save_model,
    set_current,
    write_model_dir,
)
from tests.memory_stores import MemoryBlobStore
from tests.vision_fixtures import colour_onnx, encode, gif_two_frames, png_header_only, solid

RED = (220, 30, 30)
GREEN = (30, 200, 40)
BLUE = (30, 40, 220)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(vision_skill, "_models", ModelCache())
    yield


@pytest.fixture
def ctx(tmp_path: Path) -> SkillContext:
    blobs = MemoryBlobStore()
    onnx_bytes, meta = colour_onnx()
    save_model(tenant_id="acme", blobs=blobs, version="v1", onnx_bytes=onnx_bytes, meta=meta)
    settings = Settings(data_dir=tmp_path / "data", max_image_bytes=200_000, log_stdout=False)
    return SkillContext(blobs=blobs, settings=settings)


def run(ctx: SkillContext, **event: Any) -> dict[str, Any]:
    return vision_skill.run({"tenant_id": "acme", **event}, ctx)


def test_one_image_by_value_answers_its_class_and_ranking(ctx: SkillContext) -> None:
    result = run(ctx, image_b64=b64(encode(solid(RED, width=40, height=30), "PNG")), top_k=2)
    assert result["label"] == "red" and result["score"] > 0.9
    assert [item["label"] for item in result["labels"]] == ["red", "green"]
    assert result["labels"][0]["score"] == result["score"]
    assert (result["width"], result["height"]) == (40, 30)
    assert result["model_version"] == "v1" and result["default_model"] is False
    assert set(result["timings"]) == {"model_ms", "decode_ms", "infer_ms"}


@pytest.mark.parametrize(
    ("fmt", "rgb", "label"), [("JPEG", GREEN, "green"), ("WEBP", BLUE, "blue")]
)
def test_jpeg_webp_and_data_urls(ctx: SkillContext, fmt: str, rgb: Any, label: str) -> None:
    data = encode(solid(rgb), fmt)
    assert run(ctx, image_b64=b64(data))["label"] == label
    url = f"data:image/{fmt.lower()};base64,{b64(data)}"
    assert run(ctx, image_b64=url)["label"] == label


def test_a_gif_is_classified_by_its_first_frame(ctx: SkillContext) -> None:
    assert run(ctx, image_b64=b64(gif_two_frames(solid(BLUE), solid(RED))))["label"] == "blue"


def test_an_image_by_key_is_read_from_the_tenants_blobs(ctx: SkillContext) -> None:
    ctx.blobs.put(tenant_id="acme", key="uploads/a.png", data=encode(solid(GREEN), "PNG"))
    assert run(ctx, image_key="uploads/a.png")["label"] == "green"
    with pytest.raises(NotFound):
        run(ctx, image_key="uploads/missing.png")
    ctx.blobs.put(tenant_id="other", key="uploads/b.png", data=encode(solid(GREEN), "PNG"))
    with pytest.raises(NotFound):  # another tenant's blob is not there for acme
        run(ctx, image_key="uploads/b.png")
    with pytest.raises(BadRequest):
        run(ctx, image_key="../other/uploads/b.png")


def test_a_batch_answers_in_order(ctx: SkillContext) -> None:
    images = [{"image_b64": b64(encode(solid(c), "PNG"))} for c in (BLUE, RED, GREEN, RED)]
    result = run(ctx, images=images, top_k=1)
    assert [r["label"] for r in result["results"]] == ["blue", "red", "green", "red"]
    assert all(len(r["labels"]) == 1 for r in result["results"])
    assert result["model_version"] == "v1"


def test_a_bad_image_in_a_batch_is_named_in_the_fault(ctx: SkillContext) -> None:
    images = [{"image_b64": b64(encode(solid(RED), "PNG"))}, {"image_b64": b64(b"text")}]
    fault = run(ctx, images=images)["fault"]
    assert fault["status"] == 415 and fault["message"].startswith("images[1]")


def test_classify_arrays_is_the_in_process_batch_path(ctx: SkillContext) -> None:
    frames = [solid(GREEN, width=32, height=18), solid(RED, width=20, height=20)]
    results = vision_skill.classify_arrays(
        tenant_id="acme", frames=frames, blobs=ctx.blobs, settings=ctx.settings
    )
    assert [(r.label, r.width, r.height) for r in results] == [("green", 32, 18), ("red", 20, 20)]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"hello, I am text", 415, "unsupported_image"),
        (b"\x89PNG\r\n\x1a\n" + bytes(30), 422, "undecodable_image"),
        (png_header_only(60_000, 60_000), 413, "image_too_many_pixels"),
        (
            encode(np.random.default_rng(0).integers(0, 255, (300, 300, 3), np.uint8), "PNG"),
            413,
            "image_too_large",
        ),
    ],
)
def test_input_errors_come_back_as_typed_faults(
    ctx: SkillContext, data: bytes, status: int, code: str
) -> None:
    result = run(ctx, image_b64=b64(data))
    assert (result["fault"]["status"], result["fault"]["code"]) == (status, code)
    assert "label" not in result


def test_base64_that_is_not_base64(ctx: SkillContext) -> None:
    assert run(ctx, image_b64="!!not base64!!")["fault"]["status"] == 422


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"image_b64": "AAAA", "image_key": "a.png"},
        {"image_b64": "AAAA", "top_k": 0},
        {"images": []},
        {"images": [{"image_b64": "AAAA"}] * 65},
        {"images": [{"image_b64": "AAAA", "image_key": "k"}]},
        {"images": [{"image_url": "http://example.com/a.png"}]},
    ],
)
def test_malformed_events_are_bad_requests(ctx: SkillContext, event: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        run(ctx, **event)


def test_without_any_model_the_error_says_how_to_get_one(ctx: SkillContext) -> None:
    with pytest.raises(NoVisionModel) as caught:
        vision_skill.run({"tenant_id": "newco", "image_b64": b64(encode(solid(RED), "PNG"))}, ctx)
    assert caught.value.status == 503
    assert "lambdesk vision train --tenant newco" in caught.value.message


def test_a_tenant_without_a_model_gets_the_default_one(ctx: SkillContext) -> None:
    onnx_bytes, meta = colour_onnx(size=4)
    directory = Path(ctx.settings.resolved_data_dir) / "models" / "vision-default"
    write_model_dir(directory, onnx_bytes=onnx_bytes, meta={**meta, "version": "d1"})
    image = b64(encode(solid(BLUE), "PNG"))
    newco = vision_skill.run({"tenant_id": "newco", "image_b64": image}, ctx)
    assert newco["label"] == "blue"
    assert newco["default_model"] is True and newco["model_version"] == "default-d1"
    assert run(ctx, image_b64=image)["model_version"] == "v1"  # acme keeps its own


def test_each_tenant_is_served_its_own_model(ctx: SkillContext) -> None:
    onnx_bytes, meta = colour_onnx()
    swapped = {**meta, "labels": ["rot", "grün", "blau"]}
    save_model(
        tenant_id="other", blobs=ctx.blobs, version="w1", onnx_bytes=onnx_bytes, meta=swapped
    )
    image = b64(encode(solid(RED), "PNG"))
    assert run(ctx, image_b64=image)["label"] == "red"
    other = vision_skill.run({"tenant_id": "other", "image_b64": image}, ctx)
    assert (other["label"], other["model_version"]) == ("rot", "w1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_current_is_re_read_at_most_every_two_seconds() -> None:
    blobs = MemoryBlobStore()
    onnx_bytes, meta = colour_onnx()
    save_model(tenant_id="acme", blobs=blobs, version="v1", onnx_bytes=onnx_bytes, meta=meta)
    clock = FakeClock()
    cache = ModelCache(recheck_s=2.0, clock=clock)
    assert cache.tenant_model(tenant_id="acme", blobs=blobs).version == "v1"  # type: ignore[union-attr]
    save_model(tenant_id="acme", blobs=blobs, version="v2", onnx_bytes=onnx_bytes, meta=meta)
    clock.now += 1.9
    assert cache.tenant_model(tenant_id="acme", blobs=blobs).version == "v1"  # type: ignore[union-attr]
    clock.now += 0.1
    assert cache.tenant_model(tenant_id="acme", blobs=blobs).version == "v2"  # type: ignore[union-attr]


def test_store_without_publishing_then_publish_and_roll_back() -> None:
    blobs = MemoryBlobStore()
    onnx_bytes, meta = colour_onnx()
    save_model(tenant_id="acme", blobs=blobs, version="v1", onnx_bytes=onnx_bytes, meta=meta)
    save_model(
        tenant_id="acme", blobs=blobs, version="v2", onnx_bytes=onnx_bytes, meta=meta, publish=False
    )
    assert current_version(tenant_id="acme", blobs=blobs) == "v1"
    set_current(tenant_id="acme", blobs=blobs, version="v2")
    assert blobs.get(tenant_id="acme", key=CURRENT_KEY) == b"v2"
    set_current(tenant_id="acme", blobs=blobs, version="v1")
    assert current_version(tenant_id="acme", blobs=blobs) == "v1"
    with pytest.raises(ValueError):
        set_current(tenant_id="acme", blobs=blobs, version="v9")
