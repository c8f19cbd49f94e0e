"""Vision training to serving on tiny generated data: a ResNet-18 trained for a few epochs, its
ONNX export (opset 17, dynamic batch) stored per tenant and versioned, served by the skill over
a filesystem blob store; the CIFAR-format and folder sources; the default model; the CLI; and a
fresh skill process that answers without importing torch."""

from __future__ import annotations

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
from core.ports import SkillContext
from core.settings import Settings
from infra.local.filesystem_blob_store import FilesystemBlobStore
from skills.vision.model import CURRENT_KEY, ModelCache, current_version, read_meta, version_key
from tests.vision_fixtures import (
    COLOURS,
    colour_image,
    colour_onnx,
    colour_set,
    encode,
    tiny_config,
    trained_colour_model,
    write_colour_folder,
    write_tiny_cifar,
)
from training.vision import (
    TrainConfig,
    build_default_model,
    store_version,
    train_and_export,
    train_vision_model,
)
from training.vision_data import load_cifar10, load_folder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(vision_skill, "_models", ModelCache())
    yield


@pytest.fixture
def ctx(tmp_path: Path) -> SkillContext:
    settings = Settings(data_dir=tmp_path / "data", log_stdout=False)
    return SkillContext(
        blobs=FilesystemBlobStore(root=tmp_path / "data" / "blobs"), settings=settings
    )


def classify(ctx: SkillContext, tenant_id: str, image: np.ndarray) -> dict[str, Any]:
    data = base64.b64encode(encode(image, "PNG")).decode()
    return vision_skill.run({"tenant_id": tenant_id, "image_b64": data}, ctx)


def test_a_trained_model_is_stored_published_and_served(ctx: SkillContext) -> None:
    trained = trained_colour_model()
    assert trained.evaluation.metrics.accuracy == 1.0
    result = store_version(
        tenant_id="acme", blobs=ctx.blobs, trained=trained, dataset=colour_set(), seconds=1.0
    )
    assert current_version(tenant_id="acme", blobs=ctx.blobs) == result.version
    meta = read_meta(tenant_id="acme", blobs=ctx.blobs, version=result.version)
    assert meta["labels"] == list(COLOURS) and meta["input_size"] == 16
    assert len(meta["mean"]) == 3 and len(meta["std"]) == 3
    assert meta["architecture"] == "resnet18" and meta["metrics"]["accuracy"] == 1.0
    assert [row["label"] for row in meta["metrics"]["per_class"]] == list(COLOURS)
    for index, name in enumerate(COLOURS):
        answer = classify(ctx, "acme", colour_image(name, size=40, seed=500 + index))
        assert answer["label"] == name, answer
        assert answer["model_version"] == result.version


def test_the_export_is_opset_17_with_a_dynamic_batch() -> None:
    import onnx

    model = onnx.load_from_string(trained_colour_model().onnx_bytes)
    assert {o.domain: o.version for o in model.opset_import}[""] == 17
    (image,) = model.graph.input
    dims = image.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 16, 16]
    assert [o.name for o in model.graph.output] == ["logits"]


def test_evaluation_reports_what_serving_predicts() -> None:
    evaluation = trained_colour_model().evaluation
    assert len(evaluation.y_pred) == len(evaluation.y_true) == len(evaluation.confidence)
    assert ((evaluation.confidence > 0) & (evaluation.confidence <= 1)).all()
    assert sum(map(sum, evaluation.metrics.confusion)) == len(evaluation.y_true)


def test_a_version_stored_unpublished_leaves_current_alone(ctx: SkillContext) -> None:
    trained = trained_colour_model()
    first = store_version(
        tenant_id="acme", blobs=ctx.blobs, trained=trained, dataset=colour_set(), seconds=1.0
    )
    second = store_version(
        tenant_id="acme",
        blobs=ctx.blobs,
        trained=trained,
        dataset=colour_set(),
        seconds=1.0,
        publish=False,
    )
    assert second.published is False
    assert ctx.blobs.get(tenant_id="acme", key=CURRENT_KEY).decode() == first.version
    assert ctx.blobs.find(tenant_id="acme", key=version_key(second.version, "model.onnx"))


def test_training_is_deterministic_for_a_seed() -> None:
    config = tiny_config(epochs=1)
    data = colour_set(per_class=4)
    one = train_and_export(data, config=config, progress=False)
    two = train_and_export(data, config=config, progress=False)
    assert one.history.epochs == two.history.epochs
    assert np.array_equal(one.evaluation.confidence, two.evaluation.confidence)


def test_tiny_cifar_trains_and_is_evaluated_on_its_test_batch(
    tmp_path: Path, ctx: SkillContext
) -> None:
    data = load_cifar10(write_tiny_cifar(tmp_path / "cifar", per_class=3))
    config = tiny_config(epochs=1, input_size=32)
    result = train_vision_model(
        tenant_id="acme", data=data, blobs=ctx.blobs, config=config, progress=False
    )
    assert (result.heldout, result.n_train, result.n_heldout) == ("test split", 9, 9)
    assert result.dataset == "cifar10" and len(result.confusion) == 3


