"""The video skill, run by the video function (it has PyAV): checks and moderates uploaded video.

`run(event, ctx)` takes (contracts in `core.skill_contracts`):

- `VideoProbeEvent` `{"op": "probe", "tenant_id", "video_key", "content_type", "max_seconds"}`
  → `VideoProbeResult` `{"format", "codec", "width", "height", "duration_s"}`: the check of an
  upload before a video job is made of it (the API itself never opens video);
- `ModerateEvent` `{"op": "moderate", "tenant_id", "video_key", "blocked", "threshold", "mode",
  "every_s", "max_seconds"}` → `ModerationResult`: frames sampled with PyAV (one every `every_s`
  seconds, or one per scene change), classified in batches by the vision skill through
  `ctx.skills` (on AWS the vision function, so the tenant's model is served in one place), then
  the timeline of labels and the segments flagged for the tenant's blocked labels.

The customer's faults come back as the result's `fault`, never as an exception: not mp4, webm or
mov (415), more bytes, more seconds (as the container says) or larger frames than allowed (413),
no video stream or nothing decodable (422). Decoding is bounded again while moderating (decoded
seconds, sampled frames, wall-clock time): a header that lies about its length cannot smuggle
more video past the limits; the result says where and why decoding stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from core.errors import LambdeskError, SkillError, UnsupportedMediaType
from core.ports import SkillContext
from core.skill_contracts import (
    Fault,
    ModerateEvent,
    ModerationResult,
    VideoProbeEvent,
    VideoProbeResult,
    parse_event,
    video_events,
)
from skills.video.frames import (
    CONTENT_TYPES,
    MAX_FRAME_PIXELS,
    MAX_VIDEO_BYTES,
    SampleOptions,
    UndecodableVideo,
    UnsupportedVideo,
    VideoTooLarge,
    probe_video,
)
from skills.video.moderation import ModerationOptions, moderate_video

INPUT_ERRORS = (UnsupportedVideo, UndecodableVideo, VideoTooLarge)
VISION_TIMEOUT_S = 60.0  # one batch of frames


def _fault(exc: LambdeskError) -> Fault:
    return Fault(status=exc.status, code=exc.code, message=exc.message[:1000])


def _max_bytes(ctx: SkillContext) -> int:
    return int(getattr(ctx.settings, "max_video_bytes", MAX_VIDEO_BYTES))


def probe_upload(request: VideoProbeEvent, ctx: SkillContext) -> VideoProbeResult:
    """What the container says about a stored upload, or the fault that refuses it."""
    declared = request.content_type.split(";", 1)[0].strip().lower()
    if declared and declared != "application/octet-stream" and declared not in CONTENT_TYPES:
        return VideoProbeResult(
            fault=_fault(
                UnsupportedMediaType(
                    f"unsupported video type {declared!r}; send mp4, webm or mov",
                    code="unsupported_video",
                )
            )
        )
    data = ctx.blobs.get(tenant_id=request.tenant_id, key=request.video_key)
    try:
        info = probe_video(data, max_bytes=_max_bytes(ctx))
        if info.width < 1 or info.height < 1:
            raise UndecodableVideo("the video stream has no frame size")
        if info.width * info.height > MAX_FRAME_PIXELS:
            raise VideoTooLarge(f"frames are {info.width}×{info.height}; the limit is 4K")
        if info.duration_s is not None and info.duration_s > request.max_seconds:
            raise VideoTooLarge(
                f"video is {info.duration_s:.1f} s long; the limit is {request.max_seconds:g} s",
                code="video_too_long",
            )
    except INPUT_ERRORS as exc:
        return VideoProbeResult(fault=_fault(exc))
    return VideoProbeResult(
        format=info.format,
        codec=info.codec,
        width=info.width,
        height=info.height,
        duration_s=None if info.duration_s is None else round(info.duration_s, 3),
    )


def moderate_upload(request: ModerateEvent, ctx: SkillContext) -> ModerationResult:
    """Sample, classify (through the vision skill) and moderate a stored video."""
    if ctx.skills is None:
        raise SkillError("video", "moderation needs a skill invoker to reach the vision skill")
    data = ctx.blobs.get(tenant_id=request.tenant_id, key=request.video_key)
    options = ModerationOptions(
        blocked=tuple(request.blocked),
        threshold=request.threshold,
        sample=SampleOptions(
            mode=request.mode, every_s=request.every_s, max_seconds=request.max_seconds
        ),
        top_k=request.top_k,
        timeout_s=float(getattr(ctx.settings, "vision_timeout_s", VISION_TIMEOUT_S)),
        max_bytes=_max_bytes(ctx),
    )
    try:
        # this runs in a worker thread (the invoker's pool, or the Lambda's own): a loop of its own
        result = asyncio.run(
            moderate_video(
                tenant_id=request.tenant_id, data=data, skills=ctx.skills, options=options
            )
        )
    except INPUT_ERRORS as exc:
        return ModerationResult(fault=_fault(exc))
    return ModerationResult.model_validate(result)


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """The skill entry point (the local invoker and the video function both call this)."""
    request = parse_event("video", video_events(), event)
    if isinstance(request, VideoProbeEvent):
        answer: VideoProbeResult | ModerationResult = probe_upload(request, ctx)
    else:
        answer = moderate_upload(request, ctx)
    return answer.model_dump(mode="json", exclude_none=True)
