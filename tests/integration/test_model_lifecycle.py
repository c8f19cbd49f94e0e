"""The intent model lifecycle with the real encoder on a small BANKING77 slice (5 intents): train
and publish, a worse candidate refused, `--force`, the report files, evaluation, versions and
rollback, the workflow run through its ASL definition with the in-process steps, and the GPU
runner's SageMaker entrypoint with `/opt/ml` mapped to a temporary folder."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from cli import commands
from core.bootstrap import Services, build_services
from core.models import Tenant
from core.settings import Settings
from infra.local.filesystem_blob_store import FilesystemBlobStore
from training import versions
from training.intent_lifecycle import split_for_training
from training.intents import load_examples
from training.sagemaker_entry import main as sagemaker_main

pytestmark = pytest.mark.slow

BANKING77 = Path(__file__).resolve().parents[2] / "demo" / "banking77"
T = "bank-one"


def _rows(name: str, intents: int, per_intent: int) -> dict[str, list[str]]:
    by_label: dict[str, list[str]] = defaultdict(list)
    for example in load_examples(BANKING77 / name):
        by_label[example.intent].append(example.text)
    return {label: texts[:per_intent] for label, texts in list(by_label.items())[:intents]}


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lifecycle-data")
    train = _rows("train.csv", 5, 24)
    good = [(t, label) for label, texts in train.items() for t in texts]
    # The same sentences with labels shuffled: a clearly worse model.
    labels = [label for _, label in good]
    random.Random(0).shuffle(labels)
    bad = [(t, label) for (t, _), label in zip(good, labels, strict=True)]
    test = [(t, label) for label, texts in _rows("test.csv", 5, 8).items() for t in texts]
    test += [
        ("What's the weather like tomorrow?", "out_of_scope"),
        ("Sing me a song", "out_of_scope"),
    ]
    return {
        "good": _write(folder / "good.csv", good),
        "bad": _write(folder / "bad.csv", bad),
        "test": _write(folder / "test.csv", test),
    }


@pytest.fixture
def services(settings: Settings) -> Services:
    built = build_services(settings)
    built.tenants.create_tenant(Tenant(tenant_id=T, name="Bank"))
    return built


def _live(services: Services) -> str | None:
    return versions.current_version(tenant_id=T, blobs=services.blobs, kind="intent")


def test_train_refuses_a_worse_model_then_force_and_rollback(
    services: Services, data: dict[str, Path], tmp_path: Path
) -> None:
    report = tmp_path / "report"
    first = commands.train_intents(
        services, tenant_id=T, data=data["good"], responses=None, report=report
    )
    assert first["published"] and first["decision"] == "no live version"
    assert first["heldout_accuracy"] > 0.7
    assert _live(services) == first["version"]
    for name in ("metrics.json", "per_class.csv", "confusion.png", "confidence.png", "report.html"):
        assert (report / name).stat().st_size > 0
    # the report is kept beside the version too
    stored = services.blobs.list(tenant_id=T, prefix=f"models/intent/{first['version']}/report/")
    assert len(stored) == 5

    worse = commands.train_intents(services, tenant_id=T, data=data["bad"], responses=None)
    assert not worse["published"]
    assert worse["heldout_accuracy"] < worse["live_heldout"]["accuracy"]
    assert _live(services) == first["version"]

    forced = commands.train_intents(
        services, tenant_id=T, data=data["bad"], responses=None, force=True
    )
    assert forced["published"] and _live(services) == forced["version"]

    listed = [
        i.version for i in versions.list_versions(tenant_id=T, blobs=services.blobs, kind="intent")
    ]
    assert listed == [forced["version"], worse["version"], first["version"]]
    assert versions.rollback(tenant_id=T, blobs=services.blobs, kind="intent") == first["version"]
    assert _live(services) == first["version"]

    metrics = commands.evaluate_intents(
        services, tenant_id=T, data=data["test"], report=tmp_path / "eval"
    )
    assert metrics["n"] == 42
    assert metrics["accuracy"] > 0.6
    assert metrics["out_of_scope"]["n_out_of_scope"] == 2
    assert (tmp_path / "eval" / "report.html").exists()


def test_workflow_run_executes_the_definition_with_the_real_steps(
    services: Services, data: dict[str, Path]
) -> None:
    outcome = commands.run_workflow_locally(
        services,
        name="intents",
        tenant_id=T,
        data=data["good"],
        mode=None,
        force=False,
        runner="lambda",
    )
    assert outcome["status"] == "SUCCEEDED", outcome
    assert outcome["states"][-1] == "Published: succeeded"
    assert _live(services) == outcome["version"]
    assert outcome["evaluation"]["candidate"]["accuracy"] > 0.7

    # The same data through the GPU runner's state: an equal candidate is published too.
    again = commands.run_workflow_locally(
        services,
        name="intents",
        tenant_id=T,
        data=data["good"],
        mode=None,
        force=False,
        runner="sagemaker",
    )
    assert again["status"] == "SUCCEEDED"
    assert "TrainOnGpu: succeeded" in again["states"]
    services.close()


def _sagemaker_root(tmp_path: Path, hyper: dict[str, str], split: dict[str, object]) -> Path:
    root = tmp_path / "opt-ml"
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyper))
    (root / "input" / "data" / "train").mkdir(parents=True)
    (root / "input" / "data" / "train" / "split.json").write_text(json.dumps(split))
    return root


def test_the_training_job_entrypoint_follows_sagemaker_conventions(
    data: dict[str, Path], tmp_path: Path, settings: Settings
) -> None:
    blobs = FilesystemBlobStore(root=tmp_path / "blobs")
    split = split_for_training(load_examples(data["good"]))
    hyper = {
        "tenant_id": T,
        "version": "01JTESTVERSION0000000000000",
        "split_key": "training/runs/r1/split.json",
        "mode": "frozen",
    }
    root = _sagemaker_root(tmp_path, hyper, split.to_json())
    assert sagemaker_main(root, blobs=blobs, settings=settings) == 0
    model = root / "model"
    assert {"head.npz", "meta.json", "result.json"} <= {p.name for p in model.iterdir()}
    assert json.loads((model / "meta.json").read_text())["version"] == hyper["version"]
    # stored as a complete version, not published (the evaluate step decides)
    listed = versions.list_versions(tenant_id=T, blobs=blobs, kind="intent")
    assert [i.version for i in listed] == [hyper["version"]]
    assert versions.current_version(tenant_id=T, blobs=blobs, kind="intent") is None
    assert not (root / "output" / "failure").exists()


def test_a_failing_training_job_writes_its_reason_where_sagemaker_reads_it(
    tmp_path: Path, settings: Settings
) -> None:
    blobs = FilesystemBlobStore(root=tmp_path / "blobs")
    hyper = {"tenant_id": T, "version": "01JTESTVERSION0000000000001", "mode": "sideways"}
    root = _sagemaker_root(tmp_path, hyper, {"train": [], "negatives": [], "heldout": []})
    assert sagemaker_main(root, blobs=blobs, settings=settings) == 1
    reason = (root / "output" / "failure").read_text()
    assert reason.startswith("InvalidExamples") and "mode" in reason
    assert versions.list_versions(tenant_id=T, blobs=blobs, kind="intent") == []
