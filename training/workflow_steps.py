"""The steps of the intent training workflow (`training/workflows/intents.asl.json`), as one
function with a skill's shape: `run(event, ctx) -> dict`, dispatching on `event["step"]`.

Locally the in-process skill invoker calls it under the function name `train`; on AWS the
`train` Lambda function (`infra/deploy/train.Dockerfile`, torch inside) runs it, and the GPU
runner's container (`training/sagemaker_entry.py`) runs its `train` step. Events and results stay
small: data moves through the BlobStore, by key (`training/runs/<run_id>/...`).

- `preprocess` `{tenant_id, run_id, data_key, mode}`: read the uploaded CSV (bounded), split it
  (`training.intent_lifecycle.split_for_training`), store the split, pick the candidate's version
  → `{version, split_key, split_uri, training_job_name, n_train, n_heldout, n_intents, mode}`;
- `train` `{tenant_id, version, split_key, mode}`: train and store the candidate (unpublished);
- `evaluate` `{tenant_id, version, split_key}`: the candidate and the live version on the same
  held-out rows; the candidate's report stored beside it → `{candidate_score, live_score,
  live_version, report_key, candidate, live}`;
- `publish` `{tenant_id, version, candidate_score, live_score, live_version, force}`:
  publish-if-better → the decision.

SageMaker hands hyperparameters over as strings; every field is read tolerantly of that.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import BadRequest
from core.ids import new_ulid
from core.ports import BlobStore, SkillContext
from training.intent_lifecycle import (
    KIND,
    MODES,
    PUBLISH_METRIC,
    TrainingSplit,
    dumps,
    evaluate_version,
    split_for_training,
    store_report,
    summary,
    train_candidate,
)
from training.intents import InvalidExamples, load_examples
from training.step_fields import flag_field, score_field, tenant_field, text_field
from training.versions import current_version, publish_if_better

MAX_DATA_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
RUNS = "training/runs"
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _mode(event: Mapping[str, Any]) -> str:
    mode = str(event.get("mode") or "frozen")
    if mode not in MODES:
        raise InvalidExamples(f"mode must be one of {', '.join(MODES)}")
    return mode


def run_key(run_id: str, name: str) -> str:
    if not _RUN_ID.match(run_id):
        raise BadRequest("workflow step: run_id must be 1-64 letters, digits, - or _")
    return f"{RUNS}/{run_id}/{name}"


def read_split(*, tenant_id: str, blobs: BlobStore, split_key: str) -> TrainingSplit:
    if not split_key.startswith(RUNS + "/"):
        raise BadRequest("workflow step: split_key must be a training run's key")
    return TrainingSplit.from_json(json.loads(blobs.get(tenant_id=tenant_id, key=split_key)))


def preprocess(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    tenant_id = tenant_field(event)
    run_id = text_field(event, "run_id")
    data_key = text_field(event, "data_key")
    if not data_key.startswith(RUNS + "/"):
        raise BadRequest("workflow step: data_key must be a training run's key")
    data = ctx.blobs.get(tenant_id=tenant_id, key=data_key)
    if len(data) > MAX_DATA_BYTES:
        raise InvalidExamples(f"training data over {MAX_DATA_BYTES} bytes")
    with tempfile.TemporaryDirectory(prefix="lambdesk-data-") as tmp:
        path = Path(tmp) / "data.csv"
        path.write_bytes(data)
        examples = load_examples(path)
    if len(examples) > MAX_ROWS:
        raise InvalidExamples(f"training data over {MAX_ROWS} rows")
    split = split_for_training(examples)
    version = new_ulid()
    split_key = run_key(run_id, "split.json")
    ctx.blobs.put(tenant_id=tenant_id, key=split_key, data=dumps(split.to_json()))
    bucket = getattr(ctx.settings, "bucket_name", None) or "local"
    return {
        "version": version,
        "split_key": split_key,
        # The GPU runner's input channel (SageMaker copies it to /opt/ml/input/data/train/).
        "split_uri": f"s3://{bucket}/tenants/{tenant_id}/{split_key}",
        "training_job_name": f"{tenant_id}-{version}".lower()[:63],
        "n_train": len(split.train),
        "n_heldout": len(split.heldout),
        "n_intents": len({e.intent for e in split.train}),
        "mode": _mode(event),
    }


def train(
    event: Mapping[str, Any], ctx: SkillContext, *, split: TrainingSplit | None = None
) -> dict[str, Any]:
    tenant_id = tenant_field(event)
    version = text_field(event, "version")
    if split is None:
        split = read_split(
            tenant_id=tenant_id, blobs=ctx.blobs, split_key=text_field(event, "split_key")
        )
    result = train_candidate(
        tenant_id=tenant_id,
        train=split.train,
        negatives=split.negatives,
        blobs=ctx.blobs,
        mode=_mode(event),
        version=version,
        progress=flag_field(event.get("progress", True)),
    )
    return {"version": version, "metrics": result.model_dump(mode="json")}


def evaluate(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    tenant_id = tenant_field(event)
    version = text_field(event, "version")
    split = read_split(
        tenant_id=tenant_id, blobs=ctx.blobs, split_key=text_field(event, "split_key")
    )
    live_version = current_version(tenant_id=tenant_id, blobs=ctx.blobs, kind=KIND)
    with tempfile.TemporaryDirectory(prefix="lambdesk-report-") as tmp:
        candidate = evaluate_version(
            tenant_id=tenant_id,
            blobs=ctx.blobs,
            rows=split.heldout,
            version=version,
            report_dir=Path(tmp),
        )
        assert candidate is not None
        report_key = store_report(
            tenant_id=tenant_id, blobs=ctx.blobs, version=version, report_dir=Path(tmp)
        )
    live = (
        evaluate_version(
            tenant_id=tenant_id, blobs=ctx.blobs, rows=split.heldout, version=live_version
        )
        if live_version and live_version != version
        else None
    )
    return {
        "metric": PUBLISH_METRIC,
        "candidate_score": round(candidate.accuracy, 6),
        "live_score": None if live is None else round(live.accuracy, 6),
        "live_version": live_version if live is not None else None,
        "report_key": report_key,
        "candidate": summary(candidate),
        "live": summary(live),
    }


def publish(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    tenant_id = tenant_field(event)
    version = text_field(event, "version")
    live_version = event.get("live_version") or None
    decision = publish_if_better(
        tenant_id=tenant_id,
        blobs=ctx.blobs,
        kind=KIND,
        candidate=version,
        metric=PUBLISH_METRIC,
        candidate_score=float(event["candidate_score"]),
        live_score=score_field(event.get("live_score")),
        live=str(live_version) if live_version else None,
        force=flag_field(event.get("force", False)),
    )
    return decision.model_dump(mode="json")


STEPS = {"preprocess": preprocess, "train": train, "evaluate": evaluate, "publish": publish}


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """The entry every runner calls: the named step on the event (a vision workflow's step,
    `"workflow": "vision"`, goes to `training.vision_workflow`)."""
    if event.get("workflow") == "vision":
        from training import vision_workflow

        return vision_workflow.run(event, ctx)
    step = event.get("step")
    if not isinstance(step, str) or step not in STEPS:
        raise BadRequest(f"workflow step must be one of {', '.join(STEPS)}")
    return STEPS[step](event, ctx)


def new_run_id() -> str:
    return "r_" + new_ulid().lower()
