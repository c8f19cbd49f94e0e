"""Integration tests for the intent skill: a small model trained with the real encoder, called
through the real in-process invoker and the Lambda handler over a `FilesystemBlobStore`."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import SkillError
from core.ports import SkillContext
from core.settings import Settings
from infra.local.filesystem_blob_store import FilesystemBlobStore
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
from tests.entrypoints import forget, fresh_import
from training.intents import Example, TrainResult, load_examples, train_intent_model

pytestmark = pytest.mark.slow

BANKING77 = Path(__file__).resolve().parents[2] / "demo" / "banking77" / "train.csv"
INTENTS = (
    "activate_my_card",
    "card_arrival",
    "lost_or_stolen_card",
    "exchange_rate",
    "top_up_failed",
)
NEGATIVES = ["Tell me a joke", "What's the weather tomorrow?", "Who won the match?", "I like cats"]


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, FilesystemBlobStore, TrainResult]:
    from skills.encoder import get_encoder

    get_encoder()
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in load_examples(BANKING77):
        if example.intent in INTENTS and len(by_label[example.intent]) < 15:
            by_label[example.intent].append(example)
    root = tmp_path_factory.mktemp("data")
    blobs = FilesystemBlobStore(root=root / "blobs")
    trained = train_intent_model(
        tenant_id="bank-one",
        examples=[e for rows in by_label.values() for e in rows],
        blobs=blobs,
        progress=False,
        negatives=NEGATIVES,
    )
    return root, blobs, trained


@pytest.fixture
def invoker(store: tuple[Path, FilesystemBlobStore, TrainResult]) -> Iterator[Any]:
    root, blobs, _ = store
    # model_refresh_s=0: CURRENT is read on every call, so a new version shows at once here.
    settings = Settings(
        backend="local", data_dir=root, log_stdout=False, warmup=False, model_refresh_s=0.0
    )
    invoker = InProcessSkillInvoker(SkillContext(blobs=blobs, settings=settings), workers=2)
    yield invoker
    invoker.close()


def call(invoker: Any, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(invoker.invoke("intent", event, timeout=60))
    return result


def test_classifies_a_text(
    invoker: Any, store: tuple[Path, FilesystemBlobStore, TrainResult]
) -> None:
    trained = store[2]
    result = call(invoker, {"tenant_id": "bank-one", "text": "I lost my card, someone stole it"})
    assert result["intent"] == "lost_or_stolen_card"
    assert result["model_version"] == trained.version
    assert result["confidence"] >= trained.threshold
    assert len(result["ranking"]) == 3
    assert result["ranking"][0] == {
        "intent": "lost_or_stolen_card",
        "confidence": result["confidence"],
    }
    confidences = [r["confidence"] for r in result["ranking"]]
    assert confidences == sorted(confidences, reverse=True)


def test_batch_and_out_of_scope(invoker: Any) -> None:
    result = call(
        invoker,
        {
            "tenant_id": "bank-one",
            "texts": ["How do I activate my new card?", "Recommend a recipe for pancakes"],
        },
    )
    first, second = result["results"]
    assert first["intent"] == "activate_my_card"
    assert second["intent"] is None
    assert second["ranking"]  # the ranking is still there for analytics


def test_tenant_without_model_gets_nothing(invoker: Any) -> None:
    result = call(invoker, {"tenant_id": "bank-two", "text": "activate my card"})
    assert result == {
        "intent": None,
        "confidence": 0.0,
        "ranking": [],
        "model_version": None,
        # the built-in dialogue acts need no tenant model
        "acts": [],
        "small_talk": False,
    }
    hello = call(invoker, {"tenant_id": "bank-two", "text": "hello there"})
    assert hello["intent"] is None and hello["small_talk"]
    assert [a["act"] for a in hello["acts"]] == ["greet"]


def test_bad_events_are_skill_errors(invoker: Any) -> None:
    with pytest.raises(SkillError):
        call(invoker, {"text": "no tenant"})
    with pytest.raises(SkillError):
        call(invoker, {"tenant_id": "bank-one", "texts": "not a list"})


def test_warm_process_picks_up_a_new_version(
    invoker: Any, store: tuple[Path, FilesystemBlobStore, TrainResult]
) -> None:
    blobs = store[1]
    greetings = {
        "greeting": ["hello there", "hi", "good morning", "hey, how are you"],
        "goodbye": ["bye", "see you later", "goodbye and thanks", "talk to you soon"],
    }
    thanks = {"thanks": ["thank you", "thanks a lot", "cheers", "much appreciated"]}
    rows = [Example(text=t, intent=i) for i, texts in greetings.items() for t in texts]
    first = train_intent_model(tenant_id="bank-three", examples=rows, blobs=blobs, progress=False)
    before = call(invoker, {"tenant_id": "bank-three", "text": "thanks so much"})
    assert before["model_version"] == first.version
    assert "thanks" not in {r["intent"] for r in before["ranking"]}
    rows += [Example(text=t, intent=i) for i, texts in thanks.items() for t in texts]
    newer = train_intent_model(tenant_id="bank-three", examples=rows, blobs=blobs, progress=False)
    after = call(invoker, {"tenant_id": "bank-three", "text": "thanks so much"})
    assert after["model_version"] == newer.version
    assert after["ranking"][0]["intent"] == "thanks"


def test_lambda_handler(
    store: tuple[Path, FilesystemBlobStore, TrainResult], monkeypatch: pytest.MonkeyPatch
) -> None:

    root, _, _ = store
    monkeypatch.setenv("LAMBDESK_DATA_DIR", str(root))
    monkeypatch.setenv("LAMBDESK_BACKEND", "local")
    try:
        handler = fresh_import("skills.intent.handler")  # it builds its context at import
        result = handler.handler({"tenant_id": "bank-one", "text": "hello"}, None)
    finally:
        forget("skills.intent.handler")
    assert result["model_version"] is not None
