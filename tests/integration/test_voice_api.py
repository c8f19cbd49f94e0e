"""The voice REST flow over real HTTP: upload, 202 and polling, `?wait`, signed callback, reply
audio, history, tenant isolation, and every rejected input (nothing stored half-way)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.callbacks import callback_secret, verify_callback
from core.settings import Settings
from skills.asr.wer import wer
from skills.audio import probe
from tests.integration.conftest import ACME_RESPONSES, LiveApi
from tests.integration.voice_fixtures import (
    SENTENCES,
    WER_THRESHOLD,
    clip,
    long_clip,
    lying_mp3,
    silence,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Development mode for callbacks: these tests deliver to a receiver on loopback. The
    # default (https to public addresses only) is tested in test_callback_security.py.
    return Settings(
        backend="local",
        data_dir=tmp_path / "data",
        log_stdout=False,
        warmup=False,
        asr_model="tiny.en",
        callback_allow_insecure=True,
    )


def _poll(api: LiveApi, url: str, headers: dict[str, str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.client.get(url, headers=headers).json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def _nothing_stored(api: LiveApi) -> None:
    assert api.services.blobs.list(tenant_id="acme", prefix="audio/") == []
    assert api.services.jobs.list_unfinished() == []


def test_voice_turn_with_wait_speaks_back_and_lands_in_history(live_api: LiveApi) -> None:
    session = live_api.open_session(live_api.acme)
    headers = {**live_api.token_headers(session), "Content-Type": "audio/ogg"}
    response = live_api.client.post("/v1/voice?wait=30", headers=headers, content=clip(0, "ogg"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["session_id"] == session["session_id"]
    assert wer(SENTENCES[0], body["transcript"]) <= WER_THRESHOLD, body["transcript"]
    assert body["reply"]["text"] == ACME_RESPONSES["refund_policy"]
    assert body["reply"]["intent"] == "refund_policy"
    assert {"asr_ms", "turn_ms", "tts_ms"} <= set(body["timings"])

    token = live_api.token_headers(session)
    ogg = live_api.client.get(body["audio_url"], headers=token)
    assert ogg.status_code == 200 and ogg.headers["content-type"] == "audio/ogg"
    assert probe(ogg.content).codec == "opus"
    wav = live_api.client.get(body["audio_url"] + "?format=wav", headers=token)
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    assert abs(probe(wav.content).duration_s - probe(ogg.content).duration_s) < 0.2

    messages = live_api.messages(live_api.acme, session["session_id"])
    assert [(m["role"], m["channel"]) for m in messages] == [("user", "voice"), ("bot", "voice")]
    assert messages[0]["text"] == body["transcript"]
    listed = live_api.client.get(f"/v1/sessions/{session['session_id']}/messages", headers=token)
    assert [m["channel"] for m in listed.json()["items"]] == ["voice", "voice"]


def test_multipart_upload_is_accepted_then_polled(live_api: LiveApi) -> None:
    admin = live_api.acme.admin
    response = live_api.client.post(
        "/v1/voice",
        headers=admin,
        files={"file": ("question.webm", clip(1, "webm"), "audio/webm")},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status_url"] == f"/v1/jobs/{accepted['job_id']}"
    assert accepted["status"] in ("queued", "running", "succeeded")
    done = _poll(live_api, accepted["status_url"], admin)
    assert done["status"] == "succeeded", done
    assert wer(SENTENCES[1], done["transcript"]) <= WER_THRESHOLD
    assert done["reply"]["intent"] == "opening_hours"

    # another tenant, or another session's token, sees nothing
    assert (
        live_api.client.get(accepted["status_url"], headers=live_api.globex.admin).status_code
        == 404
    )
    other = live_api.token_headers(live_api.open_session(live_api.acme))
    assert live_api.client.get(accepted["status_url"], headers=other).status_code == 404
    audio = live_api.client.get(done["audio_url"], headers=live_api.globex.admin)
    assert audio.status_code == 404
    assert live_api.client.get("/v1/jobs/j_missing", headers=admin).status_code == 404


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    failures_left = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Receiver.failures_left > 0:  # the first delivery fails: the sender must retry
            _Receiver.failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    _Receiver.failures_left = 1
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_callback_is_signed_and_retried(live_api: LiveApi, receiver: str) -> None:
    headers = {**live_api.acme.admin, "Content-Type": "audio/mpeg", "X-Callback-Url": receiver}
    response = live_api.client.post("/v1/voice", headers=headers, content=clip(2, "mp3"))
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + 60
    while not _Receiver.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_Receiver.received) == 1
    got, body = _Receiver.received[0]
    secret = callback_secret(token_secret=live_api.services.token_secret, tenant_id="acme")
    assert verify_callback(
        secret=secret,
        timestamp=got["x-lambdesk-timestamp"],
        body=body,
        signature=got["x-lambdesk-signature"],
    )
    assert not verify_callback(
        secret=callback_secret(token_secret=live_api.services.token_secret, tenant_id="globex"),
        timestamp=got["x-lambdesk-timestamp"],
        body=body,
        signature=got["x-lambdesk-signature"],
    )
    payload = json.loads(body)
    assert payload["job_id"] == job_id and payload["status"] == "succeeded"
    assert wer(SENTENCES[2], payload["transcript"]) <= WER_THRESHOLD


def test_bad_inputs_are_refused_before_storing(live_api: LiveApi) -> None:
    admin = live_api.acme.admin
    post = live_api.client.post

    wrong_type = post("/v1/voice", headers={**admin, "Content-Type": "text/plain"}, content=b"hi")
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_audio_type"

    garbage = post(
        "/v1/voice", headers={**admin, "Content-Type": "audio/wav"}, content=b"RIFF" + b"x" * 500
    )
    assert garbage.status_code == 422
    assert "could not decode audio" in garbage.json()["error"]["message"]

    big = post(
        "/v1/voice",
        headers={**admin, "Content-Type": "audio/wav"},
        content=b"\0" * (live_api.services.settings.max_audio_bytes + 1),
    )
    assert big.status_code == 413
    assert "max_audio_bytes" in big.json()["error"]["message"]

    too_long = post(
        "/v1/voice", headers={**admin, "Content-Type": "audio/ogg"}, content=long_clip(125)
    )
    assert too_long.status_code == 413
    assert "max_audio_seconds" in too_long.json()["error"]["message"]

    widget = post(
        "/v1/voice",
        headers={**live_api.acme.widget(), "Content-Type": "audio/ogg"},
        content=clip(0, "ogg"),
    )
    assert widget.status_code == 403

    missing_session = post(
        "/v1/voice?session_id=s_nope",
        headers={**admin, "Content-Type": "audio/ogg"},
        content=clip(0, "ogg"),
    )
    assert missing_session.status_code == 404
    _nothing_stored(live_api)


def test_silence_becomes_a_failed_job_with_the_reason(live_api: LiveApi) -> None:
    admin = live_api.acme.admin
    response = live_api.client.post(
        "/v1/voice?wait=30",
        headers={**admin, "Content-Type": "audio/flac"},
        content=silence("flac"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"] == "no speech detected"
    assert body["attempts"] == 1  # bad input is not retried
    assert live_api.client.get(f"/v1/jobs/{body['job_id']}/audio", headers=admin).status_code == 409


def test_a_file_that_lies_about_its_length_is_measured_by_decoding(live_api: LiveApi) -> None:
    """An mp3 whose frames promise 81 s but decode to 606 s: refused at upload (413), because
    the probe counts decoded audio and stops past the limit; nothing stored."""
    response = live_api.client.post(
        "/v1/voice",
        headers={**live_api.acme.admin, "Content-Type": "audio/mpeg"},
        content=lying_mp3(),
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "audio_too_long"
    _nothing_stored(live_api)


class _Stall(http.server.BaseHTTPRequestHandler):
    """A callback receiver that accepts and then never answers (until the test lets it)."""

    release = threading.Event()
    arrived: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        _Stall.arrived.append(self.path)
        _Stall.release.wait(120)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _Redirect(http.server.BaseHTTPRequestHandler):
    posts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        _Redirect.posts.append(self.path)
        self.send_response(302)
        self.send_header("Location", "/elsewhere")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_receiver_that_never_answers_holds_up_nobody_else(live_api: LiveApi) -> None:
    _Stall.release.clear()
    _Stall.arrived = []
    stall = _serve(_Stall)
    admin = live_api.acme.admin
    hook = f"http://127.0.0.1:{stall.server_address[1]}/hook"
    try:
        for index in (0, 1):  # as many as the local worker has slots
            stalled = live_api.client.post(
                "/v1/voice?wait=30",
                headers={**admin, "Content-Type": "audio/ogg", "X-Callback-Url": hook},
                content=clip(index, "ogg"),
            )
            assert stalled.json()["status"] == "succeeded", stalled.text
        deadline = time.monotonic() + 30
        while len(_Stall.arrived) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # both callbacks are hanging now (a slow machine may already be on a retry of one)
        assert len(_Stall.arrived) >= 2
        after = live_api.client.post(
            "/v1/voice?wait=30",
            headers={**admin, "Content-Type": "audio/ogg"},
            content=clip(2, "ogg"),
        )
        assert after.status_code == 200 and after.json()["status"] == "succeeded", after.text
        assert not _Stall.release.is_set()  # ...while the callbacks still hang
    finally:
        _Stall.release.set()
        stall.shutdown()


def test_a_redirecting_receiver_is_posted_once_and_never_followed() -> None:
    import asyncio

    from core.models import Job
    from infra.http.callback_sender import HttpxCallbackSender

    _Redirect.posts = []
    redirect = _serve(_Redirect)
    hook = f"http://127.0.0.1:{redirect.server_address[1]}/hook"
    sender = HttpxCallbackSender(token_secret=b"s", allow_insecure=True, backoff_s=0.01)
    job = Job(job_id="j_1", tenant_id="acme", kind="voice", callback_url=hook)
    try:
        delivered = asyncio.run(sender.deliver(job, b'{"job_id": "j_1"}'))
    finally:
        redirect.shutdown()
    assert delivered is False
    assert _Redirect.posts == ["/hook"]  # one POST, no retry of a 3xx, no redirect followed
