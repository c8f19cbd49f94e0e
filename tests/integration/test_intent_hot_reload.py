"""Hot reload over HTTP: chats keep running while a new intent model version is published, no
turn fails, and the new version answers within the refresh window, without a restart.

The real intent skill runs (model cache, CURRENT refresh, numpy head) behind the real API; only
the sentence encoder is a fake (hashed bag of words), so no model has to load."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from skills.intent import skill as intent_skill
from skills.intent.model import IntentModel, save_model
from tests.integration.conftest import LiveApi

REFRESH_S = 0.5
DIM = 384


class HashingEncoder:
    """Each word hashed to one of 384 dimensions; rows L2-normalised."""

    @staticmethod
    def word_vector(word: str) -> np.ndarray:
        vector = np.zeros(DIM, dtype=np.float32)
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIM] = 1.0
        return vector

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            vector = sum(
                (self.word_vector(w) for w in re.findall(r"[a-z]+", text.lower())),
                np.zeros(DIM, dtype=np.float32),
            )
            rows.append(vector / max(float(np.linalg.norm(vector)), 1e-12))
        return np.asarray(rows, dtype=np.float32)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        backend="local",
        data_dir=tmp_path / "data",
        log_stdout=False,
        warmup=False,
        model_refresh_s=REFRESH_S,
    )


@pytest.fixture(autouse=True)
def fake_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    import skills.encoder

    monkeypatch.setattr(skills.encoder, "_encoder", HashingEncoder())


def _model(version: str, *, swapped: bool) -> IntentModel:
    refund, hours = HashingEncoder.word_vector("refund"), HashingEncoder.word_vector("hours")
    rows = [hours, refund] if swapped else [refund, hours]
    return IntentModel(
        version=version,
        labels=["refund_policy", "opening_hours"],
        coef=np.asarray(rows, dtype=np.float32) * 20,
        intercept=np.zeros(2, dtype=np.float32),
        threshold=0.0,
    )


def test_chats_keep_answering_while_a_version_is_published(live_api: LiveApi) -> None:
    live_api.services.skills.register("intent", intent_skill.run)  # type: ignore[attr-defined]
    blobs = live_api.services.blobs
    save_model(tenant_id="acme", blobs=blobs, model=_model("01A", swapped=False))
    failures: list[str] = []
    answers: list[tuple[float, str]] = []
    stop = threading.Event()

    def chat() -> None:
        import httpx

        with httpx.Client(base_url=live_api.base_url, timeout=30) as client:
            while not stop.is_set():
                response = client.post(
                    "/v1/chat",
                    headers=live_api.acme.admin,
                    json={"text": "can I get a refund please"},
                )
                if response.status_code != 200 or response.json()["source"] != "intent":
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                answers.append((time.monotonic(), response.json()["intent"]))

    threads = [threading.Thread(target=chat) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(answers) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        published_at = time.monotonic()
        save_model(tenant_id="acme", blobs=blobs, model=_model("01B", swapped=True))
        while time.monotonic() < deadline:
            if any(t > published_at and i == "opening_hours" for t, i in answers):
                break
            time.sleep(0.05)
        time.sleep(2.0)  # more turns on the new version
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures, failures[:3]
    before = [i for t, i in answers if t <= published_at]
    assert before and set(before) == {"refund_policy"}
    switched = [t for t, i in answers if i == "opening_hours"]
    assert switched, "the new version was never served"
    # served within the refresh window (plus a turn's time), never a mix afterwards
    assert switched[0] - published_at < REFRESH_S + 5
    # once switched, no turn goes back to the old version (a turn in flight may still finish)
    settled = [i for t, i in answers if t > switched[0] + 1.0]
    assert settled and set(settled) == {"opening_hours"}
