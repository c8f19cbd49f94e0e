"""The vision training workflow: its States Language definition run by the local interpreter
(`core.workflow`) with the steps through the in-process invoker, on tiny generated colour images
(a width-4 ResNet-18 on 16×16 inputs, seconds on a CPU): the first version is published and
served; a worse candidate is stored but not published (the live version keeps serving) unless
forced; rollback; the report (accuracy, per-class F1, the confusion PNG); the steps' guards; and
`lambdesk workflow run vision` on a packaged data set."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import skills.vision.skill as vision_skill
from core.errors import BadRequest
from core.ports import SkillContext
from core.settings import Settings
from core.workflow import load_definition
from infra.local.filesystem_blob_store import FilesystemBlobStore
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
from skills.vision.model import ModelCache
from tests.vision_fixtures import colour_image, colour_set, encode
from training import versions
from training.vision_data import ImageSet, InvalidImageSet
from training.vision_workflow import DEFINITION, KIND, run, run_vision_workflow

ROOT = Path(__file__).resolve().parents[2]
TINY = {"epochs": 10, "batch_size": 16, "lr": 0.05, "width": 4, "input_size": 16}
WORSE = {**TINY, "epochs": 1, "lr": 1e-6}  # barely moves from its random start


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SkillContext]:
    monkeypatch.setattr(vision_skill, "_models", ModelCache(recheck_s=0.0))
    settings = Settings(data_dir=tmp_path / "data", log_stdout=False)
    yield SkillContext(blobs=FilesystemBlobStore(root=tmp_path / "blobs"), settings=settings)


def workflow(
    ctx: SkillContext, options: dict[str, Any], *, force: bool = False, data: ImageSet | None = None
) -> dict[str, Any]:
    invoker = InProcessSkillInvoker(ctx, workers=2, registry={"train": run})

    async def invoke(function: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await invoker.invoke(function, payload, timeout=600)

    try:
        return asyncio.run(
            run_vision_workflow(
                tenant_id="acme",
                blobs=ctx.blobs,
                invoke=invoke,
                dataset="folder",
                data=data if data is not None else colour_set(size=16),
                overrides=options,
                force=force,
            )
        )
    finally:
        invoker.close()


def classify(ctx: SkillContext, name: str) -> dict[str, Any]:
    image = base64.b64encode(encode(colour_image(name, size=24, seed=7), "PNG")).decode()
    return vision_skill.run({"tenant_id": "acme", "image_b64": image}, ctx)


def test_publish_if_better_for_vision_models(ctx: SkillContext) -> None:
    first = workflow(ctx, TINY)
    assert first["status"] == "SUCCEEDED", first
    assert first["states"][-1] == "Published: succeeded"
    version = first["version"]
    assert first["publication"]["published"] is True
    assert first["publication"]["reason"] == "no live version"
    evaluation = first["evaluation"]
    assert evaluation["candidate_score"] >= 0.9 and evaluation["live_score"] is None
    assert set(evaluation["candidate"]["f1"]) == {"red", "green", "blue"}
    assert versions.current_version(tenant_id="acme", blobs=ctx.blobs, kind=KIND) == version
    served = classify(ctx, "green")
    assert (served["label"], served["model_version"]) == ("green", version)

    # the report beside the version: a confusion-matrix PNG, per-class F1, the HTML page
    confusion = ctx.blobs.get(tenant_id="acme", key=f"models/vision/{version}/report/confusion.png")
    assert confusion.startswith(b"\x89PNG\r\n\x1a\n")
    metrics = json.loads(
        ctx.blobs.get(tenant_id="acme", key=f"models/vision/{version}/report/metrics.json")
    )
    assert metrics["accuracy"] == evaluation["candidate_score"]
    assert {row["label"] for row in metrics["per_class"]} == {"red", "green", "blue"}
    assert ctx.blobs.find(tenant_id="acme", key=evaluation["report_key"]) is not None

    worse = workflow(ctx, WORSE)
    assert worse["status"] == "SUCCEEDED", worse
    assert worse["states"][-1] == "KeptLiveVersion: succeeded"
    decision = worse["publication"]
    assert decision["published"] is False and decision["live"] == version
    assert decision["candidate_score"] < decision["live_score"] == evaluation["candidate_score"]
    assert versions.current_version(tenant_id="acme", blobs=ctx.blobs, kind=KIND) == version
    assert classify(ctx, "green")["model_version"] == version  # the live version keeps serving
    stored = versions.read_evaluation(
        tenant_id="acme", blobs=ctx.blobs, kind=KIND, version=worse["version"]
    )
    assert stored is not None and stored["published"] is False

    forced = workflow(ctx, WORSE, force=True)
    assert forced["publication"]["published"] is True and forced["publication"]["forced"] is True
    assert classify(ctx, "green")["model_version"] == forced["version"]

    back = versions.rollback(tenant_id="acme", blobs=ctx.blobs, kind=KIND)
    assert back == version
    assert classify(ctx, "green")["model_version"] == version
    listed = versions.list_versions(tenant_id="acme", blobs=ctx.blobs, kind=KIND)
    assert {info.version for info in listed} == {version, worse["version"], forced["version"]}


def test_a_bad_data_set_fails_the_run_at_preprocess(ctx: SkillContext) -> None:
    one_class = ImageSet(
        name="one",
        images=np.zeros((6, 16, 16, 3), dtype=np.uint8),
        labels=np.zeros(6, dtype=np.int64),
        classes=["only"],
    )
    failed = workflow(ctx, TINY, data=one_class)
    assert failed["status"] == "FAILED" and failed["error"] == "InvalidImageSet"
    assert failed["states"][0].startswith("Preprocess: caught")
    assert versions.current_version(tenant_id="acme", blobs=ctx.blobs, kind=KIND) is None


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"step": "nope"}, BadRequest),
        ({"workflow": "intents", "step": "preprocess"}, BadRequest),
        (
            {"step": "preprocess", "tenant_id": "acme", "run_id": "../x", "dataset": "digits"},
            BadRequest,
        ),
        (
            {
                "step": "preprocess",
                "tenant_id": "acme",
                "run_id": "r1",
                "dataset": "folder",
                "data_key": "models/vision/CURRENT",
            },
            BadRequest,
        ),
        (
            {"step": "preprocess", "tenant_id": "acme", "run_id": "r1", "dataset": "mnist"},
            InvalidImageSet,
        ),
        (
            {
                "step": "train",
                "tenant_id": "acme",
                "version": "v",
                "split_key": "training/runs/r1/split.npz",
                "dataset": "digits",
                "options": {"epochs": 10_000},
            },
            BadRequest,
        ),
        (
            {
                "step": "train",
                "tenant_id": "acme",
                "version": "v",
                "split_key": "training/runs/r1/split.npz",
                "dataset": "digits",
                "options": {"gpus": 8},
            },
            BadRequest,
        ),
        ({"step": "evaluate", "tenant_id": "../acme", "version": "v"}, BadRequest),
    ],
)
def test_the_steps_refuse_what_they_must_not_run(
    ctx: SkillContext, event: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        run(event, ctx)


def test_the_definition_is_the_one_aws_runs() -> None:
    definition = load_definition(DEFINITION.read_text(), {"StepsFunction": "arn:fn"})
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    assert [t["Parameters"]["Payload"]["step"] for t in tasks] == [
        "preprocess",
        "train",
        "evaluate",
        "publish",
    ]
    assert {t["Parameters"]["FunctionName"] for t in tasks} == {"arn:fn"}
    assert all(t["Parameters"]["Payload"]["workflow"] == "vision" for t in tasks)


def test_the_cli_runs_the_workflow_on_a_packaged_set(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LAMBDESK_DATA_DIR": str(tmp_path / "data"),
        "LAMBDESK_LOG_STDOUT": "false",
        "OMP_NUM_THREADS": "2",
    }
    cli = [sys.executable, "-m", "cli.main"]
    created = subprocess.run(
        [*cli, "tenants", "create", "acme"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert created.returncode == 0, created.stderr
    args = ["--tenant", "acme", "--dataset", "digits", "--epochs", "1", "--width", "4"]
    ran = subprocess.run(
        [*cli, "workflow", "run", "vision", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    outcome = json.loads(ran.stdout)
    assert outcome["status"] == "SUCCEEDED" and outcome["publication"]["published"] is True
    assert set(outcome["evaluation"]["candidate"]["f1"]) == {str(d) for d in range(10)}
    assert "[Train] succeeded" in ran.stderr and "[PublishIfBetter] succeeded" in ran.stderr
