"""Frame sampling for video moderation, with PyAV: mp4, webm or mov in, RGB frames out.

Two modes: `interval` (one frame every `every_s` seconds, 1 by default) and `scene` (a frame at
each scene change: a cheap colour-histogram difference between consecutive frames, plus one at
least every `scene_max_gap_s` so a long still shot is still looked at).

Hard bounds, because the bytes come from the network: the container must be mp4/mov or
webm/matroska (else `UnsupportedVideo`, 415), frames at most 4K (`TooManyPixels`, 413), and
decoding stops — saying so in `stop_reason` — past `max_seconds` of video (10 min), `max_frames`
sampled frames, or `max_decode_s` of wall-clock time (or at a damaged tail, keeping what came
before). Frames come out as H×W×3 uint8 arrays,
the longer side at most `frame_side` pixels, ready for the vision skill's batch call.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from core.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType

Mode = Literal["interval", "scene"]
StopReason = Literal["duration", "frames", "time", "error"]

MAX_VIDEO_BYTES = 50 * 1024 * 1024
MAX_SECONDS = 600.0
MAX_FRAMES = 600
MAX_DECODE_S = 300.0
MAX_FRAME_PIXELS = 3840 * 2160
FRAME_SIDE = 256
# PyAV (FFmpeg) demuxer names -> ours; anything else is refused
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "webm"}
CONTENT_TYPES = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}


class UnsupportedVideo(UnsupportedMediaType):
    code = "unsupported_video"

    def __init__(self, message: str = "not a video: send mp4, webm or mov") -> None:
        super().__init__(message)


class UndecodableVideo(Unprocessable):
    code = "undecodable_video"

    def __init__(self, message: str = "could not decode the video") -> None:
        super().__init__(message)


class VideoTooLarge(PayloadTooLarge):
    code = "video_too_large"


@dataclass(frozen=True)
class SampleOptions:
    mode: Mode = "interval"
    every_s: float = 1.0
    scene_threshold: float = 0.3  # half the L1 distance of two colour histograms, 0-1
    scene_min_gap_s: float = 0.5
    scene_max_gap_s: float = 10.0
    max_seconds: float = MAX_SECONDS
    max_frames: int = MAX_FRAMES
    max_decode_s: float = MAX_DECODE_S
    frame_side: int = FRAME_SIDE

    def __post_init__(self) -> None:
        if self.mode not in ("interval", "scene"):
            raise ValueError("mode must be interval or scene")
        if not (self.every_s > 0 and self.max_seconds > 0 and self.max_frames > 0):
            raise ValueError("every_s, max_seconds and max_frames must be positive")
        if not 0 < self.scene_threshold <= 1:
            raise ValueError("scene_threshold must be in (0, 1]")


@dataclass
class SampledFrame:
    t: float  # seconds from the start
    image: np.ndarray  # H×W×3 uint8


@dataclass(frozen=True)
class VideoInfo:
    format: str  # mp4 or webm
    codec: str
    width: int
    height: int
    duration_s: float | None  # from the container; None when it does not say
    fps: float | None


@dataclass
class FrameSample:
    info: VideoInfo
    frames: list[SampledFrame] = field(default_factory=list)
    decoded_s: float = 0.0  # how far into the video decoding got
    stop_reason: StopReason | None = None  # None: the whole video was read

    @property
    def truncated(self) -> bool:
        return self.stop_reason is not None

    @property
    def duration_s(self) -> float:
        """The video's length as far as this sample knows it."""
        if self.info.duration_s is not None and not self.truncated:
            return max(self.info.duration_s, self.decoded_s)
        return self.decoded_s


def _open(data: bytes, max_bytes: int) -> Any:
    import av

    if len(data) > max_bytes:
        raise VideoTooLarge(f"video is {len(data)} bytes; the limit is {max_bytes}")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except Exception as exc:  # PyAV raises many error types for garbage input
        raise UnsupportedVideo() from exc
    if container.format.name not in CONTAINERS:
        container.close()
        raise UnsupportedVideo(f"{container.format.name} is not mp4, webm or mov")
    if not container.streams.video:
        container.close()
        raise UndecodableVideo("the file has no video stream")
    return container


