"""The vision skill's event and result, as small Pydantic models (validated in the skill's `run`;
callers build the event with them and read the result with them).

Event: `{"tenant_id", "image_b64" | "image_key"}` for one image, or `{"tenant_id", "images":
[{"image_b64" | "image_key"}, ...]}` for a batch (video frames), plus `top_k`. `image_b64` may be
a `data:image/...;base64,` URL. `image_key` names a blob of the same tenant.

Result: one `ImageClassification` (single image) or `{"results": [...]}` (batch), each with the
best `label`, its `score` (a softmax probability), the `top_k` `labels`, the model version and
whether it is the shared default model.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BATCH = 64
MAX_TOP_K = 20
MAX_B64_CHARS = 16 * 1024 * 1024  # a hard cap before the per-deployment byte limit applies


class ImageInput(BaseModel):
    """One image, by value (base64) or by reference (a blob key of the same tenant)."""

    model_config = ConfigDict(extra="forbid")

    image_b64: str | None = Field(default=None, max_length=MAX_B64_CHARS)
    image_key: str | None = Field(default=None, min_length=1, max_length=512)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.image_b64 is None) == (self.image_key is None):
            raise ValueError("give exactly one of image_b64 and image_key")
        return self


class VisionEvent(BaseModel):
    tenant_id: str = Field(min_length=1, max_length=64)
    image_b64: str | None = Field(default=None, max_length=MAX_B64_CHARS)
    image_key: str | None = Field(default=None, min_length=1, max_length=512)
    images: list[ImageInput] | None = Field(default=None, min_length=1, max_length=MAX_BATCH)
    top_k: int = Field(default=3, ge=1, le=MAX_TOP_K)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        given = sum(x is not None for x in (self.image_b64, self.image_key, self.images))
        if given != 1:
            raise ValueError("give one of image_b64, image_key or images")
        return self

    @property
    def inputs(self) -> list[ImageInput]:
        if self.images is not None:
            return self.images
        return [ImageInput(image_b64=self.image_b64, image_key=self.image_key)]


class LabelScore(BaseModel):
    label: str
    score: float


class ImageClassification(BaseModel):
    label: str
    score: float
    labels: list[LabelScore]
    width: int  # of the image as sent
    height: int
    model_version: str
    default_model: bool


class VisionBatchResult(BaseModel):
    results: list[ImageClassification]
    model_version: str
    default_model: bool
    timings: dict[str, float] = Field(default_factory=dict)


class VisionResult(ImageClassification):
    """The answer for a single image."""

    timings: dict[str, float] = Field(default_factory=dict)
