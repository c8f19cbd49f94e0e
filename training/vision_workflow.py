"""The vision model's training workflow (`training/workflows/vision.asl.json`): preprocess →
train → evaluate → publish-if-better, the same steps and versions as the intent workflow.

The steps are one function with a skill's shape, `run(event, ctx) -> dict`, dispatching on
`event["step"]`; the events carry `"workflow": "vision"`, and `training.workflow_steps.run` (the
`train` function's entry, locally the in-process invoker's `train`) hands them over here. Locally
`core.workflow` interprets the definition (`lambdesk workflow run vision`); on AWS the
`VisionWorkflow` state machine calls the train function (torch inside). Events and results stay
small: data moves through the BlobStore by key (`training/runs/<run_id>/...`, numpy arrays).

- `preprocess` `{tenant_id, run_id, dataset, data_key, options}`: the images — a packaged set
  by name (`digits`, `animal-mnist`) or arrays a client stored at `data_key` (a folder, CIFAR-10) —
  split into training and held-out rows (the data's own test split when it has one, else a
  stratified 20% share) → `{version, split_key, n_train, n_heldout, n_classes, dataset}`;
- `train` `{tenant_id, version, split_key, dataset, options}`: ResNet-18 with the data set's
  preset (`training.vision.PRESETS`; `options` may override epochs, width, batch size, input
  size, learning rate and seed), exported to ONNX and stored as the version (unpublished) →
  `{version, metrics}`;
- `evaluate` `{tenant_id, version, split_key}`: the candidate and the live version on the same
  held-out rows, as the skill runs them (ONNX Runtime); the candidate's report (accuracy,
  per-class F1, the confusion matrix as a PNG; `training.reports`) stored beside it →
  `{candidate_score, live_score, live_version, report_key, candidate, live}`;
- `publish` `{tenant_id, version, candidate_score, live_score, live_version, force}`:
  `training.versions.publish_if_better` on the `vision` models → the decision.

`run_vision_workflow(...)` runs the definition here, step by step (`lambdesk workflow run vision`).
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadRequest
from core.ids import new_ulid
from core.models import utcnow
from core.ports import BlobStore, SkillContext
from skills.vision.model import PREFIX, read_model, save_model, version_key
from training.step_fields import flag_field, score_field, tenant_field, text_field
from training.vision_data import ImageSet, InvalidImageSet, load_animal_mnist, load_digits_set

WORKFLOW = "vision"
KIND = "vision"
PUBLISH_METRIC = "accuracy"
RUNS = "training/runs"
MAX_DATA_BYTES = 600 * 1024 * 1024  # CIFAR-10 as compressed arrays is about 130 MB
PACKAGED = {"digits": load_digits_set, "animal-mnist": load_animal_mnist}
DATASETS = (*PACKAGED, "cifar10", "folder")
REPORT_FILES = ("report.html", "confusion.png", "confidence.png", "metrics.json", "per_class.csv")
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# training overrides a step event may carry, with their bounds
_OVERRIDES: dict[str, tuple[type, float, float]] = {
    "epochs": (int, 1, 500),
    "width": (int, 4, 128),
    "batch_size": (int, 2, 1024),
    "input_size": (int, 8, 128),
    "seed": (int, 0, 2**31 - 1),
    "lr": (float, 1e-7, 10.0),
}


# --------------------------------------------------------------------------- event fields


def _dataset(event: Mapping[str, Any]) -> str:
    dataset = text_field(event, "dataset")
    if dataset not in DATASETS:
        raise InvalidImageSet(f"dataset must be one of {', '.join(DATASETS)}")
    return dataset


def _overrides(event: Mapping[str, Any]) -> dict[str, Any]:
    """The training overrides in the event's `options`, checked (absent ones left out)."""
    options = event.get("options") or {}
    if not isinstance(options, Mapping):
        raise BadRequest("vision workflow step: options must be an object")
    unknown = set(options) - set(_OVERRIDES)
    if unknown:
        raise BadRequest(f"vision workflow step: unknown options {sorted(unknown)}")
    found: dict[str, Any] = {}
    for name, (kind, low, high) in _OVERRIDES.items():
        value = options.get(name)
        if value is None or value == "":
            continue
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise BadRequest(f"vision workflow step: {name} must be a number") from None
        if not low <= number <= high:
            raise BadRequest(f"vision workflow step: {name} must be in [{low}, {high}]")
        found[name] = number
    return found


def run_key(run_id: str, name: str) -> str:
    if not _RUN_ID.match(run_id):
        raise BadRequest("vision workflow step: run_id must be 1-64 letters, digits, - or _")
    return f"{RUNS}/{run_id}/{name}"


def _run_blob(event: Mapping[str, Any], name: str) -> str:
    key = text_field(event, name)
    if not key.startswith(RUNS + "/") or ".." in key.split("/"):
        raise BadRequest(f"vision workflow step: {name} must be a training run's key")
    return key


# --------------------------------------------------------------------------- arrays in blobs


