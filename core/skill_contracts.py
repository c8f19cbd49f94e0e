"""The skills' typed contracts: the event each skill takes and the result it gives back.

A skill is called by name through the `SkillInvoker` port with a JSON object; these models are
that object's shape on both sides. The caller builds an event model and reads the result through
`SkillInvoker.call(...)`; the skill validates what it receives with `parse_event(...)` at its
entry, so a bad event is a clear `BadRequest` naming the field, never a `KeyError` three calls
deep. Every model forbids unknown fields and bounds its strings and lists.

Expected outcomes that are the customer's doing (audio without speech, a file that is not audio)
travel in the result as a `Fault` (status, code, message), not as an exception: an exception
crossing a Lambda boundary loses its type, and the caller must tell "your audio is bad" (4xx, not
worth a retry) from "the skill broke" (retry).
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from core.errors import (
    BadRequest,
    LambdeskError,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)

MAX_TEXT = 10_000
MAX_BATCH = 256
MAX_KEY = 512

TenantId = Annotated[str, Field(min_length=1, max_length=64)]
BlobKey = Annotated[str, Field(min_length=1, max_length=MAX_KEY)]


class Contract(BaseModel):
    """Base of every event: unknown fields are an error, values are validated."""

    # Validators are built on first use, not at import: a process uses a few of these models,
    # and the API Lambda's cold start should not pay for the rest.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Result(BaseModel):
    """Base of every result: unknown fields are ignored, so a skill deployed ahead of its caller
    may add fields without breaking it."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Fault(Result):
    """A failure the caller caused (bad input), reported in a result instead of raised."""

    status: int = Field(ge=400, le=499)
    code: str = Field(max_length=100)
    message: str = Field(max_length=1000)


def fault_error(fault: Fault) -> LambdeskError:
    """The domain error of a skill's `Fault` (its status and code kept)."""
    kinds: dict[int, type[LambdeskError]] = {
        413: PayloadTooLarge,
        415: UnsupportedMediaType,
        422: Unprocessable,
    }
    return kinds.get(fault.status, BadRequest)(fault.message, code=fault.code)


# --------------------------------------------------------------------------- intent


class IntentEvent(Contract):
    tenant_id: TenantId
    text: str = Field(max_length=MAX_TEXT)


class IntentBatchEvent(Contract):
    tenant_id: TenantId
    texts: list[Annotated[str, Field(max_length=MAX_TEXT)]] = Field(max_length=MAX_BATCH)


class RankedIntent(Result):
    intent: str
    confidence: float


class RankedAct(Result):
    """A built-in dialogue act (greet, thanks, goodbye, are_you_a_bot, what_can_you_do, affirm,
    deny, abuse) found in the message, with the act model's probability."""

    act: str
    confidence: float


class IntentResult(Result):
    """`intent` is None when the model rejects the text as out of scope, or has no model.

    Dialogue acts come from their own model and never take probability mass from the tenant's
    intents: `acts` are the small-talk parts of the message in order (empty: none), and
    `small_talk` says the message is nothing else. When only part of the message is a request
    ("hi, my card was stolen"), `request_text` is that part and the intent was classified on it.
    """

    intent: str | None = None
    confidence: float = 0.0
    ranking: list[RankedIntent] = Field(default_factory=list)
    model_version: str | None = None
    acts: list[RankedAct] = Field(default_factory=list)
    small_talk: bool = False
    request_text: str | None = None


class IntentBatchResult(Result):
    results: list[IntentResult]


# --------------------------------------------------------------------------- retrieval


class SearchEvent(Contract):
    """`focus`: the words that matter most when the answer passage is chosen (a follow-up's own
    words, when `query` also carries the previous turn's); `fusion`/`select` switch the lexical
    fusion and the answer selection off (for before/after measurements)."""

    op: Literal["search"] = "search"
    tenant_id: TenantId
    query: str = Field(max_length=MAX_TEXT)
    top_k: int = Field(default=3, ge=1, le=50)
    focus: str | None = Field(default=None, max_length=MAX_TEXT)
    fusion: bool = True
    select: bool = True


class IndexEvent(Contract):
    op: Literal["index"]
    tenant_id: TenantId
    doc_id: str = Field(min_length=1, max_length=128)


class RebuildEvent(Contract):
    op: Literal["rebuild"]
    tenant_id: TenantId


class Hit(Result):
    """One knowledge passage. `score` is the dense cosine similarity in [-1, 1] of the query and
    the chunk (what `knowledge_threshold` compares), whatever ranked the hits; `lexical` is the
    chunk's BM25 score relative to the best one of the query (0..1). `answer` is the part of the
    chunk that answers the query (its best sentences, or the matching FAQ pair's answer; "" when
    not selected); `anchor` links to the chunk's section (the heading's slug)."""

    doc_id: str
    chunk_id: str
    title: str = ""
    heading: str = ""
    text: str
    score: float
    lexical: float = 0.0
    answer: str = ""
    anchor: str = ""


class SearchResult(Result):
    hits: list[Hit] = Field(default_factory=list)
    index_version: str | None = None


class IndexResult(Result):
    doc_id: str
    chunks: int
    index_version: str | None = None


