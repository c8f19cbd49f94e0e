"""`POST /v1/videos/moderate` over HTTP: videos generated with PyAV (solid-colour stretches whose
classes are known) run through the job — upload, probe by the video skill, the job worker, frames
classified in batches by the vision skill (a hand-made ONNX colour model), the timeline — and
the stretches of the tenant's blocked label are flagged. Also: `?wait`, polling, scene mode,
multipart, a signed callback, every refusal (413, 415, 422) with nothing left stored, and who
may call it."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import skills.vision.skill as vision_skill
from core.callbacks import callback_secret, verify_callback
from core.settings import Settings
from skills.vision.model import ModelCache, save_model
from tests.integration.conftest import LiveApi
from tests.vision_fixtures import colour_onnx, encode, make_video, solid

RED = (220, 30, 30)
GREEN = (30, 200, 40)
BLUE = (30, 40, 220)
MAX_BYTES = 400_000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        backend="local",
        data_dir=tmp_path / "data",
        log_stdout=False,
        warmup=False,
        max_video_bytes=MAX_BYTES,
        max_video_seconds=8.0,
        callback_allow_insecure=True,  # the receiver below listens on loopback
    )


@pytest.fixture
def api(live_api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApi]:
    """acme blocks "red" at 0.8, its model says red/green/blue."""
    monkeypatch.setattr(vision_skill, "_models", ModelCache())
    onnx_bytes, meta = colour_onnx()
    save_model(
        tenant_id="acme",
        blobs=live_api.services.blobs,
        version="v1",
        onnx_bytes=onnx_bytes,
        meta=meta,
    )
    tenants = live_api.services.tenants
    acme = tenants.get_tenant(tenant_id="acme")
    tenants.update_tenant(
        acme.model_copy(update={"blocked_labels": ["red"], "moderation_threshold": 0.8})
    )
    yield live_api


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return make_video([(GREEN, 2.0), (RED, 2.0), (BLUE, 2.0)])


def nothing_left(api: LiveApi) -> None:
    assert api.services.blobs.list(tenant_id="acme", prefix="videos/") == []


def poll(api: LiveApi, url: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.client.get(url, headers=api.acme.admin).json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_the_blocked_stretch_is_flagged(api: LiveApi, mp4: bytes) -> None:
    response = api.client.post(
        "/v1/videos/moderate?wait=30",
        headers={**api.acme.admin, "Content-Type": "video/mp4"},
        content=mp4,
    )
    assert response.status_code == 200, response.text
    job = response.json()
    assert (job["kind"], job["status"]) == ("video", "succeeded")
    assert [(s["label"], s["start"], s["end"]) for s in job["timeline"]] == [
        ("green", 0.0, 2.0),
        ("red", 2.0, 4.0),
        ("blue", 4.0, 6.0),
    ]
    assert [(s["start"], s["end"], s["labels"]) for s in job["segments"]] == [(2.0, 4.0, ["red"])]
    assert job["flagged"] is True and job["frames_sampled"] == 6
    assert (job["blocked"], job["threshold"], job["model_version"]) == (["red"], 0.8, "v1")
    assert job["video"]["format"] == "mp4" and job["truncated"] is False
    assert {"sample_ms", "classify_ms", "job_ms"} <= set(job["timings"])
    again = api.client.get(job["status_url"], headers=api.acme.admin).json()
    assert again["segments"] == job["segments"]
    nothing_left(api)  # the upload is gone once the job has its result


def test_202_then_polling_scene_mode_and_multipart_webm(api: LiveApi) -> None:
    webm = make_video([(RED, 1.0), (GREEN, 2.0)], container="webm", codec="libvpx")
    accepted = api.client.post(
        "/v1/videos/moderate?mode=scene",
        headers=api.acme.admin,
        files={"file": ("clip.webm", webm, "video/webm")},
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] in ("queued", "running")
    done = poll(api, accepted.json()["status_url"])
    assert done["status"] == "succeeded", done
    assert (done["mode"], [f["t"] for f in done["frames"]]) == ("scene", [0.0, 1.0])
    assert [(s["start"], s["end"]) for s in done["segments"]] == [(0.0, 1.0)]


def test_every_two_seconds_and_a_clean_mov(api: LiveApi) -> None:
    mov = make_video([(GREEN, 4.0)], container="mov")
    done = api.client.post(
        "/v1/videos/moderate?wait=30&every=2",
        headers={**api.acme.admin, "Content-Type": "video/quicktime"},
        content=mov,
    ).json()
    assert [f["t"] for f in done["frames"]] == [0.0, 2.0]
    assert done["flagged"] is False and done["segments"] == []


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("image/png", encode(solid(RED), "PNG"), 415, "unsupported_video"),
        ("application/octet-stream", encode(solid(RED), "PNG"), 415, "unsupported_video"),
        ("video/mp4", b"not a video, only words", 415, "unsupported_video"),
        ("video/mp4", b"", 422, "undecodable_video"),
        ("video/mp4", b"\x00" * (MAX_BYTES + 1), 413, None),
    ],
)
def test_refusals_leave_nothing_behind(
    api: LiveApi, content_type: str, body: bytes, status: int, code: str | None
) -> None:
    response = api.client.post(
        "/v1/videos/moderate",
        headers={**api.acme.admin, "Content-Type": content_type},
        content=body,
    )
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code
    nothing_left(api)
    assert api.services.jobs.list_unfinished() == []


def test_longer_than_allowed_is_413_from_the_probe(api: LiveApi) -> None:
    long = make_video([(GREEN, 9.0)], fps=2)
    response = api.client.post(
        "/v1/videos/moderate", headers={**api.acme.admin, "Content-Type": "video/mp4"}, content=long
    )
    assert (response.status_code, response.json()["error"]["code"]) == (413, "video_too_long")
    nothing_left(api)


def test_only_the_admin_key_may_moderate_and_jobs_stay_in_their_tenant(
    api: LiveApi, mp4: bytes
) -> None:
    session = api.open_session(api.acme)
    for headers in (
        {**api.token_headers(session), "Origin": api.acme.origin},
        api.acme.widget(),
    ):
        refused = api.client.post(
            "/v1/videos/moderate", headers={**headers, "Content-Type": "video/mp4"}, content=mp4
        )
        assert refused.status_code == 403
    done = api.client.post(
        "/v1/videos/moderate?wait=30",
        headers={**api.acme.admin, "Content-Type": "video/mp4"},
        content=mp4,
    ).json()
    assert api.client.get(done["status_url"], headers=api.globex.admin).status_code == 404
    assert api.client.get(done["status_url"], headers=api.token_headers(session)).status_code == 404


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_a_signed_callback_carries_the_flagged_segments(
    api: LiveApi, mp4: bytes, receiver: str
) -> None:
    headers = {**api.acme.admin, "Content-Type": "video/mp4", "X-Callback-Url": receiver}
    accepted = api.client.post("/v1/videos/moderate", headers=headers, content=mp4)
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 60
    while not _Receiver.received and time.monotonic() < deadline:
        time.sleep(0.1)
    ((got, body),) = _Receiver.received
    secret = callback_secret(token_secret=api.services.token_secret, tenant_id="acme")
    assert verify_callback(
        secret=secret,
        timestamp=got["x-lambdesk-timestamp"],
        body=body,
        signature=got["x-lambdesk-signature"],
    )
    payload = json.loads(body)
    assert payload["job_id"] == accepted.json()["job_id"] and payload["kind"] == "video"
    assert [(s["start"], s["end"]) for s in payload["segments"]] == [(2.0, 4.0)]


def test_a_callback_to_a_private_address_is_refused_by_default(
    api: LiveApi, mp4: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.services.settings, "callback_allow_insecure", False)
    response = api.client.post(
        "/v1/videos/moderate",
        headers={
            **api.acme.admin,
            "Content-Type": "video/mp4",
            "X-Callback-Url": "https://127.0.0.1/hook",
        },
        content=mp4,
    )
    assert response.status_code == 400, response.text
    nothing_left(api)
