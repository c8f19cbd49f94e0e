"""Images and video on the aws backend, wired only by environment variables as on AWS: the API
Lambda (Mangum) classifies through the vision function (its real `handler.py`, models in S3 on
moto); a video job is started by an `Event` invocation of the video function (its real
`handler.py` with `LAMBDESK_LOCAL_SKILLS=video`), which probes and moderates in its own process
and calls the vision function over the Lambda wire protocol for every batch of frames."""

from __future__ import annotations

import base64
import sys
import time
from typing import Any

import pytest

import skills.vision.skill as vision_skill
from core.auth import create_tenant_with_keys
from core.bootstrap import build_services
from core.models import Tenant
from core.settings import Settings, get_settings
from infra.routing_skill_invoker import RoutingSkillInvoker
from skills.vision.model import ModelCache, save_model
from tests.integration.aws.conftest import LocalAws
from tests.integration.aws.test_lambda_entrypoints_aws import _call
from tests.vision_fixtures import colour_onnx, encode, make_video, png_header_only, solid

RED = (220, 30, 30)
GREEN = (30, 200, 40)


def _video_function(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import the video function's entry as its container would: with LAMBDESK_LOCAL_SKILLS."""
    sys.modules.pop("skills.video.handler", None)
    with monkeypatch.context() as patch:
        patch.setenv("LAMBDESK_LOCAL_SKILLS", "video")
        get_settings.cache_clear()
        import skills.video.handler as entry
    get_settings.cache_clear()
    return entry


def test_classify_and_moderate_through_the_lambda_functions(
    aws_env: Settings, local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vision_skill, "_models", ModelCache())
    for name in ("vision", "video"):
        local_aws.lambdas.unregister(name)  # the endpoint imports skills/<name>/handler.py
    video_function = _video_function(monkeypatch)
    assert isinstance(video_function.services.skills, RoutingSkillInvoker)
    services = build_services(aws_env)
    _, admin_key, _ = create_tenant_with_keys(
        tenants=services.tenants,
        tenant=Tenant(tenant_id="shop-a", blocked_labels=["red"], moderation_threshold=0.8),
    )
    onnx_bytes, meta = colour_onnx()
    save_model(
        tenant_id="shop-a", blobs=services.blobs, version="v1", onnx_bytes=onnx_bytes, meta=meta
    )
    admin = {"Authorization": f"Bearer {admin_key}"}

    png = encode(solid(GREEN, width=20, height=20), "PNG")
    status, answer = _call(
        "POST", "/v1/images/classify", admin, {"image_b64": base64.b64encode(png).decode()}
    )
    assert status == 200, answer
    assert (answer["label"], answer["model_version"]) == ("green", "v1")
    status, refused = _call(  # a sound header, pixels that do not decode: the skill's fault
        "POST",
        "/v1/images/classify",
        {**admin, "content-type": "image/png"},
        raw=png_header_only(10, 10),
    )
    assert (status, refused["error"]["code"]) == (422, "undecodable_image")

    mp4 = make_video([(GREEN, 1.0), (RED, 2.0)])
    status, job = _call(
        "POST", "/v1/videos/moderate", {**admin, "content-type": "video/mp4"}, raw=mp4
    )
    assert status == 202, job
    deadline = time.monotonic() + 120
    while job.get("status") not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        status, job = _call("GET", f"/v1/jobs/{job['job_id']}", admin)
    assert job["status"] == "succeeded", job
    assert [(s["start"], s["end"], s["labels"]) for s in job["segments"]] == [(1.0, 3.0, ["red"])]
    assert job["model_version"] == "v1"
    assert services.blobs.list(tenant_id="shop-a", prefix="videos/") == []

    status, refused = _call(
        "POST", "/v1/videos/moderate", {**admin, "content-type": "video/mp4"}, raw=b"words" * 10
    )
    assert (status, refused["error"]["code"]) == (415, "unsupported_video")
    local_aws.lambdas.drain()
    video_function.services.close()
    sys.modules.pop("skills.video.handler", None)
    services.close()
