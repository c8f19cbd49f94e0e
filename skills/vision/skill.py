"""The vision skill: classify one image or a batch (video frames) with the tenant's model.

`run(event, ctx)`: the event and result are `core.skill_contracts` models (`VisionEvent` →
`VisionResult`, or `VisionBatchResult` for `images`). Runs on ONNX Runtime + numpy + Pillow: no
torch import here or in anything this module loads (a test checks).

The model is the tenant's CURRENT version, else the shared default (`skills.vision.model`);
neither → `NoVisionModel` (503). The customer's input errors (`core.images`: too many bytes or
pixels 413, not an image 415, undecodable 422) come back as the result's `fault`, like the asr
skill's; a missing `image_key` (404) and a malformed event (400) are raised: those are the
caller's bugs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from core.errors import BadRequest, LambdeskError
from core.image_headers import decode_image_b64
from core.images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    ImageTooLarge,
    TooManyPixels,
    UndecodableImage,
    UnsupportedImage,
    array_to_rgb,
    open_image,
    resize_rgb,
)
from core.ports import BlobStore, SkillContext
from core.skill_contracts import (
    Fault,
    ImageClassification,
    ImageInput,
    LabelScore,
    VisionBatchResult,
    VisionEvent,
    VisionResult,
)
from skills.vision.model import ModelCache, VisionModel

MAX_IMAGE_BATCH_BYTES = 16 * 1024 * 1024  # all the images of one batch event, decoded from base64

_models = ModelCache()


def _limits(settings: Any) -> tuple[int, int]:
    max_bytes = int(getattr(settings, "max_image_bytes", DEFAULT_MAX_BYTES))
    max_pixels = int(getattr(settings, "max_image_pixels", DEFAULT_MAX_PIXELS))
    return max_bytes, max_pixels


def _read(item: ImageInput, *, tenant_id: str, blobs: BlobStore, max_bytes: int) -> bytes:
    if item.image_b64 is not None:
        return decode_image_b64(item.image_b64, max_bytes=max_bytes)
    assert item.image_key is not None
    try:
        return blobs.get(tenant_id=tenant_id, key=item.image_key)
    except ValueError as exc:  # a key that tries to leave the tenant's space
        raise BadRequest(f"invalid image_key: {exc}") from exc


def _classifications(
    model: VisionModel, images: np.ndarray, sizes: Sequence[tuple[int, int]], top_k: int
) -> list[ImageClassification]:
    ranked = model.top(model.probabilities(images), top_k)
    return [
        ImageClassification(
            label=top[0][0],
            score=round(top[0][1], 6),
            labels=[LabelScore(label=label, score=round(score, 6)) for label, score in top],
            width=width,
            height=height,
            model_version=model.version,
            default_model=model.is_default,
        )
        for top, (width, height) in zip(ranked, sizes, strict=True)
    ]


def classify_arrays(
    *,
    tenant_id: str,
    frames: Sequence[np.ndarray],
    blobs: BlobStore,
    settings: Any,
    top_k: int = 3,
) -> list[ImageClassification]:
    """Classify H×W×3 uint8 arrays (decoded video frames) in one batch, in this process."""
    model = _models.model_for(tenant_id=tenant_id, blobs=blobs, settings=settings)
    if not frames:
        return []
    batch = np.stack([array_to_rgb(frame, model.input_size) for frame in frames])
    sizes = [(int(frame.shape[1]), int(frame.shape[0])) for frame in frames]
    return _classifications(model, batch, sizes, top_k)


def classify(
    event: VisionEvent, *, blobs: BlobStore, settings: Any
) -> tuple[list[ImageClassification], dict[str, float]]:
    """The skill's work for a validated event: (one classification per image, timings in ms)."""
    max_bytes, max_pixels = _limits(settings)
    started = time.perf_counter()
    model = _models.model_for(tenant_id=event.tenant_id, blobs=blobs, settings=settings)
    timings = {"model_ms": (time.perf_counter() - started) * 1000}

    started = time.perf_counter()
    arrays: list[np.ndarray] = []
    sizes: list[tuple[int, int]] = []
    total = 0
    for index, item in enumerate(event.inputs):
        data = _read(item, tenant_id=event.tenant_id, blobs=blobs, max_bytes=max_bytes)
        total += len(data)
        if total > MAX_IMAGE_BATCH_BYTES:
            raise ImageTooLarge(f"the batch is larger than {MAX_IMAGE_BATCH_BYTES} bytes in all")
        try:
            image = open_image(
                data, max_bytes=max_bytes, max_pixels=max_pixels, draft=model.input_size
            )
        except LambdeskError as exc:
            if event.images is None:
                raise
            raise type(exc)(f"images[{index}]: {exc.message}") from exc
        sizes.append(image.size)
        arrays.append(resize_rgb(image, model.input_size))
    timings["decode_ms"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    results = _classifications(model, np.stack(arrays), sizes, event.top_k)
    timings["infer_ms"] = (time.perf_counter() - started) * 1000
    return results, {name: round(value, 2) for name, value in timings.items()}


# The customer's faults: they come back in the result (`fault`), not as an exception (which
# would cross a Lambda boundary as a bare function error, a 503).
INPUT_ERRORS = (ImageTooLarge, TooManyPixels, UnsupportedImage, UndecodableImage)


def _fault(exc: LambdeskError) -> Fault:
    return Fault(status=exc.status, code=exc.code, message=exc.message[:1000])


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """The skill entry point (the local invoker and the Lambda handler both call this)."""
    try:
        parsed = VisionEvent.model_validate(dict(event))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()
        )
        raise BadRequest(f"vision: {problems}") from None
    try:
        results, timings = classify(parsed, blobs=ctx.blobs, settings=ctx.settings)
    except INPUT_ERRORS as exc:
        fault = _fault(exc)
        if parsed.images is not None:
            return VisionBatchResult(fault=fault).model_dump(mode="json", exclude_none=True)
        return VisionResult(fault=fault).model_dump(mode="json", exclude_none=True)
    if parsed.images is not None:
        batch = VisionBatchResult(
            results=results,
            model_version=results[0].model_version,
            default_model=results[0].default_model,
            timings=timings,
        )
        return batch.model_dump(mode="json", exclude_none=True)
    single = VisionResult(**results[0].model_dump(), timings=timings)
    return single.model_dump(mode="json", exclude_none=True)
