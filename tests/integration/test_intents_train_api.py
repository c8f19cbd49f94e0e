"""`POST /v1/intents/train` over HTTP: 202 and a job, its per-state progress, the result (a
published version), another tenant's job id answering 404, and refused uploads. The job runs
the real workflow steps with the real encoder on a 3-intent CSV."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LiveApi
from training.intents import load_examples
from training.versions import current_version

pytestmark = pytest.mark.slow

BANKING77 = Path(__file__).resolve().parents[2] / "demo" / "banking77" / "train.csv"


def _csv(intents: int = 3, per_intent: int = 12) -> bytes:
    by_label: dict[str, list[str]] = defaultdict(list)
    for example in load_examples(BANKING77):
        by_label[example.intent].append(example.text)
    lines = ["text,intent"]
    for label in list(by_label)[:intents]:
        lines += [f'"{t}",{label}' for t in by_label[label][:per_intent]]
    return ("\n".join(lines) + "\n").encode()


def _poll(api: LiveApi, job_id: str, timeout: float = 600) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.client.get(f"/v1/jobs/{job_id}", headers=api.acme.admin)
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if seen[-1]["status"] in ("succeeded", "failed"):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {seen[-1]}")


def test_a_training_job_runs_the_workflow_and_publishes(live_api: LiveApi) -> None:
    response = live_api.client.post(
        "/v1/intents/train",
        headers={**live_api.acme.admin, "Content-Type": "text/csv"},
        content=_csv(),
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.json()["status_url"] == f"/v1/jobs/{job_id}"

    # another tenant cannot see it
    other = live_api.client.get(f"/v1/jobs/{job_id}", headers=live_api.globex.admin)
    assert other.status_code == 404

    seen = _poll(live_api, job_id)
    final = seen[-1]
    assert final["status"] == "succeeded", final
    assert final["kind"] == "intent_training"
    assert final["published"] is True
    assert final["heldout"]["accuracy"] > 0.5
    assert [s["state"] for s in final["states"]][-1] == "Published"
    running = [s for s in seen if s["status"] == "running" and "progress" in s]
    assert running, "no progress was shown while the job ran"
    assert running[-1]["progress"]["states"][0]["state"] == "Configure"
    blobs = live_api.services.blobs
    assert current_version(tenant_id="acme", blobs=blobs, kind="intent") == final["version"]
    assert current_version(tenant_id="globex", blobs=blobs, kind="intent") is None


def test_refused_uploads(live_api: LiveApi) -> None:
    client = live_api.client
    widget = client.post(
        "/v1/intents/train",
        headers={**live_api.acme.widget(), "Content-Type": "text/csv"},
        content=_csv(),
    )
    assert widget.status_code == 403
    empty = client.post(
        "/v1/intents/train",
        headers={**live_api.acme.admin, "Content-Type": "text/csv"},
        content=b"",
    )
    assert empty.status_code == 400
    typed = client.post(
        "/v1/intents/train",
        headers={**live_api.acme.admin, "Content-Type": "image/png"},
        content=b"x",
    )
    assert typed.status_code == 415
    mode = client.post(
        "/v1/intents/train?mode=sideways",
        headers={**live_api.acme.admin, "Content-Type": "text/csv"},
        content=_csv(),
    )
    assert mode.status_code == 422