class RebuildResult(Result):
    documents: int
    chunks: int
    index_version: str | None = None


def _op(default: str) -> Discriminator:
    """Events of one skill are told apart by `op`; an event without one is the skill's main
    operation (`search`, `transcribe`, `speak`)."""

    def tag(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("op", default))
        return str(getattr(value, "op", default))

    return Discriminator(tag)


RetrievalEvent = Annotated[
    Annotated[SearchEvent, Tag("search")]
    | Annotated[IndexEvent, Tag("index")]
    | Annotated[RebuildEvent, Tag("rebuild")],
    _op("search"),
]


@cache
def retrieval_events() -> TypeAdapter[SearchEvent | IndexEvent | RebuildEvent]:
    """The validator of the union (built once, on first use)."""
    return TypeAdapter(RetrievalEvent)


# --------------------------------------------------------------------------- asr


class ProbeEvent(Contract):
    """Check an uploaded voice message (stored at `audio_key`) before a job is made of it."""

    op: Literal["probe"]
    tenant_id: TenantId
    audio_key: BlobKey
    content_type: str = Field(default="", max_length=200)
    sniff: bool = False  # an untyped upload: find the format from the bytes
    max_seconds: float = Field(gt=0, le=3600)


class ProbeResult(Result):
    ext: str | None = None  # the file extension of the format found
    duration_s: float | None = None
    fault: Fault | None = None


class TranscribeEvent(Contract):
    op: Literal["transcribe"] = "transcribe"
    tenant_id: TenantId
    audio_key: BlobKey | None = None
    audio_b64: str | None = Field(default=None, max_length=16 * 1024 * 1024)
    language: str | None = Field(default=None, max_length=16)
    beam_size: int = Field(default=5, ge=1, le=10)
    engine: Literal["faster-whisper", "openai-whisper"] | None = None
    model: Literal["tiny.en", "base"] | None = None
    max_seconds: float | None = Field(default=None, gt=0, le=3600)


class TranscribeResult(Result):
    text: str = ""
    language: str | None = None
    duration_s: float = 0.0
    speech_s: float = 0.0
    engine: str = ""
    model: str = ""
    timings: dict[str, float] = Field(default_factory=dict)
    fault: Fault | None = None


AsrEvent = Annotated[
    Annotated[ProbeEvent, Tag("probe")] | Annotated[TranscribeEvent, Tag("transcribe")],
    _op("transcribe"),
]


@cache
def asr_events() -> TypeAdapter[ProbeEvent | TranscribeEvent]:
    """The validator of the union (built once, on first use)."""
    return TypeAdapter(AsrEvent)


# --------------------------------------------------------------------------- tts

AudioFormat = Literal["wav", "ogg", "mp3"]


class SpeakEvent(Contract):
    """Speak `text`; with `out_key` the audio is stored there, else it comes back inline."""

    op: Literal["speak"] = "speak"
    tenant_id: TenantId
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    format: AudioFormat = "wav"
    out_key: BlobKey | None = None
    voice: str | None = Field(default=None, max_length=100)
    length_scale: float | None = Field(default=None, gt=0.2, le=5.0)


class SpeakResult(Result):
    key: str | None = None
    audio_b64: str | None = None
    duration_s: float
    sample_rate: int
    format: AudioFormat
    timings: dict[str, float] = Field(default_factory=dict)


class TranscodeEvent(Contract):
    """A rendition of stored speech (`in_key`) in another format, stored at `out_key`."""

    op: Literal["transcode"]
    tenant_id: TenantId
    in_key: BlobKey
    out_key: BlobKey
    format: AudioFormat


class TranscodeResult(Result):
    key: str
    format: AudioFormat
    bytes: int


TtsEvent = Annotated[
    Annotated[SpeakEvent, Tag("speak")] | Annotated[TranscodeEvent, Tag("transcode")],
    _op("speak"),
]


@cache
def tts_events() -> TypeAdapter[SpeakEvent | TranscodeEvent]:
    """The validator of the union (built once, on first use)."""
    return TypeAdapter(TtsEvent)


# --------------------------------------------------------------------------- vision
# Event: `{"tenant_id", "image_b64" | "image_key"}` for one image, or `{"tenant_id", "images":
# [{"image_b64" | "image_key"}, ...]}` for a batch (video frames), plus `top_k`. `image_b64` may be
# a `data:image/...;base64,` URL; `image_key` names a blob of the same tenant. Result: one
# `VisionResult` (single image) or a `VisionBatchResult`, each image with the best `label`, its
# `score` (a softmax probability), the `top_k` `labels`, the model version and whether it is the
# shared default model.

MAX_IMAGE_BATCH = 64
MAX_TOP_K = 20
MAX_B64_CHARS = 16 * 1024 * 1024  # a hard cap before the per-deployment byte limit applies


class ImageInput(Contract):
    """One image, by value (base64) or by reference (a blob key of the same tenant)."""

    image_b64: str | None = Field(default=None, max_length=MAX_B64_CHARS)
    image_key: str | None = Field(default=None, min_length=1, max_length=512)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.image_b64 is None) == (self.image_key is None):
            raise ValueError("give exactly one of image_b64 and image_key")
        return self


