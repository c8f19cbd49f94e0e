"""The dialogue-act model's mixed-message logic with a stand-in head and encoder (no model), and
the shipped head: readable, and trained on the data file as it is now."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from skills.intent.acts import ACTS, NONE, ActModel, clauses, read_act_model, split_message
from training.dialogue_acts import load_rows

# A tiny "encoder": one dimension per act keyword; anything else is a request.
KEYWORDS = {"hi": "greet", "hello": "greet", "thanks": "thanks", "bye": "goodbye", "yes": "affirm"}
LABELS = ["greet", "thanks", "goodbye", "affirm", NONE]


def fake_embed(texts: Sequence[str]) -> np.ndarray:
    out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    for row, text in enumerate(texts):
        words = text.lower().replace(",", " ").split()
        found = [KEYWORDS[w] for w in words if w in KEYWORDS]
        if found and len(words) <= 2:
            for act in found:
                out[row, LABELS.index(act)] = 1.0
        else:
            out[row, LABELS.index(NONE)] = 1.0
    return out


MODEL = ActModel(
    labels=LABELS,
    coef=np.eye(len(LABELS), dtype=np.float32) * 10,
    intercept=np.zeros(len(LABELS), dtype=np.float32),
    threshold=0.5,
)
calls: list[list[str]] = []


def embed(texts: Sequence[str]) -> np.ndarray:
    calls.append(list(texts))
    return fake_embed(texts)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("hi, my card was stolen", ["hi", "my card was stolen"]),
        ("thanks, and how do I top up?", ["thanks", "how do I top up"]),
        (
            "Hello. I lost my card! Can you block it?",
            ["Hello", "I lost my card", "Can you block it"],
        ),
        ("ok but what about fees", ["ok", "what about fees"]),
        ("card stolen", ["card stolen"]),
    ],
)
def test_clauses(text: str, parts: list[str]) -> None:
    assert clauses(text) == parts


@pytest.mark.parametrize(
    ("text", "acts", "asked"),
    [
        ("hello", ["greet"], None),
        ("thanks, bye", ["thanks", "goodbye"], None),
        ("hi, my card was stolen", ["greet"], "my card was stolen"),
        ("thanks, and how do I top up?", ["thanks"], "how do I top up"),
        ("my card was stolen, thanks", ["thanks"], "my card was stolen"),
        ("card stolen", [], "card stolen"),
        ("my card never came and the app crashed", [], "my card never came and the app crashed"),
    ],
)
def test_small_talk_and_request_are_told_apart(
    text: str, acts: list[str], asked: str | None
) -> None:
    calls.clear()
    split, vector = split_message(text, fake_embed([text])[0], model=MODEL, embed=embed)
    assert [a for a, _ in split.acts] == acts
    assert split.request == asked
    assert (vector is not None) == (asked is not None and asked != text)
    # the edge clauses in one call, then the request part only when it is not one of them
    assert len(calls) <= 2 and sum(len(c) for c in calls) <= len(clauses(text))


GATED = ActModel(
    labels=MODEL.labels,
    coef=MODEL.coef,
    intercept=MODEL.intercept,
    threshold=MODEL.threshold,
    meta={"edge_vocabulary": sorted(KEYWORDS)},
)


@pytest.mark.parametrize(
    ("text", "edges_read"),
    [
        ("hi, my card was stolen", [["hi"]]),
        ("my card was stolen, thanks", [["thanks"]]),
        ("my card never came, why not", []),  # short edges, but no edge word: no extra call
        ("It was declined. Why?", []),
    ],
)
def test_only_edges_with_an_edge_word_are_read(text: str, edges_read: list[list[str]]) -> None:
    calls.clear()
    split_message(text, fake_embed([text])[0], model=GATED, embed=embed)
    assert calls[: len(edges_read)] == edges_read
    if not edges_read:
        assert calls == []


def test_the_shipped_head_reads_and_knows_every_act() -> None:
    model = read_act_model()
    assert set(model.labels) == {*ACTS, NONE}
    assert model.coef.shape == (len(model.labels), 384)
    assert 0.5 <= model.threshold < 1.0


def test_the_shipped_head_is_trained_on_the_data_file_as_it_is() -> None:
    from training.dialogue_acts import is_current

    assert is_current(), "retrain it: python -m training.dialogue_acts"


def test_the_data_file_is_varied_and_has_hard_negatives() -> None:
    rows = load_rows()
    by_act = {act: [t for t, a in rows if a == act] for act in (*ACTS, NONE)}
    assert len(rows) >= 400
    assert all(len(texts) >= 30 for texts in by_act.values())
    assert "hi, my card was stolen" in by_act[NONE] and "card stolen" in by_act[NONE]
    assert len({t.lower() for t, _ in rows}) == len(rows)
