"""Typed process settings, read once from `LAMBDESK_*` environment variables.

Local (embedded stores under the data dir) is the default; `LAMBDESK_BACKEND=aws` switches the
composition root (`core.bootstrap`) to the DynamoDB/S3/Lambda adapters and then requires the AWS
names: a missing one is an error at start that names the variable.

`Settings(...)` takes a field from its arguments, else from `LAMBDESK_<FIELD>` (any case), else
its default; pydantic converts the strings. Every field is a scalar, so this is all that
pydantic-settings did here, and importing that package cost the API's cold start about 30 ms.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ENV_PREFIX = "LAMBDESK_"


class Settings(BaseModel):
    """Every knob of a lambdesk process. Tenant-level behaviour lives on `Tenant`, not here."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        """Fields not given as arguments come from their `LAMBDESK_*` variables."""
        if not isinstance(data, dict):
            return data
        environment = {
            name[len(ENV_PREFIX) :].lower(): value
            for name, value in os.environ.items()
            if name.upper().startswith(ENV_PREFIX)
        }
        known = {k: v for k, v in environment.items() if k in cls.model_fields}
        return {**known, **data}

    backend: Literal["local", "aws"] = "local"
    data_dir: Path = Path(".lambdesk")

    # Session-token signing secret. Local: generated once into <data_dir>/secret.key when unset.
    token_secret: str | None = None
    session_token_ttl_s: int = Field(default=3600, gt=0)
    history_ttl_days: int = Field(default=90, gt=0)
    idempotency_ttl_s: int = Field(default=24 * 3600, gt=0)
    job_ttl_days: int = Field(default=7, gt=0)

    # Skills: per-skill timeouts in seconds for synchronous calls (a turn degrades past them).
    intent_timeout_s: float = Field(default=10.0, gt=0)
    retrieval_timeout_s: float = Field(default=10.0, gt=0)
    index_timeout_s: float = Field(default=300.0, gt=0)
    asr_timeout_s: float = Field(default=120.0, gt=0)  # a probe or a transcription
    tts_timeout_s: float = Field(default=60.0, gt=0)
    vision_timeout_s: float = Field(default=10.0, gt=0)  # one image (a chat turn, the API)
    video_probe_timeout_s: float = Field(default=60.0, gt=0)  # the check of an upload
    video_timeout_s: float = Field(default=900.0, gt=0)  # moderating one video (a job)
    skill_workers: int = Field(default=4, gt=0)
    # Skills this process runs itself although the backend calls skills remotely (aws): the video
    # function runs `video` in-process and calls `vision` through Lambda. Comma-separated.
    local_skills: str = ""
    warmup: bool = True  # load the text models in the background when the server starts
    # How stale a warm process's view of a tenant's live model may be: CURRENT is read again at
    # most this often (a newly published model is served within about this many seconds).
    model_refresh_s: float = Field(default=2.0, ge=0)

    # Sentence encoder of the text skills: ONNX Runtime (fast start, no torch at run time) or
    # sentence-transformers on torch; both give the same vectors.
    encoder: Literal["onnx", "torch"] = "onnx"
    encoder_onnx_path: Path | None = None  # a prebuilt export (images); else one in the data dir

    # Speech recognition: engine and model size (weights come from installed packages).
    asr_engine: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    asr_model: Literal["tiny.en", "base"] = "base"

    # The vision model a tenant without its own is served (`lambdesk vision default` builds it);
    # None: <data_dir>/models/vision-default. The vision image bakes one in.
    vision_default_model_dir: Path | None = None

    # Default limits (a tenant may override the per-tenant ones).
    max_text_chars: int = Field(default=2000, gt=0)
    max_json_body_bytes: int = Field(default=64 * 1024, gt=0)
    max_document_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_parse_seconds: float = Field(default=10.0, gt=0)  # time budget to parse one document
    max_pdf_pages: int = Field(default=500, gt=0)
    max_audio_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_audio_seconds: float = Field(default=120.0, gt=0)
    max_image_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=36_000_000, gt=0)  # decompression bombs
    max_video_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_video_seconds: float = Field(default=600.0, gt=0)
    turns_per_minute: int = Field(default=100, gt=0)
    # Throttles of work nobody has a session for yet (429 with Retry-After when exceeded).
    sessions_per_minute_per_client: int = Field(default=30, gt=0)  # per widget key + address
    admin_turns_per_minute: int = Field(default=600, gt=0)  # per admin key, turns w/o a session
    max_metadata_bytes: int = Field(default=4096, gt=0)  # session and message metadata, as JSON
    max_json_depth: int = Field(default=32, gt=0)  # nesting of any JSON request body
    idempotency_lease_s: float = Field(default=30.0, gt=0)  # a claim's owner must finish by then
    # Job callbacks: https to public addresses only. True lifts that (local development only).
    callback_allow_insecure: bool = False

    # Defaults for tenants created by this deployment (per-stage params on AWS); None: the model's.
    default_intent_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    default_knowledge_threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    default_handoff_after: int | None = Field(default=None, ge=1)

    # Conversation log.
    log_stdout: bool = True

    # AWS backend (required when backend == "aws").
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None  # a local AWS endpoint (moto) in tests and run-aws-local
    table_name: str | None = None
    bucket_name: str | None = None
    function_prefix: str | None = None  # "<service>-<stage>-": skill Lambdas are <prefix><skill>
    service_name: str = "lambdesk"

    @model_validator(mode="after")
    def _require_aws_names(self) -> Settings:
        if self.backend == "aws":
            missing = [
                f"LAMBDESK_{name.upper()}"
                for name in ("table_name", "bucket_name", "function_prefix")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"LAMBDESK_BACKEND=aws needs {', '.join(missing)}")
        return self

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once). Tests build `Settings(...)` directly instead."""
    return Settings()
