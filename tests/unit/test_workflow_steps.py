"""Unit tests for the workflow steps' guards: events are untrusted (they may come from a
SageMaker hyperparameter file or a hand-started execution), so keys, tenants, run ids, modes and
sizes are checked before anything is read; the preprocess step's split and its result."""

from __future__ import annotations

import json

import pytest

from core.errors import BadRequest, NotFound
from core.ports import SkillContext
from core.settings import Settings
from tests.memory_stores import MemoryBlobStore
from training import workflow_steps
from training.intents import InvalidExamples

T = "bank-one"
CSV = "text,intent\n" + "".join(
    f"{intent} question {i},{intent}\n" for intent in ("a", "b") for i in range(10)
)


def _ctx() -> SkillContext:
    return SkillContext(blobs=MemoryBlobStore(), settings=Settings(log_stdout=False))


def test_unknown_steps_and_bad_fields_are_refused() -> None:
    ctx = _ctx()
    with pytest.raises(BadRequest):
        workflow_steps.run({"step": "deploy"}, ctx)
    with pytest.raises(BadRequest):
        workflow_steps.run({"step": "preprocess", "tenant_id": "../x", "run_id": "r"}, ctx)
    with pytest.raises(BadRequest):  # keys outside a training run
        workflow_steps.run(
            {"step": "preprocess", "tenant_id": T, "run_id": "r1", "data_key": "models/x"}, ctx
        )
    with pytest.raises(BadRequest):
        workflow_steps.run_key("../r", "data.csv")
    with pytest.raises(BadRequest):
        workflow_steps.run(
            {"step": "train", "tenant_id": T, "version": "v", "split_key": "audio/x"}, ctx
        )


def test_preprocess_splits_and_stores_the_run() -> None:
    ctx = _ctx()
    key = workflow_steps.run_key("r1", "data.csv")
    ctx.blobs.put(tenant_id=T, key=key, data=CSV.encode())
    out = workflow_steps.run(
        {"step": "preprocess", "tenant_id": T, "run_id": "r1", "data_key": key, "mode": "frozen"},
        ctx,
    )
    assert out["n_intents"] == 2 and out["n_train"] + 2 == 20  # one held-out row per intent
    assert out["split_key"] == "training/runs/r1/split.json"
    assert out["split_uri"].endswith(f"tenants/{T}/training/runs/r1/split.json")
    assert out["training_job_name"].startswith(f"{T}-")
    split = json.loads(ctx.blobs.get(tenant_id=T, key=out["split_key"]))
    assert {row[1] for row in split["heldout"]} >= {"a", "b", "out_of_scope"}


def test_preprocess_refuses_bad_data_and_modes() -> None:
    ctx = _ctx()
    key = workflow_steps.run_key("r1", "data.csv")
    event = {"step": "preprocess", "tenant_id": T, "run_id": "r1", "data_key": key}
    with pytest.raises(NotFound):  # nothing uploaded
        workflow_steps.run(event, ctx)
    ctx.blobs.put(tenant_id=T, key=key, data=b"text,intent\nonly,a\n")
    with pytest.raises(InvalidExamples):
        workflow_steps.run(event, ctx)
    ctx.blobs.put(tenant_id=T, key=key, data=CSV.encode())
    with pytest.raises(InvalidExamples):
        workflow_steps.run({**event, "mode": "sideways"}, ctx)
    ctx.blobs.put(tenant_id=T, key=key, data=b"x" * (workflow_steps.MAX_DATA_BYTES + 1))
    with pytest.raises(InvalidExamples):
        workflow_steps.run(event, ctx)


def test_publish_reads_string_hyperparameters() -> None:
    ctx = _ctx()
    from training.versions import current_version, write_version

    write_version(tenant_id=T, blobs=ctx.blobs, kind="intent", version="01A", files={}, meta={})
    out = workflow_steps.run(
        {
            "step": "publish",
            "tenant_id": T,
            "version": "01A",
            "candidate_score": "0.9",
            "live_score": "None",
            "live_version": "",
            "force": "false",
        },
        ctx,
    )
    assert out["published"] is True
    assert current_version(tenant_id=T, blobs=ctx.blobs, kind="intent") == "01A"
