"""Answer selection on FAQ-shaped and prose pages, lexical search, and the fused ranking, with
small hand-made vectors (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.chunking import chunk_text, split_sections
from knowledge.index import KnowledgeIndex
from knowledge.lexical import BM25, tokens
from knowledge.passages import anchor, is_question, select_answer, units

PROSE = """Send money from the app under Payments > Send money. You can pay someone in the UK,
in euros across Europe, or abroad in more than 40 currencies. Transfers in pounds arrive in
seconds. The first payment to a new payee can be held for up to 24 hours for a security check.
Payments made after 17:00 on a working day may start the next working day. You can send up to
£25,000 a day in the app. Euro transfers to Germany, France or Spain are free."""

FAQ_QA = """# Help

## Questions

Q: How long does delivery take?
A: Parcels arrive in 2 to 4 working days.

Q: Can I return an item?
A: Yes, within 30 days, free of charge.
"""

FAQ_HEADINGS = """# Help

## How do I reset my password?

Click "Forgot password" and follow the link we email you. The link expires after an hour.

## Do you ship abroad?

We ship to 40 countries. Customs duties are paid by the recipient.
"""

HOURS = """Our branches are open:

- Monday to Friday: 9:00–17:00
- Saturday: 9:00–13:00
- Sunday and bank holidays: closed

Find your nearest branch in More > Find a branch. In a branch you can pay in cash and cheques,
open an account with photo ID, book a mortgage or savings appointment, and get help with the app.
Our branch ATMs are available 24 hours a day."""

TABLE = """| transfer | fee | usual time |
|---|---|---|
| UK (Faster Payments) | free | seconds |
| International (SWIFT) | £5 | 2–5 working days |"""


def weight(term: str) -> float:
    return 1.0


def select(text: str, query: str, heading: str = "Page › Section", focus: str | None = None) -> str:
    return select_answer(
        heading=heading,
        text=text,
        query_vector=None,
        unit_vectors=None,
        query=query,
        focus=focus,
        weight=weight,
    )


def test_prose_is_answered_with_its_best_sentences_not_its_first_lines() -> None:
    answer = select(PROSE, "what is the cost of euro transfers to Germany")
    assert "Germany" in answer
    assert not answer.startswith("Send money from the app")
    assert len(answer) < len(" ".join(PROSE.split()))


def test_a_q_and_a_page_is_chunked_per_question_and_answered_with_its_answer() -> None:
    chunks = chunk_text(FAQ_QA)
    assert [c.heading for c in chunks] == [
        "Help › Questions › How long does delivery take?",
        "Help › Questions › Can I return an item?",
    ]
    assert chunks[1].text == "Yes, within 30 days, free of charge."
    assert is_question(chunks[0].heading)
    assert select(chunks[0].text, "delivery time", chunks[0].heading) == (
        "Parcels arrive in 2 to 4 working days."
    )


def test_question_headings_are_faq_pairs_answered_whole() -> None:
    heading, body = split_sections(FAQ_HEADINGS)[0]
    assert is_question(heading)
    assert select(body, "password", heading) == " ".join(body.split())
    assert anchor(heading) == "how-do-i-reset-my-password"


def test_a_list_item_comes_with_the_line_that_introduces_it() -> None:
    assert select(HOURS, "opening hours on Sunday", focus="and on Sunday?") == (
        "Our branches are open: Sunday and bank holidays: closed."
    )


def test_the_introduction_of_a_list_brings_the_list() -> None:
    parts = units(HOURS)
    assert parts[0].text == "Our branches are open:"
    assert [u.lead for u in parts[1:4]] == [0, 0, 0]


def test_table_rows_read_as_sentences() -> None:
    assert [u.text for u in units(TABLE)] == [
        "UK (Faster Payments): fee free; usual time seconds",
        "International (SWIFT): fee £5; usual time 2–5 working days",
    ]


def test_lists_and_tables_keep_their_lines_when_chunked() -> None:
    (chunk,) = chunk_text("# Hours\n\n" + HOURS)
    assert "- Saturday: 9:00–13:00\n- Sunday" in chunk.text


def test_an_older_flattened_list_is_cut_into_items_again() -> None:
    flattened = "- Interest is paid monthly. - We pay interest without deducting tax."
    assert [u.text for u in units(flattened)] == [
        "Interest is paid monthly.",
        "We pay interest without deducting tax.",
    ]


@pytest.mark.parametrize(
    ("heading", "slug"),
    [("Fees › Card payments", "card-payments"), ("Contact › Email and post", "email-and-post")],
)
def test_anchors(heading: str, slug: str) -> None:
    assert anchor(heading) == slug


def test_tokens_drop_stop_words_and_stem() -> None:
    assert tokens("How much are the payments charged?") == ["much", "payment", "charg"]
    assert "25,000" in tokens("up to £25,000 a day")


def test_bm25_prefers_the_rarer_matching_term() -> None:
    docs = [tokens("card fees"), tokens("sepa transfers to germany"), tokens("card limits"), []]
    scores = BM25(docs).scores(tokens("germany card"))
    assert scores[1] > scores[0] == scores[2] > scores[3] == 0


def test_the_fused_ranking_lifts_a_lexical_match_but_the_score_stays_the_cosine() -> None:
    pages = [("Cards", "Order a card."), ("Fees", "SEPA transfers to Germany are free.")]
    pages += [(f"Page {i}", f"Gardening tip number {i}.") for i in range(98)]
    vectors = np.zeros((len(pages), 4), dtype=np.float32)
    vectors[0, 0] = vectors[1, 1] = 1.0
    vectors[2:, 2] = 1.0
    rows = [
        {"doc_id": f"d{i}", "chunk_id": f"d{i}-0", "title": t, "heading": t, "text": x}
        for i, (t, x) in enumerate(pages)
    ]
    index = KnowledgeIndex(version="v", vectors=vectors, rows=rows)
    query = np.asarray([0.60, 0.55, 0.0, 0.0], dtype=np.float32)
    dense = index.search(query, top_k=3, query="fees for Germany", fusion="dense")
    fused = index.search(query, top_k=3, query="fees for Germany")
    assert [h["doc_id"] for h in dense][:2] == ["d0", "d1"]
    assert [h["doc_id"] for h in fused][:2] == ["d1", "d0"]
    assert fused[0]["score"] == pytest.approx(0.55) and fused[0]["lexical"] == 1.0
    assert fused[0]["anchor"] == "fees"


def test_a_handful_of_chunks_trusts_the_dense_ranking() -> None:
    rows = [
        {"doc_id": "d0", "chunk_id": "d0-0", "title": "Refunds", "text": "Refunds take 5 days."},
        {"doc_id": "d1", "chunk_id": "d1-0", "title": "Returns", "text": "Send an item back."},
    ]
    index = KnowledgeIndex(version="v", vectors=np.eye(2, dtype=np.float32), rows=rows)
    query = np.asarray([0.55, 0.51], dtype=np.float32)
    hits = index.search(query, top_k=2, query="when do I get my money back")
    assert [h["doc_id"] for h in hits] == ["d0", "d1"]