def test_a_folder_of_images_trains(tmp_path: Path, ctx: SkillContext) -> None:
    data = load_folder(write_colour_folder(tmp_path / "images", per_class=5), size=16)
    result = train_vision_model(
        tenant_id="acme",
        data=data,
        blobs=ctx.blobs,
        config=tiny_config(epochs=1),
        progress=False,
    )
    assert result.labels == sorted(COLOURS) and result.n_heldout == 3


def test_the_default_model_serves_tenants_without_their_own(ctx: SkillContext) -> None:
    from training.vision import default_model_dir

    config = TrainConfig(epochs=1, batch_size=128, width=4, input_size=8)
    result = build_default_model(default_model_dir(ctx.settings), config=config, progress=False)
    assert result.dataset == "digits" and result.tenant_id is None
    answer = classify(ctx, "newco", colour_image("red", size=8))
    assert answer["default_model"] is True
    assert answer["model_version"] == f"default-{result.version}"
    assert answer["label"] in [str(i) for i in range(10)]


# --------------------------------------------------------------------------- processes


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LAMBDESK_DATA_DIR": str(data_dir),
        "LAMBDESK_LOG_STDOUT": "false",
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def lambdesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_trains_from_a_folder_and_classifies_files(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    assert lambdesk(env, "tenants", "create", "acme").returncode == 0
    images = write_colour_folder(tmp_path / "images", per_class=4, size=32)
    trained = lambdesk(
        env,
        "vision",
        "train",
        "--tenant",
        "acme",
        "--data",
        str(images),
        "--epochs",
        "1",
        "--width",
        "4",
    )
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["labels"] == sorted(COLOURS) and summary["width"] == 4
    assert "ETA" in trained.stderr  # progress lines with an estimate
    red = tmp_path / "red.png"
    red.write_bytes(encode(colour_image("red", size=32), "PNG"))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    classified = lambdesk(env, "vision", "classify", "--tenant", "acme", str(red), str(text))
    assert classified.returncode == 1  # one of the two failed
    rows = [json.loads(line) for line in classified.stdout.splitlines()]
    assert rows[0]["file"] == str(red) and rows[0]["model_version"] == summary["version"]
    assert rows[0]["label"] in COLOURS
    assert "not an image" in rows[1]["error"]


def test_cli_refuses_bad_sources(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    assert lambdesk(env, "tenants", "create", "acme").returncode == 0
    no_dir = lambdesk(env, "vision", "train", "--tenant", "acme", "--dataset", "cifar10")
    assert no_dir.returncode == 2 and "--data-dir" in no_dir.stderr
    empty = lambdesk(
        env,
        "vision",
        "train",
        "--tenant",
        "acme",
        "--dataset",
        "cifar10",
        "--data-dir",
        str(tmp_path),
    )
    assert empty.returncode == 2 and "batches.meta" in empty.stderr
    unknown = lambdesk(env, "vision", "train", "--tenant", "nobody", "--dataset", "digits")
    assert unknown.returncode == 2 and "tenants create nobody" in unknown.stderr


HANDLER = """
import base64, json, sys, time
started = time.perf_counter()
from skills.vision.handler import handler
image = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
answer = handler({"tenant_id": "newco", "image_b64": image}, None)
print(json.dumps({"label": answer["label"], "default": answer["default_model"],
                  "torch": "torch" in sys.modules, "onnxruntime": "onnxruntime" in sys.modules}))
"""


def test_a_fresh_skill_process_answers_without_importing_torch(tmp_path: Path) -> None:
    from skills.vision.model import write_model_dir

    onnx_bytes, meta = colour_onnx()
    write_model_dir(
        tmp_path / "data" / "models" / "vision-default", onnx_bytes=onnx_bytes, meta=meta
    )
    image = tmp_path / "green.png"
    image.write_bytes(encode(colour_image("green", size=20), "PNG"))
    done = subprocess.run(
        [sys.executable, "-c", HANDLER, str(image)],
        cwd=ROOT,
        env=_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"label": "green", "default": True, "torch": False, "onnxruntime": True}


def test_cli_sets_the_image_answers_and_the_blocked_labels(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    assert lambdesk(env, "tenants", "create", "acme").returncode == 0
    answers = tmp_path / "image_responses.yaml"
    answers.write_text("damaged_card: A replacement card is on its way.\n")
    changed = lambdesk(
        env,
        "vision",
        "settings",
        "--tenant",
        "acme",
        "--responses",
        str(answers),
        "--threshold",
        "0.8",
        "--blocked",
        "weapon, gore",
    )
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == {
        "tenant_id": "acme",
        "image_responses": {"damaged_card": "A replacement card is on its way."},
        "image_threshold": 0.8,
        "blocked_labels": ["weapon", "gore"],
        "moderation_threshold": 0.5,
    }
    kept = lambdesk(env, "vision", "settings", "--tenant", "acme", "--moderation-threshold", "0.9")
    shown = json.loads(kept.stdout)
    assert shown["blocked_labels"] == ["weapon", "gore"] and shown["moderation_threshold"] == 0.9
    bad = lambdesk(env, "vision", "settings", "--tenant", "acme", "--threshold", "2")
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr
