"""The document parsers behind `knowledge.ingest`: the structured text each produces, hostile
inputs (the pathological Markdown and nested HTML of the hardening issue), the time budget, PDF
ingest, and linear work (the work is counted, never timed)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from core.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from knowledge.chunking import chunk_text, split_sections
from knowledge.ingest import parse_document
from knowledge.parse_budget import DocumentTooComplex, ParseBudget
from knowledge.structured_text import heading_level, plain_line
from tests.pdf_fixtures import encrypt_pdf, make_pdf

PATHOLOGICAL_MARKDOWN = ("# T\n\n" + " *a" * 12000).encode()


def nested_html(size: int) -> bytes:
    """`<div><p>word ` repeated, never closed: each repetition one level deeper."""
    unit = b"<div><p>word "
    return unit * (size // len(unit))


def markdown(data: str, budget: ParseBudget | None = None) -> str:
    return parse_document(
        filename="doc.md", content_type="text/markdown", data=data.encode(), budget=budget
    ).text


def html(data: bytes, budget: ParseBudget | None = None) -> str:
    return parse_document(
        filename="doc.html", content_type="text/html", data=data, budget=budget
    ).text


# --------------------------------------------------------------------------- Markdown


def test_markdown_lists_tables_and_code_keep_one_line_each() -> None:
    text = markdown(
        "# Fees\n\nIntro with *emphasis*\nwrapped over two lines.\n\n"
        "- first item\n- second **bold**\n  - nested\n\n"
        "3. third\n4. fourth\n\n"
        "| plan | fee |\n|---|---|\n| Basic | £0 |\n| Plus | £5 |\n\n"
        "```\ncode line 1\ncode line 2\n```\n"
    )

    assert text == (
        "# Fees\n\nIntro with emphasis wrapped over two lines.\n\n"
        "- first item\n- second bold\n- nested\n\n"
        "3. third\n4. fourth\n\n"
        "| plan | fee |\n| Basic | £0 |\n| Plus | £5 |\n\n"
        "code line 1\ncode line 2"
    )


def test_markdown_html_blocks_are_read_as_html_and_inline_tags_dropped() -> None:
    text = markdown(
        "# Help\n\n<div class='note'>\n<h2>Warranty</h2>\n<p>One <b>year</b>.</p>\n</div>\n\n"
        "Call <em>us</em><br>today <!-- not this -->.\n"
    )

    assert text == "# Help\n\n## Warranty\n\nOne year.\n\nCall us today ."


def test_markdown_escaped_hash_and_code_lines_never_become_headings() -> None:
    text = markdown("# Real\n\n\\# not a heading\n\n```\n## comment in code\n```\n")

    assert [heading for heading, _ in split_sections(text)] == ["Real"]
    assert "not a heading" in text
    assert "comment in code" in text


def test_markdown_front_matter_is_dropped() -> None:
    assert markdown("---\ntitle: x\nlayout: page\n---\n# Doc\n\nBody.") == "# Doc\n\nBody."
    with pytest.raises(Unprocessable):  # front matter and nothing else: no text
        markdown("---\ntitle: x\n---")


def test_the_pathological_markdown_of_the_issue_parses_correctly_with_linear_work() -> None:
    budget = ParseBudget(600)

    doc = parse_document(
        filename="t.md", content_type="text/markdown", data=PATHOLOGICAL_MARKDOWN, budget=budget
    )

    assert doc.title == "T"
    assert doc.text == "# T\n\n" + " ".join(["*a"] * 12000)  # unmatched `*` stay text
    assert budget.steps <= 2 * len(PATHOLOGICAL_MARKDOWN)


# --------------------------------------------------------------------------- HTML


def test_markdown_nested_beyond_what_markdown_it_reads_is_refused_not_cut() -> None:
    assert markdown("> " * 30 + "deep") == "deep"
    with pytest.raises(DocumentTooComplex):
        markdown("> " * 200 + "lost")


def test_the_nested_html_of_the_issue_is_refused_after_little_work() -> None:
    for size in (52_000, 78_000):
        budget = ParseBudget(600)

        with pytest.raises(DocumentTooComplex) as info:
            html(nested_html(size), budget)

        assert info.value.status == 422
        assert info.value.code == "document_too_complex"
        assert "nested deeper than 255" in info.value.message
        assert budget.steps < 2_000  # libxml2 stops at its depth limit; nothing is walked twice


def test_html_nested_within_the_limit_is_read_whole() -> None:
    data = b"<html><body>" + b"<div><p>word " * 120 + b"<p>the end</p>"

    text = html(data)

    assert text.split("\n\n") == ["word"] * 120 + ["the end"]


def test_html_headings_inside_headings_read_as_one_heading() -> None:
    text = html(b"<h1>Top <div><h2>inner</h2></div> title</h1><p>Body.</p>")

    assert text == "# Top inner title\n\nBody."


def test_html_pre_keeps_its_lines_and_br_breaks_lines() -> None:
    text = html(b"<pre>line one\n# line two</pre><p>a<br>b</p><table><tr><td>x</td><td>y</td>")

    assert text == "line one\nline two\n\na\nb\n\nx y"


def test_html_encodings() -> None:
    utf8 = html("<p>café ☕</p>".encode())
    latin = html("<meta charset='iso-8859-1'><p>café</p>".encode("latin-1"))
    utf16 = html("<p>café ☕</p>".encode("utf-16"))

    assert (utf8, latin, utf16) == ("café ☕", "café", "café ☕")


# --------------------------------------------------------------------------- time budget


class SteppingClock:
    """A clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("t.md", "text/markdown", PATHOLOGICAL_MARKDOWN),
        ("t.html", "text/html", b"<p>paragraph</p>" * 5000),
        ("t.txt", "text/plain", b"line\n" * 5000),
        ("t.pdf", "application/pdf", make_pdf([["page text"]] * 40)),
    ],
)
def test_a_parse_stops_at_its_deadline(filename: str, content_type: str, data: bytes) -> None:
    clock = SteppingClock(step=1.0)  # every clock reading costs a second of a 30 s budget
    budget = ParseBudget(30, clock=clock, check_every=8)

    with pytest.raises(DocumentTooComplex) as info:
        parse_document(filename=filename, content_type=content_type, data=data, budget=budget)

    assert info.value.status == 422
    assert "max_parse_seconds" in info.value.message
    assert 30 <= clock.now <= 32  # it stopped at the first reading past the deadline