def _info(container: Any) -> VideoInfo:
    stream = container.streams.video[0]
    width = int(stream.codec_context.width or 0)
    height = int(stream.codec_context.height or 0)
    duration: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000  # AV_TIME_BASE
    rate = stream.average_rate or stream.guessed_rate
    return VideoInfo(
        format=CONTAINERS[container.format.name],
        codec=str(stream.codec_context.name),
        width=width,
        height=height,
        duration_s=duration,
        fps=float(rate) if rate else None,
    )


def probe_video(data: bytes, *, max_bytes: int = MAX_VIDEO_BYTES) -> VideoInfo:
    """What the container says (format, codec, size, duration), without decoding frames."""
    container = _open(data, max_bytes)
    try:
        return _info(container)
    finally:
        container.close()


def _histogram(frame: Any) -> np.ndarray:
    """16 bins per RGB channel of a 32×18 thumbnail, normalised to sum to 1 per channel."""
    small = frame.to_ndarray(format="rgb24", width=32, height=18)
    bins = (small >> 4).reshape(-1, 3)  # 0-15 per channel
    counts = np.stack([np.bincount(bins[:, c], minlength=16) for c in range(3)])
    return counts.astype(np.float64) / bins.shape[0]


def scene_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the mean per-channel L1 distance of two histograms: 0 identical, 1 disjoint."""
    return float(np.abs(a - b).sum(axis=1).mean() / 2)


def _output_size(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def sample_frames(
    data: bytes,
    options: SampleOptions | None = None,
    *,
    max_bytes: int = MAX_VIDEO_BYTES,
    clock: Any = time.monotonic,
) -> FrameSample:
    """Decode `data` and keep the frames the mode picks (see the module docstring)."""
    options = options or SampleOptions()
    container = _open(data, max_bytes)
    try:
        info = _info(container)
        if info.width < 1 or info.height < 1:
            raise UndecodableVideo("the video stream has no frame size")
        if info.width * info.height > MAX_FRAME_PIXELS:
            raise VideoTooLarge(f"frames are {info.width}×{info.height}; the limit is 4K")
        sample = FrameSample(info=info)
        out_w, out_h = _output_size(info.width, info.height, options.frame_side)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        deadline = clock() + options.max_decode_s
        next_t = 0.0
        last_kept: float | None = None
        previous: np.ndarray | None = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else index / (info.fps or 25.0)
                t = max(t, 0.0)
                if t >= options.max_seconds:
                    sample.stop_reason = "duration"
                    break
                if clock() > deadline:
                    sample.stop_reason = "time"
                    break
                sample.decoded_s = max(sample.decoded_s, t)
                if options.mode == "interval":
                    keep = t + 1e-6 >= next_t
                    if keep:
                        while next_t <= t + 1e-6:
                            next_t += options.every_s
                else:
                    histogram = _histogram(frame)
                    changed = previous is not None and (
                        scene_distance(previous, histogram) >= options.scene_threshold
                    )
                    previous = histogram
                    since = None if last_kept is None else t - last_kept
                    keep = (
                        since is None
                        or (changed and since >= options.scene_min_gap_s)
                        or since >= options.scene_max_gap_s
                    )
                if not keep:
                    continue
                if len(sample.frames) >= options.max_frames:
                    sample.stop_reason = "frames"
                    break
                image = frame.to_ndarray(format="rgb24", width=out_w, height=out_h)
                sample.frames.append(SampledFrame(t=round(t, 3), image=image))
                last_kept = t
        except UndecodableVideo:
            raise
        except Exception as exc:
            if not sample.frames:
                raise UndecodableVideo(f"could not decode the video: {exc}") from exc
            sample.stop_reason = "error"  # a damaged tail: keep what decoded
        if sample.stop_reason is None and info.fps:
            # the last frame is shown for one frame period
            sample.decoded_s = sample.decoded_s + 1.0 / info.fps
        return sample
    finally:
        container.close()