def dump_set(data: ImageSet) -> bytes:
    """An image set (and its test split) as compressed numpy arrays."""
    arrays: dict[str, Any] = {
        "images": data.images,
        "labels": data.labels,
        "meta": np.frombuffer(
            json.dumps({"name": data.name, "classes": data.classes, "flip": data.flip}).encode(),
            dtype=np.uint8,
        ),
    }
    if data.test is not None:
        arrays["test_images"] = data.test.images
        arrays["test_labels"] = data.test.labels
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def load_set(raw: bytes) -> ImageSet:
    if len(raw) > MAX_DATA_BYTES:
        raise InvalidImageSet(f"training data over {MAX_DATA_BYTES} bytes")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode())
            test = None
            if "test_images" in arrays:
                test = ImageSet(
                    name=str(meta["name"]),
                    images=arrays["test_images"],
                    labels=arrays["test_labels"],
                    classes=[str(c) for c in meta["classes"]],
                    flip=bool(meta["flip"]),
                )
            return ImageSet(
                name=str(meta["name"]),
                images=arrays["images"],
                labels=arrays["labels"],
                classes=[str(c) for c in meta["classes"]],
                flip=bool(meta["flip"]),
                test=test,
            )
    except (OSError, KeyError, ValueError) as exc:
        raise InvalidImageSet(f"could not read the training data: {exc}") from exc


def _get_set(ctx: SkillContext, tenant_id: str, key: str) -> ImageSet:
    return load_set(ctx.blobs.get(tenant_id=tenant_id, key=key))


# --------------------------------------------------------------------------- the steps


