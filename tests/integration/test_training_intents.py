"""Integration tests for intent training with the real encoder: a 20-intent slice of BANKING77,
the tuned out-of-scope threshold, storage and versioning, prediction and evaluation."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from core.errors import Unprocessable
from core.ports import BlobStore
from infra.local.filesystem_blob_store import FilesystemBlobStore
from skills.intent.model import CURRENT_KEY, current_version
from training.intents import (
    Example,
    TrainResult,
    evaluate,
    load_examples,
    predict_intents,
    train_intent_model,
)

pytestmark = pytest.mark.slow

BANKING77 = Path(__file__).resolve().parents[2] / "demo" / "banking77"
NEGATIVES = [
    "What's the weather like in Paris tomorrow?",
    "Tell me a funny joke",
    "Who won the football game yesterday?",
    "How do I make lasagne?",
    "Recommend a good science fiction novel",
    "Play my workout playlist",
    "How tall is the Eiffel tower?",
    "What's the capital of Canada?",
    "Set a timer for ten minutes",
    "Translate good morning into Spanish",
    "How many moons does Jupiter have?",
    "What's a good name for a puppy?",
]


def subset(path: Path, *, intents: int, per_intent: int) -> list[Example]:
    """The first `per_intent` rows of each of the first `intents` labels (in file order)."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in load_examples(path):
        by_label[example.intent].append(example)
    labels = list(by_label)[:intents]
    return [e for label in labels for e in by_label[label][:per_intent]]


@pytest.fixture(scope="module")
def encoder() -> object:
    from skills.encoder import get_encoder

    return get_encoder()


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return subset(BANKING77 / "train.csv", intents=20, per_intent=20)


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> BlobStore:
    return FilesystemBlobStore(root=tmp_path_factory.mktemp("blobs"))


@pytest.fixture(scope="module")
def trained(encoder: object, examples: list[Example], blobs: BlobStore) -> TrainResult:
    return train_intent_model(
        tenant_id="bank-one", examples=examples, blobs=blobs, progress=True, negatives=NEGATIVES
    )


def test_load_examples_reads_category_as_intent(tmp_path: Path) -> None:
    examples = load_examples(BANKING77 / "train.csv")
    assert len(examples) == 10003
    assert examples[0] == Example(text="I am still waiting on my card?", intent="card_arrival")
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,label\nhi,greet\n")
    with pytest.raises(Unprocessable):
        load_examples(bad)


def test_training_reaches_good_heldout_accuracy(
    trained: TrainResult, examples: list[Example]
) -> None:
    assert trained.n_examples == len(examples) == 400
    assert len(trained.labels) == 20
    assert trained.n_heldout == 40  # 10% of each intent
    assert trained.negatives_source == "supplied"
    assert trained.heldout_accuracy_no_rejection >= 0.75  # chance is 0.05
    assert trained.heldout_accuracy >= 0.7
    assert trained.heldout_in_scope_rejected <= 0.05 + 1e-9
    assert 0.0 < trained.threshold < 1.0


def test_model_is_stored_as_a_version_with_meta(trained: TrainResult, blobs: BlobStore) -> None:
    assert current_version(tenant_id="bank-one", blobs=blobs) == trained.version
    keys = blobs.list(tenant_id="bank-one", prefix=f"models/intent/{trained.version}/")
    assert keys == [
        f"models/intent/{trained.version}/head.npz",
        f"models/intent/{trained.version}/meta.json",
    ]
    meta = json.loads(blobs.get(tenant_id="bank-one", key=keys[1]))
    assert meta["labels"] == trained.labels
    assert round(meta["threshold"], 6) == trained.threshold  # TrainResult rounds to 6 places
    assert meta["metrics"]["heldout_accuracy"] == trained.heldout_accuracy
    assert meta["created_at"]


def test_predictions_accept_in_scope_and_reject_unrelated(
    trained: TrainResult, blobs: BlobStore
) -> None:
    results = predict_intents(
        tenant_id="bank-one",
        texts=[
            "How old do I need to be to open an account?",
            "What is the best recipe for chocolate cake?",
        ],
        blobs=blobs,
    )
    assert results[0][0] == "age_limit"
    assert results[1][0] == "out_of_scope"
    assert all(0.0 <= confidence <= 1.0 for _, confidence in results)


def test_evaluate_counts_rejections_as_wrong(
    trained: TrainResult, blobs: BlobStore, tmp_path: Path
) -> None:
    test_rows = subset(BANKING77 / "test.csv", intents=20, per_intent=5)
    labels = set(trained.labels)
    assert {e.intent for e in test_rows} <= labels
    path = tmp_path / "eval.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        writer.writerows((e.text, e.intent) for e in test_rows)
        writer.writerow(["Which planet is the largest in the solar system?", "out_of_scope"])
    report = evaluate(tenant_id="bank-one", blobs=blobs, path=path)
    assert report.n == 101
    assert report.n_out_of_scope == 1
    assert report.accuracy_no_rejection >= 0.7
    assert report.accuracy <= report.accuracy_no_rejection + 1 / 101
    assert report.model_version == trained.version


def test_out_of_scope_rows_in_the_examples_are_the_negatives(
    encoder: object, examples: list[Example], tmp_path: Path
) -> None:
    blobs = FilesystemBlobStore(root=tmp_path / "blobs")
    few = [e for e in examples if e.intent in {"lost_or_stolen_card", "age_limit", "card_arrival"}]
    rows = few + [Example(text=t, intent="out_of_scope") for t in NEGATIVES]
    first = train_intent_model(tenant_id="bank-two", examples=rows, blobs=blobs, progress=False)
    assert first.negatives_source == "examples"
    assert first.n_negatives == len(NEGATIVES)
    assert "out_of_scope" not in first.labels
    assert len(first.labels) == 3
    # retraining makes a newer version and moves CURRENT to it
    second = train_intent_model(tenant_id="bank-two", examples=few, blobs=blobs, progress=False)
    assert second.version > first.version
    assert blobs.get(tenant_id="bank-two", key=CURRENT_KEY).decode() == second.version
    # another tenant has no model: everything is out of scope
    assert predict_intents(tenant_id="bank-three", texts=["hi"], blobs=blobs) == [
        ("out_of_scope", 0.0)
    ]


def test_training_needs_two_intents(encoder: object, tmp_path: Path) -> None:
    blobs = FilesystemBlobStore(root=tmp_path / "blobs")
    with pytest.raises(Unprocessable):
        train_intent_model(
            tenant_id="bank-four",
            examples=[Example(text="hello", intent="greet")] * 5,
            blobs=blobs,
            progress=False,
        )
