"""Unit tests for `knowledge.chunking`: sections, heading paths, sizes and overlap."""

from __future__ import annotations

import itertools

import pytest

from knowledge.chunking import chunk_text, split_sections


def _words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def test_sections_carry_their_heading_path() -> None:
    text = (
        "# Shop\n\nIntro.\n\n## Returns\n\nReturn within 30 days.\n\n"
        "### Exceptions\n\nSale items.\n\n## Delivery\n\nTwo days."
    )
    sections = split_sections(text)
    assert sections == [
        ("Shop", "Intro."),
        ("Shop › Returns", "Return within 30 days."),
        ("Shop › Returns › Exceptions", "Sale items."),
        ("Shop › Delivery", "Two days."),
    ]


def test_text_before_any_heading_and_empty_sections() -> None:
    chunks = chunk_text("Preamble here.\n\n# Empty\n\n# Full\n\nBody.")
    assert [(c.heading, c.text) for c in chunks] == [("", "Preamble here."), ("Full", "Body.")]


def test_short_sections_are_one_chunk_each() -> None:
    chunks = chunk_text("# A\n\nalpha beta.\n\n# B\n\ngamma delta.")
    assert [c.heading for c in chunks] == ["A", "B"]


def test_long_sections_split_within_the_limit_with_overlap() -> None:
    paragraphs = "\n\n".join(_words(70, f"p{k}w") for k in range(6))  # 420 words
    chunks = chunk_text(f"# Long\n\n{paragraphs}", max_words=200, overlap_words=30)
    assert len(chunks) >= 3
    assert all(c.words <= 200 for c in chunks)
    assert all(c.heading == "Long" for c in chunks)
    # every word of the section is somewhere, and each chunk after the first starts with the
    # tail of the previous one
    joined = " ".join(c.text for c in chunks).split()
    assert set(joined) == set(paragraphs.split())
    for before, after in itertools.pairwise(chunks):
        assert after.text.split()[0] in before.text.split()


def test_one_huge_paragraph_is_cut_at_sentences() -> None:
    sentences = " ".join(f"Sentence number {i} talks about refunds and returns." for i in range(80))
    chunks = chunk_text(sentences, max_words=120, overlap_words=10)
    assert len(chunks) > 3
    assert all(c.words <= 120 for c in chunks)
    assert chunks[0].text.startswith("Sentence number 0")


def test_embedding_text_includes_title_and_heading() -> None:
    [chunk] = chunk_text("## Refunds\n\nMoney back in 5 days.")
    assert chunk.embedding_text("Returns policy") == (
        "Returns policy › Refunds\nMoney back in 5 days."
    )
    [top] = chunk_text("# Returns policy\n\nText.")
    assert top.embedding_text("Returns policy") == "Returns policy\nText."


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        chunk_text("x", max_words=10, overlap_words=10)