def preprocess(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    from training.vision import config_for, split_heldout

    tenant_id = tenant_field(event)
    run_id = text_field(event, "run_id")
    dataset = _dataset(event)
    config = config_for(dataset, **_overrides(event))
    if dataset in PACKAGED:
        data = PACKAGED[dataset](size=config.input_size)
    else:
        data = _get_set(ctx, tenant_id, _run_blob(event, "data_key"))
    if data.size != config.input_size:
        raise InvalidImageSet(f"images are {data.size} px; the model takes {config.input_size}")
    if len(data.classes) < 2:
        raise InvalidImageSet("training needs images of at least two classes")
    train, heldout, how = split_heldout(data, config)
    train.test = heldout
    split_key = run_key(run_id, "split.npz")
    ctx.blobs.put(tenant_id=tenant_id, key=split_key, data=dump_set(train))
    return {
        "version": new_ulid(),
        "split_key": split_key,
        "dataset": dataset,
        "heldout": how,
        "n_train": len(train.labels),
        "n_heldout": len(heldout.labels),
        "n_classes": len(data.classes),
    }


def train(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    from training.vision import (
        channel_stats,
        config_for,
        export_onnx,
        fit,
    )

    tenant_id = tenant_field(event)
    version = text_field(event, "version")
    dataset = _dataset(event)
    config = config_for(dataset, **_overrides(event))
    split = _get_set(ctx, tenant_id, _run_blob(event, "split_key"))
    started = time.perf_counter()
    mean, std = channel_stats(split.images)
    model, history = fit(
        split, config=config, mean=mean, std=std, progress=flag_field(event.get("progress", True))
    )
    onnx_bytes = export_onnx(model, input_size=config.input_size)
    metrics = {
        "dataset": split.name,
        "n_train": len(split.labels),
        "epochs": config.epochs,
        "width": config.width,
        "device": history.device,
        "train_seconds": round(history.seconds, 3),
    }
    meta = {
        "labels": list(split.classes),
        "input_size": config.input_size,
        "mean": mean,
        "std": std,
        "architecture": "resnet18",
        "stem": "cifar",
        "width": config.width,
        "dataset": split.name,
        "flip": split.flip,
        "config": asdict(config),
        "created_at": utcnow().isoformat(),
        "metrics": metrics,
        "history": history.epochs,
        "seconds": round(time.perf_counter() - started, 3),
    }
    save_model(
        tenant_id=tenant_id,
        blobs=ctx.blobs,
        version=version,
        onnx_bytes=onnx_bytes,
        meta=meta,
        publish=False,
    )
    return {"version": version, "metrics": metrics}


def _predict(
    blobs: BlobStore, tenant_id: str, version: str, data: ImageSet
) -> tuple[list[str], list[str], list[float]]:
    """(true labels, predicted labels, confidences) of a stored version on `data`, by label
    name: a live model with other classes is still scored on the same rows."""
    from core.images import array_to_rgb

    model = read_model(tenant_id=tenant_id, blobs=blobs, version=version)
    images = data.images
    if data.size != model.input_size:
        images = np.stack([array_to_rgb(image, model.input_size) for image in images])
    probabilities = np.concatenate(
        [model.probabilities(images[i : i + 256]) for i in range(0, len(images), 256)]
    )
    best = probabilities.argmax(axis=1)
    return (
        [data.classes[int(label)] for label in data.labels],
        [model.labels[int(i)] for i in best],
        [float(p) for p in probabilities.max(axis=1)],
    )


def _summary(metrics: Any) -> dict[str, Any]:
    return {
        "accuracy": round(metrics.accuracy, 6),
        "macro_f1": round(metrics.macro_f1, 6),
        "f1": {row.label: round(row.f1, 6) for row in metrics.per_class},
    }


def evaluate(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    from training.reports import classification_report
    from training.versions import current_version

    tenant_id = tenant_field(event)
    version = text_field(event, "version")
    split = _get_set(ctx, tenant_id, _run_blob(event, "split_key"))
    heldout = split.test
    if heldout is None or not len(heldout.labels):
        raise InvalidImageSet("the split has no held-out rows")
    live_version = current_version(tenant_id=tenant_id, blobs=ctx.blobs, kind=KIND)
    y_true, y_pred, confidences = _predict(ctx.blobs, tenant_id, version, heldout)
    with tempfile.TemporaryDirectory(prefix="lambdesk-report-") as tmp:
        candidate = classification_report(
            y_true=y_true,
            y_pred=y_pred,
            confidences=confidences,
            out_dir=Path(tmp),
            title=f"vision {version} ({heldout.name})",
        )
        for name in REPORT_FILES:
            ctx.blobs.put(
                tenant_id=tenant_id,
                key=version_key(version, f"report/{name}"),
                data=(Path(tmp) / name).read_bytes(),
            )
    live = None
    if live_version and live_version != version:
        true_live, pred_live, conf_live = _predict(ctx.blobs, tenant_id, live_version, heldout)
        live = classification_report(y_true=true_live, y_pred=pred_live, confidences=conf_live)
    return {
        "metric": PUBLISH_METRIC,
        "candidate_score": round(candidate.accuracy, 6),
        "live_score": None if live is None else round(live.accuracy, 6),
        "live_version": live_version if live is not None else None,
        "report_key": version_key(version, "report/report.html"),
        "candidate": _summary(candidate),
        "live": None if live is None else _summary(live),
    }


def publish(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    from training.versions import publish_if_better

    tenant_id = tenant_field(event)
    live_version = event.get("live_version") or None
    decision = publish_if_better(
        tenant_id=tenant_id,
        blobs=ctx.blobs,
        kind=KIND,
        candidate=text_field(event, "version"),
        metric=PUBLISH_METRIC,
        candidate_score=float(event["candidate_score"]),
        live_score=score_field(event.get("live_score")),
        live=str(live_version) if live_version else None,
        force=flag_field(event.get("force", False)),
    )
    return decision.model_dump(mode="json")


STEPS: dict[str, Callable[[Mapping[str, Any], SkillContext], dict[str, Any]]] = {
    "preprocess": preprocess,
    "train": train,
    "evaluate": evaluate,
    "publish": publish,
}


def run(event: Mapping[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """The entry every runner calls: the named step of the vision workflow on the event."""
    if event.get("workflow", WORKFLOW) != WORKFLOW:
        raise BadRequest(f"not a {WORKFLOW} workflow step")
    step = event.get("step")
    if not isinstance(step, str) or step not in STEPS:
        raise BadRequest(f"vision workflow step must be one of {', '.join(STEPS)}")
    return STEPS[step](event, ctx)


# --------------------------------------------------------------------------- running it here

DEFINITION = Path(__file__).parent / "workflows" / "vision.asl.json"

Invoke = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


def local_definition() -> dict[str, Any]:
    """The state machine's definition with the local values of its `${...}` placeholders (the
    steps function is `train`, which `training.workflow_steps` answers for every workflow)."""
    from training.workflows import local_definition as definition

    return definition(WORKFLOW)


def new_run_id() -> str:
    return "r_" + new_ulid().lower()


async def run_vision_workflow(
    *,
    tenant_id: str,
    blobs: BlobStore,
    invoke: Invoke,
    dataset: str,
    data: ImageSet | None = None,
    overrides: Mapping[str, Any] | None = None,
    force: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the definition here. `invoke(function, payload)` must reach the steps under the name
    `train`. `data` (a folder's or CIFAR-10's images) is stored for the run first."""
    from core.workflow import run_workflow

    run_id = new_run_id()
    execution: dict[str, Any] = {
        "tenant_id": tenant_id,
        "run_id": run_id,
        "dataset": dataset,
        "data_key": "",
        "force": force,
        "options": {k: v for k, v in dict(overrides or {}).items() if v is not None},
    }
    if data is not None:
        execution["data_key"] = run_key(run_id, "data.npz")
        blobs.put(tenant_id=tenant_id, key=execution["data_key"], data=dump_set(data))
    result = await run_workflow(local_definition(), execution, invoke=invoke, progress=progress)
    output = result.output if isinstance(result.output, dict) else {}
    return {
        "status": result.status,
        "error": result.error,
        "cause": result.cause,
        "run_id": run_id,
        "version": ((output.get("preprocess") or {}).get("result") or {}).get("version"),
        "training": (output.get("train") or {}).get("result"),
        "evaluation": (output.get("evaluate") or {}).get("result"),
        "publication": (output.get("publish") or {}).get("result"),
        "states": [f"{r.name}: {r.status}" for r in result.states],
    }


__all__ = ["DATASETS", "KIND", "PREFIX", "STEPS", "run", "run_vision_workflow"]
