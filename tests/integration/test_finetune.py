"""Fine-tuning on a tiny BANKING77 slice (4 intents, one short epoch): the candidate stores its
own ONNX encoder (fp32 and int8) with the version, the ONNX vectors match the torch ones, and
the intent skill serves the version with that encoder while retrieval keeps the packaged one."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from core.ports import SkillContext
from core.settings import Settings
from infra.local.filesystem_blob_store import FilesystemBlobStore
from skills.intent import skill as intent_skill
from training.finetune import FinetuneConfig, finetune_encoder
from training.intent_lifecycle import evaluate_version, split_for_training, train_candidate
from training.intents import Example, load_examples
from training.versions import publish, read_meta

pytestmark = pytest.mark.slow

BANKING77 = Path(__file__).resolve().parents[2] / "demo" / "banking77" / "train.csv"
T = "bank-one"
TINY = FinetuneConfig(trainable_layers=1, epochs=1.0, batch_size=8)


def _examples(intents: int = 4, per_intent: int = 16) -> list[Example]:
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in load_examples(BANKING77):
        by_label[example.intent].append(example)
    return [e for label in list(by_label)[:intents] for e in by_label[label][:per_intent]]


def test_the_exported_encoder_gives_the_torch_vectors(tmp_path: Path) -> None:
    from skills.onnx_encoder import OnnxEncoder

    examples = _examples()
    fine = finetune_encoder(
        [e.text for e in examples], [e.intent for e in examples], config=TINY, progress=False
    )
    assert fine.train_vectors is not None and fine.train_vectors.shape == (len(examples), 384)
    texts = ["my card has not arrived", "how do I top up?"]
    reference = fine.encode(texts)
    fp32, int8 = fine.export(tmp_path)
    assert int8.stat().st_size < fp32.stat().st_size / 2
    onnx = OnnxEncoder(fp32, threads=1).encode(texts)
    assert np.abs(onnx - reference).max() < 1e-4
    quantised = OnnxEncoder(int8, threads=1).encode(texts)
    assert (quantised * reference).sum(axis=1).min() > 0.9  # cosine to the fp32 vectors


def test_a_finetuned_version_is_served_with_its_own_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.finetune

    monkeypatch.setattr(training.finetune, "FinetuneConfig", lambda seed=0: TINY)
    blobs = FilesystemBlobStore(root=tmp_path / "blobs")
    split = split_for_training(_examples())
    result = train_candidate(
        tenant_id=T,
        train=split.train,
        negatives=split.negatives,
        blobs=blobs,
        mode="finetune",
        progress=False,
    )
    assert result.mode == "finetune" and result.encoder in {"int8", "fp32"}
    meta = read_meta(tenant_id=T, blobs=blobs, kind="intent", version=result.version)
    encoder = meta["encoder"]
    assert encoder["serve"] == result.encoder
    keys = blobs.list(tenant_id=T, prefix=f"models/intent/{result.version}/")
    assert {k.rsplit("/", 1)[1] for k in keys} >= {"encoder.onnx", "encoder.int8.onnx"}

    metrics = evaluate_version(tenant_id=T, blobs=blobs, rows=split.heldout, version=result.version)
    assert metrics is not None and metrics.accuracy > 0.5
    publish(tenant_id=T, blobs=blobs, kind="intent", version=result.version)
    ctx = SkillContext(blobs=blobs, settings=Settings(data_dir=tmp_path, model_refresh_s=0.0))
    answer = intent_skill.run({"tenant_id": T, "text": split.heldout[0].text}, ctx)
    assert answer["model_version"] == result.version
    model = intent_skill._models.get(tenant_id=T, blobs=blobs, version=result.version)
    assert intent_skill.model_encoder(tenant_id=T, blobs=blobs, model=model) is not None
