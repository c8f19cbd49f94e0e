"""Video moderation: sample frames (PyAV), classify them in batches through the vision skill (via
the SkillInvoker, so on AWS the vision skill stays its own function), then build the timeline
and the flagged segments (`skills.video.timeline`).

`moderate_video(...)` is what the video job runs; the job wiring (store, 202, callback) calls it
with the tenant's blocked labels and threshold. Frames travel to the skill as JPEG base64 (the
event must be JSON on AWS), at most `batch_size` per call.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.images import encode_jpeg
from core.ports import SkillInvoker
from core.skill_contracts import MAX_IMAGE_BATCH, VisionBatchResult
from skills.video.frames import MAX_VIDEO_BYTES, SampleOptions, UndecodableVideo, sample_frames
from skills.video.timeline import FrameLabels, moderate


@dataclass(frozen=True)
class ModerationOptions:
    blocked: tuple[str, ...] = ()
    threshold: float = 0.5
    sample: SampleOptions = field(default_factory=SampleOptions)
    batch_size: int = 32
    top_k: int = 3
    timeout_s: float = 60.0  # per vision call
    max_bytes: int = MAX_VIDEO_BYTES

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_IMAGE_BATCH:
            raise ValueError(f"batch_size must be 1-{MAX_IMAGE_BATCH}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")


def frames_event(*, tenant_id: str, frames: Sequence[np.ndarray], top_k: int) -> dict[str, Any]:
    """The vision skill's batch event for decoded frames (JPEG, base64)."""
    return {
        "tenant_id": tenant_id,
        "top_k": top_k,
        "images": [
            {"image_b64": base64.b64encode(encode_jpeg(frame)).decode("ascii")} for frame in frames
        ],
    }


async def moderate_video(
    *, tenant_id: str, data: bytes, skills: SkillInvoker, options: ModerationOptions
) -> dict[str, Any]:
    """Sample, classify and moderate one video; the JSON-ready result of the video job."""
    started = time.perf_counter()
    sample = await asyncio.to_thread(
        sample_frames, data, options.sample, max_bytes=options.max_bytes
    )
    sampled_ms = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    labelled: list[FrameLabels] = []
    model_version: str | None = None
    for i in range(0, len(sample.frames), options.batch_size):
        batch = sample.frames[i : i + options.batch_size]
        event = await asyncio.to_thread(
            frames_event,
            tenant_id=tenant_id,
            frames=[f.image for f in batch],
            top_k=options.top_k,
        )
        answer = VisionBatchResult.model_validate(
            await skills.invoke("vision", event, timeout=options.timeout_s)
        )
        if answer.fault is not None:  # frames are ours: a refusal here is a decoding problem
            raise UndecodableVideo(f"a frame at {batch[0].t:g} s: {answer.fault.message}")
        model_version = answer.model_version
        for frame, result in zip(batch, answer.results, strict=True):
            labels = tuple((item.label, item.score) for item in result.labels)
            labelled.append(FrameLabels(t=frame.t, labels=labels))
    classified_ms = (time.perf_counter() - started) * 1000

    moderation = moderate(
        labelled,
        blocked=options.blocked,
        threshold=options.threshold,
        duration_s=sample.duration_s,
    )
    return {
        **moderation.as_dict(),
        "video": asdict(sample.info),
        "mode": options.sample.mode,
        "frames_sampled": len(sample.frames),
        "truncated": sample.truncated,
        "stop_reason": sample.stop_reason,
        "blocked": list(options.blocked),
        "threshold": options.threshold,
        "model_version": model_version,
        "timings": {"sample_ms": round(sampled_ms, 1), "classify_ms": round(classified_ms, 1)},
    }
