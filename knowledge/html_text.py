"""HTML to structured text (see `knowledge.structured_text`) with lxml (libxml2's HTML parser).

libxml2 parses in linear time: unlike an HTML5 tree builder, whose cost grows with the square of
the nesting depth (a few hundred KB of unclosed `<div>`s takes seconds), it stops at 256 levels.
A document that reaches that depth would be cut short, so it is refused (`document_too_complex`)
instead of indexed in part. The bytes are fed to the parser in small chunks with a deadline check
between them, and the tree is then walked without recursion, one budget tick per element event.

Headings become `#` lines, block elements (`p`, `div`, `li`, `tr`, ...) paragraphs, `br` a line
break, table cells are separated by a space; `script`, `style`, `nav`, `head` and the like are
dropped. The title is the `<title>`, else the first `<h1>`.
"""

from __future__ import annotations

from typing import Any

from core.errors import Unprocessable
from knowledge.parse_budget import DocumentTooComplex, ParseBudget
from knowledge.structured_text import StructuredText, short_title

FEED_BYTES = 16 * 1024
# libxml2 stops building the tree below this depth (html and body included).
MAX_DEPTH = 256

DROP_TAGS = frozenset(
    ("script", "style", "nav", "noscript", "template", "svg", "iframe", "head", "object", "math")
)
BLOCK_TAGS = frozenset(
    (
        "p",
        "div",
        "section",
        "article",
        "main",
        "aside",
        "header",
        "footer",
        "li",
        "dt",
        "dd",
        "tr",
        "table",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "form",
        "ul",
        "ol",
        "dl",
        "address",
        "hr",
        "details",
        "summary",
        "caption",
        "body",
    )
)
HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
TICK_EVERY = 32  # element events counted locally between budget ticks


def _payload(data: bytes | str) -> tuple[str | None, bytes]:
    """(encoding to tell the parser, bytes to feed): UTF-8 when the bytes are UTF-8 (or UTF-16
    with a byte-order mark); else None, and the parser follows `<meta charset>` or Latin-1."""
    if isinstance(data, str):
        return "utf-8", data.encode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return "utf-8", data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unprocessable("document is not valid UTF-16 text") from exc
    try:
        return "utf-8", data.decode("utf-8-sig").encode("utf-8")
    except UnicodeDecodeError:
        return None, data


def _parse(data: bytes | str, budget: ParseBudget) -> Any | None:
    """The document's root element, or None when there is no markup at all."""
    from lxml import etree

    encoding, payload = _payload(data)
    parser = etree.HTMLParser(
        encoding=encoding,
        remove_comments=True,
        remove_pis=True,
        no_network=True,
        default_doctype=False,
    )
    try:
        for start in range(0, len(payload), FEED_BYTES):
            budget.tick()
            budget.check()
            parser.feed(payload[start : start + FEED_BYTES])
        return parser.close()
    except etree.LxmlError:  # nothing parseable (an empty document)
        return None


def _walk(root: Any, out: StructuredText, budget: ParseBudget) -> None:
    """Append `root`'s text to `out`: one pass over the element events, no recursion."""
    from lxml import etree

    lines: list[str] = []  # finished lines of the current paragraph
    inline: list[str] = []  # text of the current line
    heading: Any = None  # the heading element being read, if any
    heading_level = 0
    pre = 0
    depth = 0
    events = 0

    def end_line() -> None:
        if inline:
            lines.append("".join(inline))
            inline.clear()

    def end_block() -> None:
        end_line()
        if lines:
            out.paragraph(lines)
            lines.clear()

    def add_text(text: str) -> None:
        if heading is None and pre:
            first, *rest = text.split("\n")
            inline.append(first)
            for line in rest:
                end_line()
                inline.append(line)
        else:
            inline.append(text)

    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        events += 1
        if events == TICK_EVERY:
            budget.tick(events)
            events = 0
        tag = element.tag
        if not isinstance(tag, str):  # a comment or instruction the parser kept: only its tail
            if event == "end" and element.tail:
                add_text(element.tail)
            continue
        if event == "start":
            depth += 1
            if depth >= MAX_DEPTH:
                raise DocumentTooComplex(
                    f"the HTML is nested deeper than {MAX_DEPTH - 1} elements: simplify its markup"
                )
            if tag in DROP_TAGS:
                walker.skip_subtree()
                continue
            if heading is None:
                if tag in BLOCK_TAGS:
                    end_block()
                elif tag in HEADING_TAGS:
                    end_block()
                    heading, heading_level = element, HEADING_TAGS[tag]
                elif tag == "br":
                    end_line()
            elif tag == "br":
                inline.append(" ")
            if tag == "pre":
                pre += 1
            if element.text:
                add_text(element.text)
            continue
        depth -= 1
        if tag not in DROP_TAGS:
            if element is heading:
                out.heading(heading_level, "".join(inline))
                inline.clear()
                heading = None
            elif tag in BLOCK_TAGS and heading is None:
                end_block()
            elif tag == "td" or tag == "th":
                inline.append(" ")
            if tag == "pre":
                pre -= 1
        if element.tail and element is not root:
            add_text(element.tail)
    budget.tick(events)
    if heading is not None:
        out.heading(heading_level, "".join(inline))
        inline.clear()
    end_block()


def html_to_text(data: bytes, *, budget: ParseBudget) -> tuple[str, str]:
    """(title, structured text) of an HTML document."""
    root = _parse(data, budget)
    out = StructuredText(budget)
    if root is None:
        return "", ""
    title = ""
    title_element = root.find(".//title")
    if title_element is not None:
        title = short_title("".join(title_element.itertext()))
    _walk(root, out, budget)
    return title or out.first_h1, out.text()


def html_fragment_into(content: str, *, out: StructuredText, budget: ParseBudget) -> None:
    """Append the text of an HTML fragment (a Markdown HTML block) to `out`."""
    root = _parse(content, budget)
    if root is not None:
        _walk(root, out, budget)