def test_a_small_document_is_checked_at_the_end_too() -> None:
    budget = ParseBudget(0.5, clock=SteppingClock(step=1.0))

    with pytest.raises(DocumentTooComplex):
        parse_document(filename="a.txt", content_type="text/plain", data=b"hi", budget=budget)


def test_budget_needs_a_positive_time() -> None:
    with pytest.raises(ValueError):
        ParseBudget(0)


# --------------------------------------------------------------------------- PDF


def test_pdf_pages_become_paragraphs_and_the_title_comes_from_the_pdf() -> None:
    data = make_pdf(
        [["Opening hours", "We are open (mostly) 9 to 5."], ["Closed on Sundays.", "# no"]],
        title="Branch guide",
    )

    doc = parse_document(filename="guide.pdf", content_type="application/pdf", data=data)

    assert doc.title == "Branch guide"
    assert doc.kind == "pdf"
    assert doc.media_type == "application/pdf"
    assert doc.text == ("Opening hours\nWe are open (mostly) 9 to 5.\n\nClosed on Sundays.\nno")
    assert [c.text for c in chunk_text(doc.text)] == [
        "Opening hours We are open (mostly) 9 to 5.\n\nClosed on Sundays. no"
    ]


def test_pdf_by_extension_and_title_from_filename() -> None:
    doc = parse_document(
        filename="price_list.pdf",
        content_type="application/octet-stream",
        data=make_pdf([["Prices"]]),
    )

    assert (doc.title, doc.text) == ("price list", "Prices")


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (b"%PDF-1.7 truncated", Unprocessable, "invalid_pdf"),
        (make_pdf([["x"]])[:200], Unprocessable, "invalid_pdf"),
        (encrypt_pdf(make_pdf([["secret"]]), password="pw"), Unprocessable, "document_encrypted"),
        (b"just some text, not a PDF", UnsupportedMediaType, "unsupported_media_type"),
        (make_pdf([[]]), Unprocessable, "unprocessable"),  # a PDF without text
        (make_pdf([["page"]] * 3), PayloadTooLarge, "too_many_pages"),
    ],
    ids=["garbage", "truncated", "encrypted", "not-a-pdf", "no-text", "too-many-pages"],
)
def test_bad_pdfs_are_refused(data: bytes, error: type[Exception], code: str) -> None:
    with pytest.raises(error) as info:
        parse_document(filename="doc.pdf", content_type="application/pdf", data=data, max_pages=2)

    assert getattr(info.value, "code", None) == code


# --------------------------------------------------------------------------- linear work


def executed_lines(run: Callable[[], object]) -> int:
    """How many Python lines `run` executes (parsers included): a deterministic work count."""
    count = 0

    def trace(frame: object, event: str, arg: object) -> Callable[..., object]:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)  # type: ignore[arg-type]
    try:
        run()
    finally:
        sys.settrace(previous)
    return count


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("t.md", lambda n: ("# T\n\n" + " *a" * n).encode()),
        ("t.md", lambda n: ("![a" * (n // 10)).encode()),
        ("t.md", lambda n: ("[a](" * (n // 5)).encode()),
        ("t.md", lambda n: (("> " * 5 + "1. " * 5 + "x **y** _z_\n\n") * (n // 10)).encode()),
        ("t.html", lambda n: b"<div>" * 200 + b"<p>x <b>y</b><br>" * n),
        ("t.txt", lambda n: b"a  line\r\n\r\n\r\n" * n),
    ],
    ids=["emphasis", "images", "links", "nesting", "html", "text"],
)
def test_parse_work_grows_linearly(filename: str, make: Callable[[int], bytes]) -> None:
    def work(n: int) -> int:
        data = make(n)
        return executed_lines(
            lambda: parse_document(
                filename=filename, content_type=None, data=data, budget=ParseBudget(600)
            )
        )

    work(10)  # first use: imports and the cached parser are not part of the count
    single, double = work(1000), work(2000)

    assert 1.7 < double / single < 2.3, (single, double)


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("line", "level", "plain"),
    [
        ("# Title", 1, "Title"),
        ("###### Deep", 6, "Deep"),
        ("####### seven", 0, "####### seven"),
        ("#hashtag", 0, "#hashtag"),
        ("# ", 0, "# "),
        ("#1 fan", 0, "#1 fan"),
    ],
)
def test_heading_lines(line: str, level: int, plain: str) -> None:
    assert heading_level(line) == level
    assert plain_line(line) == plain
