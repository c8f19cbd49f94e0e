"""Checks the demo tenant's content: answers for real BANKING77 intents, well-formed knowledge
pages, and off-topic negatives that do not overlap the intent training data."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo"
BANKING77 = DEMO / "banking77"
KNOWLEDGE = DEMO / "knowledge"
OUT_OF_SCOPE = ROOT / "training" / "data" / "out_of_scope.csv"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@cache
def _categories() -> frozenset[str]:
    names = json.loads((BANKING77 / "categories.json").read_text(encoding="utf-8"))
    return frozenset(names)


@cache
def _train_rows() -> tuple[dict[str, str], ...]:
    return tuple(_read_csv(BANKING77 / "train.csv"))


@cache
def _responses() -> dict[str, str]:
    data = yaml.safe_load((DEMO / "responses.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _knowledge_pages() -> list[Path]:
    return sorted(KNOWLEDGE.glob("*.md"))


def test_every_response_key_is_a_banking77_intent() -> None:
    unknown = set(_responses()) - _categories()
    assert not unknown, f"responses for intents that BANKING77 does not have: {sorted(unknown)}"


def test_responses_are_non_empty_sentences() -> None:
    for intent, answer in _responses().items():
        assert isinstance(answer, str), intent
        sentences = re.findall(r"[.!?](?:\s|$)", answer.strip())
        assert 20 <= len(answer) <= 600, f"{intent}: answer length {len(answer)}"
        assert len(sentences) >= 1, f"{intent}: not a sentence"


def test_the_most_frequent_intents_have_responses() -> None:
    counts = Counter(row["category"] for row in _train_rows())
    assert set(counts) <= _categories()
    top = [name for name, _ in counts.most_common(20)]
    missing = [name for name in top if name not in _responses()]
    assert not missing, f"frequent intents without an answer: {missing}"


def test_responses_only_use_the_fictional_phone_numbers() -> None:
    allowed = {"0800 000 0000", "0800 000 0999", "+44 20 0000 0000", "+44 20 0000 0999"}
    texts = [*_responses().values(), *(p.read_text(encoding="utf-8") for p in _knowledge_pages())]
    numbers = {
        match.strip()
        for text in texts
        for match in re.findall(r"(?:\+44 20|0800)[ \d]{8,10}\d", text)
    }
    assert numbers <= allowed, f"unexpected phone numbers: {sorted(numbers - allowed)}"


def test_there_are_enough_knowledge_pages() -> None:
    assert len(_knowledge_pages()) >= 10


@pytest.mark.parametrize("page", _knowledge_pages(), ids=lambda p: p.name)
def test_knowledge_page_is_well_formed(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) > 3, "first line must be a '# ' title"
    assert sum(line.startswith("# ") for line in lines) == 1, "exactly one top-level title"
    assert any(line.startswith("## ") for line in lines), "needs '##' sections"
    words = len(text.split())
    assert 120 <= words <= 450, f"{words} words"


def test_knowledge_titles_are_distinct() -> None:
    titles = [p.read_text(encoding="utf-8").splitlines()[0] for p in _knowledge_pages()]
    assert len(set(titles)) == len(titles)


def test_out_of_scope_rows_are_many_unique_and_unseen() -> None:
    rows = _read_csv(OUT_OF_SCOPE)
    assert rows and list(rows[0]) == ["text"]
    texts = [row["text"].strip() for row in rows]
    assert all(texts), "empty row"
    normalised = [_normalise(text) for text in texts]
    assert len(set(normalised)) == len(normalised), "duplicate rows"
    assert len(normalised) >= 100
    training = {_normalise(row["text"]) for row in _train_rows()}
    overlap = sorted(set(normalised) & training)
    assert not overlap, f"rows that are BANKING77 training texts: {overlap}"
