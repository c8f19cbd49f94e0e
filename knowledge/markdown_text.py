"""Markdown to structured text (see `knowledge.structured_text`) with markdown-it-py.

markdown-it-py (CommonMark, plus tables and strikethrough) parses in time linear in the input; two
extra rules tick the parse budget at every block and every inline step, so a document that is
merely slow to read still stops at its deadline. The token stream then becomes headings (ATX and
setext alike), paragraphs, list items (`- ` or `1. ` lines), table rows (`| a | b |`) and code
lines; emphasis is unwrapped, links keep their text, images their alt text, inline HTML tags are
dropped and HTML blocks are read by the HTML parser. YAML front matter is skipped. Blocks nested
deeper than markdown-it reads (quotes in lists in quotes...) are refused, not silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from knowledge.parse_budget import DocumentTooComplex, ParseBudget
from knowledge.structured_text import StructuredText

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

_BUDGET = "lambdesk_parse_budget"
# markdown-it's recursion guard; blocks nested this deep are not parsed (a list item counts two).
MAX_NESTING = 40
_CONTAINERS = {
    "bullet_list_open": 1,
    "ordered_list_open": 1,
    "table_open": 1,
    "bullet_list_close": -1,
    "ordered_list_close": -1,
    "table_close": -1,
}


def _tick_block(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
    state.env[_BUDGET].tick()
    if state.level >= MAX_NESTING - 1:  # one level more and markdown-it drops the rest
        raise DocumentTooComplex(
            f"the Markdown is nested deeper than {MAX_NESTING - 2} levels (quotes and lists): "
            "simplify it"
        )
    return False  # never matches: it only counts


def _tick_inline(state: Any, silent: bool) -> bool:
    state.env[_BUDGET].tick()
    return False


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])
    md.block.ruler.before("table", "lambdesk_budget", _tick_block)
    md.inline.ruler.before("text", "lambdesk_budget", _tick_inline)
    return md


def strip_front_matter(raw: str) -> str:
    """The text after a leading `---` ... `---` block, or the text itself."""
    if not raw.startswith("---\n"):
        return raw
    end = raw.find("\n---\n", 3)
    if end >= 0:
        return raw[end + 5 :]
    return "" if raw.endswith("\n---") else raw


def _inline_text(children: Sequence[Token] | None) -> str:
    """The plain text of an inline token's children (images give their alt text)."""
    parts: list[str] = []
    stack: list[Iterator[Token]] = [iter(children or ())]
    while stack:
        token = next(stack[-1], None)
        if token is None:
            stack.pop()
            continue
        kind = token.type
        if kind in ("text", "code_inline"):
            parts.append(token.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind == "image":
            stack.append(iter(token.children or ()))
        elif kind == "html_inline" and token.content[:3].lower() == "<br":
            parts.append(" ")
    return "".join(parts)


def markdown_to_text(raw: str, *, budget: ParseBudget) -> tuple[str, str]:
    """(title, structured text): the title is the first heading, or ""."""
    from knowledge.html_text import html_fragment_into

    raw = strip_front_matter(raw.replace("\r\n", "\n").replace("\r", "\n"))
    tokens = _parser().parse(raw, {_BUDGET: budget})
    out = StructuredText(budget)
    group: list[str] = []  # lines of the outermost open list or table
    containers = 0
    markers: list[str] = []  # the marker of each open list item, innermost last
    marker_pending = False
    cells: list[str] = []
    in_cell = False
    heading = 0
    for token in tokens:
        budget.tick()
        kind = token.type
        if kind in _CONTAINERS:
            containers += _CONTAINERS[kind]
            if containers == 0 and group:
                out.paragraph(group)
                group = []
        elif kind == "list_item_open":
            ordered = token.markup in (".", ")")
            markers.append(f"{token.info}{token.markup} " if ordered else "- ")
            marker_pending = True
        elif kind == "list_item_close":
            markers.pop()
            marker_pending = False
        elif kind == "heading_open":
            heading = int(token.tag[1:])
        elif kind == "heading_close":
            heading = 0
        elif kind == "tr_open":
            cells = []
        elif kind == "tr_close":
            group.append("| " + " | ".join(cells) + " |")
        elif kind in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = kind.endswith("_open")
        elif kind == "inline":
            text = _inline_text(token.children)
            if in_cell:
                cells.append(" ".join(text.split()))
            elif heading and not containers:
                out.heading(heading, text)
            elif containers:
                if marker_pending and markers:
                    text = markers[-1] + text
                    marker_pending = False
                group.append(text)
            else:
                out.paragraph([text])
        elif kind in ("fence", "code_block"):
            lines = token.content.split("\n")
            if containers:
                group.extend(lines)
            else:
                out.paragraph(lines)
        elif kind == "html_block":
            if containers:
                inner = StructuredText(budget)
                html_fragment_into(token.content, out=inner, budget=budget)
                group.extend(inner.text().split("\n"))
            else:
                html_fragment_into(token.content, out=out, budget=budget)
    if group:
        out.paragraph(group)
    return out.first_heading, out.text()
