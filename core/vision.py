"""Images from customers and clients, for the API and the chat turn: checked, then classified by
the tenant's image model through the vision skill.

Every image is checked here before anything is stored or a skill is asked (`core.image_headers`,
no imaging library): over `max_image_bytes` 413, not PNG/JPEG/WebP/GIF 415, a broken header 422,
more than `max_image_pixels` 413. The pixels are decoded by the vision skill, whose refusals
(undecodable 422, …) come back as a `Fault` and are raised here as the same domain errors.

An image goes to the skill by value (base64) when it is small (`INLINE_MAX_BYTES`: a Lambda
request is at most 6 MB), else by reference: a stored chat image by its key, a larger classify
upload through a temporary blob deleted after the call.

`VisionService.classify` is `POST /v1/images/classify`; `store_session_image` and `classify_key`
are the chat turn's (an image attached to a message lives at
`sessions/<session_id>/images/<name>`, so erasing the session erases it).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass

from pydantic import BaseModel, Field

from core.erasure import session_blob_prefix
from core.ids import new_ulid
from core.image_headers import ImageHeader, check_image, decode_image_b64
from core.models import MessageImage
from core.ports import BlobStore, SkillInvoker
from core.settings import Settings
from core.skill_contracts import MAX_TOP_K, VisionEvent, VisionResult, fault_error

INLINE_MAX_BYTES = 4 * 1024 * 1024
IMAGE_NAME_PATTERN = r"^[0-9A-Z]{26}\.(png|jpg|webp|gif)$"


@dataclass(frozen=True)
class CheckedImage:
    """Image bytes that passed the upfront checks, and what their header says."""

    data: bytes
    header: ImageHeader


class LabelScore(BaseModel):
    label: str
    score: float


class ImageClassified(BaseModel):
    """`POST /v1/images/classify`: the best label, the top labels with their scores (softmax
    probabilities, best first), the image as received, and the model that answered."""

    label: str
    score: float
    labels: list[LabelScore]
    format: str
    width: int
    height: int
    model_version: str
    default_model: bool = Field(description="the shared default model (the tenant has none)")


def session_image_key(session_id: str, name: str) -> str:
    return f"{session_blob_prefix(session_id)}images/{name}"


def session_image_url(session_id: str, name: str) -> str:
    return f"/v1/sessions/{session_id}/images/{name}"


class VisionService:
    """Checks images and has the tenant's image model classify them."""

    def __init__(self, *, blobs: BlobStore, skills: SkillInvoker, settings: Settings) -> None:
        self.blobs = blobs
        self.skills = skills
        self.settings = settings

    def check(self, data: bytes) -> CheckedImage:
        """The upfront checks (413, 415, 422, 413 pixels) of bytes received."""
        settings = self.settings
        header = check_image(
            data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
        )
        return CheckedImage(data=data, header=header)

    def check_b64(self, value: str) -> CheckedImage:
        return self.check(decode_image_b64(value, max_bytes=self.settings.max_image_bytes))

    async def _call(self, event: VisionEvent) -> VisionResult:
        return await self.skills.call(
            "vision", event, VisionResult, timeout=self.settings.vision_timeout_s
        )

    async def classify(
        self, *, tenant_id: str, image: CheckedImage, top_k: int = 3
    ) -> ImageClassified:
        """Classify with the tenant's current model (its shared default when it has none); the
        skill's refusal is raised as the domain error it names (422 undecodable, …)."""
        top_k = max(1, min(top_k, MAX_TOP_K))
        if len(image.data) <= INLINE_MAX_BYTES:
            encoded = base64.b64encode(image.data).decode("ascii")
            result = await self._call(
                VisionEvent(tenant_id=tenant_id, image_b64=encoded, top_k=top_k)
            )
        else:
            key = f"tmp/images/{new_ulid()}.{image.header.ext}"
            await asyncio.to_thread(
                self.blobs.put,
                tenant_id=tenant_id,
                key=key,
                data=image.data,
                content_type=image.header.content_type,
            )
            try:
                result = await self._call(
                    VisionEvent(tenant_id=tenant_id, image_key=key, top_k=top_k)
                )
            finally:
                await asyncio.to_thread(self.blobs.delete, tenant_id=tenant_id, key=key)
        if result.fault is not None:
            raise fault_error(result.fault)
        assert result.label is not None and result.score is not None
        return ImageClassified(
            label=result.label,
            score=result.score,
            labels=[LabelScore(label=i.label, score=i.score) for i in result.labels],
            format=image.header.format,
            width=image.header.width,
            height=image.header.height,
            model_version=result.model_version or "",
            default_model=result.default_model,
        )

    # ------------------------------------------------------------------ images in chat
    def store_session_image(
        self, *, tenant_id: str, session_id: str, image: CheckedImage
    ) -> MessageImage:
        """Store a chat image with its session (erased with it); not classified yet."""
        name = f"{new_ulid()}.{image.header.ext}"
        key = session_image_key(session_id, name)
        self.blobs.put(
            tenant_id=tenant_id, key=key, data=image.data, content_type=image.header.content_type
        )
        return MessageImage(
            key=key,
            name=name,
            url=session_image_url(session_id, name),
            content_type=image.header.content_type,
            bytes=len(image.data),
            width=image.header.width,
            height=image.header.height,
        )

    async def classify_key(self, *, tenant_id: str, key: str, top_k: int = 3) -> VisionResult:
        """The skill's answer for a stored image, its `fault` included (the caller decides)."""
        return await self._call(VisionEvent(tenant_id=tenant_id, image_key=key, top_k=top_k))

    def read_session_image(self, *, tenant_id: str, session_id: str, name: str) -> bytes:
        """A chat image's bytes (`NotFound` when the session has no such image)."""
        return self.blobs.get(tenant_id=tenant_id, key=session_image_key(session_id, name))
