"""Unit tests for `knowledge.ingest`: plain text, Markdown and HTML parsing, and the 415/422
cases."""

from __future__ import annotations

import pytest

from core.errors import Unprocessable, UnsupportedMediaType
from knowledge.ingest import detect_format, parse_document


def test_plain_text_keeps_paragraphs_and_titles_from_filename() -> None:
    data = b"Opening hours\r\n\r\nWe are open   9 to 5.\r\n\r\n\r\n\r\nClosed on Sundays.\n"
    doc = parse_document(filename="opening_hours.txt", content_type="text/plain", data=data)
    assert doc.title == "opening hours"
    assert doc.text == "Opening hours\n\nWe are open 9 to 5.\n\nClosed on Sundays."


def test_markdown_title_is_first_heading_and_headings_are_kept() -> None:
    data = (
        b"---\nlayout: page\n---\n"
        b"Intro line before any heading.\n\n"
        b"# Returns policy\n\nYou can return **any** item within [30 days](https://x.test/r).\n\n"
        b"## Refunds\n\nRefunds take `5` days. ![chart](c.png)\n\n"
        b"Shipping\n--------\n\nWe ship worldwide.\n<!-- hidden note -->\n"
    )
    doc = parse_document(filename="policy.md", content_type=None, data=data)
    assert doc.title == "Returns policy"
    assert "# Returns policy" in doc.text
    assert "## Refunds" in doc.text
    assert "## Shipping" in doc.text
    assert "You can return any item within 30 days." in doc.text
    assert "Refunds take 5 days. chart" in doc.text
    assert "https://" not in doc.text
    assert "hidden note" not in doc.text
    assert "layout" not in doc.text


def test_markdown_by_extension_when_browser_says_octet_stream() -> None:
    doc = parse_document(
        filename="faq.markdown", content_type="application/octet-stream", data=b"# FAQ\n\nHi."
    )
    assert doc.title == "FAQ"


def test_html_drops_scripts_styles_nav_and_keeps_headings() -> None:
    data = b"""<!doctype html><html><head><title>Help  Centre</title>
    <style>body { color: red }</style><script>alert('x')</script></head>
    <body><nav><a href="/">Home</a> | <a href="/shop">Shop</a></nav>
    <h1>Delivery</h1><p>Orders ship in <b>two</b> days.</p>
    <h2>Tracking</h2><ul><li>Open your account</li><li>Click orders</li></ul>
    <table><tr><td>UK</td><td>2 days</td></tr></table></body></html>"""
    doc = parse_document(filename="help.html", content_type="text/html; charset=utf-8", data=data)
    assert doc.title == "Help Centre"
    assert "# Delivery" in doc.text
    assert "## Tracking" in doc.text
    assert "Orders ship in two days." in doc.text
    assert "Open your account\n\nClick orders" in doc.text
    assert "UK 2 days" in doc.text
    for dropped in ("alert", "color", "Home", "Shop"):
        assert dropped not in doc.text


def test_html_title_falls_back_to_h1() -> None:
    doc = parse_document(
        filename="x.htm", content_type=None, data=b"<body><h1>Warranty</h1><p>One year.</p></body>"
    )
    assert doc.title == "Warranty"


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("photo.png", "image/png", b"\x89PNG\r\n\x1a\n...."),
        ("bundle.zip", "application/zip", b"PK\x03\x04...."),
        ("data.csv", "text/csv", b"a,b\n1,2\n"),
        ("archive.zip", None, b"PK\x03\x04...."),
        ("notes.txt", "text/plain", b"%PDF-1.4 disguised"),
        ("notes.md", "application/octet-stream", b"PK\x03\x04 disguised"),
    ],
)
def test_unsupported_types_are_415(filename: str, content_type: str | None, data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        parse_document(filename=filename, content_type=content_type, data=data)
    assert info.value.status == 415


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("empty.txt", "text/plain", b""),
        ("blank.md", "text/markdown", b"   \n\n\t\n"),
        ("latin.txt", "text/plain", "caf\xe9".encode("latin-1")),
        ("nul.txt", "text/plain", b"abc\x00def"),
        ("empty.html", "text/html", b"<html><script>x()</script></html>"),
        ("headings.md", "text/markdown", b"# Title\n\n## Only headings\n"),
    ],
)
def test_empty_or_undecodable_text_is_422(
    filename: str, content_type: str | None, data: bytes
) -> None:
    with pytest.raises(Unprocessable) as info:
        parse_document(filename=filename, content_type=content_type, data=data)
    assert info.value.status == 422


def test_utf16_with_bom_is_decoded() -> None:
    doc = parse_document(filename="a.txt", content_type=None, data="Bonjour ☕".encode("utf-16"))
    assert doc.text == "Bonjour ☕"


def test_detect_format_prefers_a_specific_content_type() -> None:
    assert detect_format(filename="page.txt", content_type="text/html") == "html"
    assert detect_format(filename="readme.md", content_type="text/plain") == "markdown"
    assert detect_format(filename="readme", content_type="text/plain") == "text"