class VisionEvent(Contract):
    tenant_id: str = Field(min_length=1, max_length=64)
    image_b64: str | None = Field(default=None, max_length=MAX_B64_CHARS)
    image_key: str | None = Field(default=None, min_length=1, max_length=512)
    images: list[ImageInput] | None = Field(default=None, min_length=1, max_length=MAX_IMAGE_BATCH)
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


class LabelScore(Result):
    label: str
    score: float


class ImageClassification(Result):
    label: str
    score: float
    labels: list[LabelScore]
    width: int  # of the image as sent
    height: int
    model_version: str
    default_model: bool


class VisionBatchResult(Result):
    """The answers for `images`, in order; or the `fault` that refused one of them."""

    results: list[ImageClassification] = Field(default_factory=list)
    model_version: str | None = None
    default_model: bool = False
    timings: dict[str, float] = Field(default_factory=dict)
    fault: Fault | None = None


class VisionResult(Result):
    """The answer for a single image: its classification, or the `fault` that refused it (too
    many bytes or pixels 413, not an image 415, undecodable 422: the customer's doing)."""

    label: str | None = None
    score: float | None = None
    labels: list[LabelScore] = Field(default_factory=list)
    width: int | None = None  # of the image as sent
    height: int | None = None
    model_version: str | None = None
    default_model: bool = False
    timings: dict[str, float] = Field(default_factory=dict)
    fault: Fault | None = None


# --------------------------------------------------------------------------- video
# The `video` skill runs in the video function (PyAV): `probe` checks an upload before a job is
# made of it; `moderate` samples frames, classifies them through the vision skill (batches) and
# answers the timeline and the flagged segments.

MAX_BLOCKED_LABELS = 100


class VideoProbeEvent(Contract):
    op: Literal["probe"]
    tenant_id: TenantId
    video_key: BlobKey
    content_type: str = Field(default="", max_length=200)
    max_seconds: float = Field(gt=0, le=3600)


class VideoProbeResult(Result):
    format: str | None = None  # mp4 or webm (a mov is mp4's container)
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None  # as the container says (decoding is bounded again)
    fault: Fault | None = None


class ModerateEvent(Contract):
    op: Literal["moderate"] = "moderate"
    tenant_id: TenantId
    video_key: BlobKey
    blocked: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=MAX_BLOCKED_LABELS
    )
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    mode: Literal["interval", "scene"] = "interval"
    every_s: float = Field(default=1.0, ge=0.1, le=60.0)
    max_seconds: float = Field(default=600.0, gt=0, le=3600)
    top_k: int = Field(default=3, ge=1, le=MAX_TOP_K)


class TimelineSpan(Result):
    start: float
    end: float
    label: str
    score: float
    frames: int


class FlaggedSegment(Result):
    start: float
    end: float
    labels: list[str]
    score: float
    frames: int


class FrameLabel(Result):
    t: float
    label: str
    score: float


class ModerationResult(Result):
    """A moderated video: the timeline of best labels, the flagged segments (a blocked label at
    or above the threshold), each sampled frame's label, and how decoding went."""

    flagged: bool = False
    duration_s: float = 0.0
    timeline: list[TimelineSpan] = Field(default_factory=list)
    segments: list[FlaggedSegment] = Field(default_factory=list)
    frames: list[FrameLabel] = Field(default_factory=list)
    video: dict[str, Any] = Field(default_factory=dict)
    mode: str = "interval"
    frames_sampled: int = 0
    truncated: bool = False
    stop_reason: str | None = None
    blocked: list[str] = Field(default_factory=list)
    threshold: float = 0.5
    model_version: str | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    fault: Fault | None = None


VideoEvent = Annotated[
    Annotated[VideoProbeEvent, Tag("probe")] | Annotated[ModerateEvent, Tag("moderate")],
    _op("moderate"),
]


@cache
def video_events() -> TypeAdapter[VideoProbeEvent | ModerateEvent]:
    """The validator of the union (built once, on first use)."""
    return TypeAdapter(VideoEvent)


# --------------------------------------------------------------------------- job functions


class JobEvent(Contract):
    """What a job function (the voice pipeline's Lambda) is invoked with."""

    tenant_id: TenantId
    job_id: str = Field(min_length=1, max_length=128)


class JobRunResult(Result):
    job_id: str
    status: str


# --------------------------------------------------------------------------- helpers

M = TypeVar("M")


def parse_event(skill: str, validator: type[M] | TypeAdapter[M], event: Any) -> M:
    """Validate a skill's incoming event with a contract model or a union's `TypeAdapter`; a
    `BadRequest` naming the skill and the offending fields otherwise."""
    try:
        if isinstance(validator, TypeAdapter):
            return validator.validate_python(event)
        return validator.model_validate(event)  # type: ignore[attr-defined]
    except ValidationError as exc:
        raise BadRequest(f"{skill}: invalid event: {describe_validation(exc)}") from None


def describe_validation(exc: ValidationError, limit: int = 3) -> str:
    """`field.path: message; …` for the first few errors of a validation failure."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "(event)"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
