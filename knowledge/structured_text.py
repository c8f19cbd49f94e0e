"""The "structured text" every parser produces and `knowledge.chunking` reads.

Headings are `#` lines (`## Refunds`), paragraphs are separated by one blank line, lines inside a
paragraph (list items, table rows, lines of code) by one newline, and whitespace inside a line is
one space. A body line that would read as a heading (`# not a heading` in a paragraph) loses its
`#` marks, so only real headings cut sections. Everything here is a linear scan: no regular
expression runs over a whole document.
"""

from __future__ import annotations

from collections.abc import Iterable

from knowledge.parse_budget import ParseBudget

MAX_TITLE_CHARS = 300


def clean_line(text: str) -> str:
    """One line: whitespace runs (any Unicode space, newlines included) become one space."""
    return " ".join(text.split())


def heading_level(line: str) -> int:
    """1-6 when `line` (already stripped) reads as a `#` heading, else 0."""
    marks = len(line) - len(line.lstrip("#"))
    if 1 <= marks <= 6 and len(line) > marks + 1 and line[marks].isspace():
        return marks if line[marks + 1 :].strip() else 0
    return 0


def plain_line(line: str) -> str:
    """A body line that cannot be mistaken for a heading."""
    return line.lstrip("#").lstrip() if heading_level(line) else line


def short_title(text: str) -> str:
    return clean_line(text)[:MAX_TITLE_CHARS].strip()


def normalise(text: str, *, budget: ParseBudget) -> str:
    """Unix newlines, one space inside lines, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for raw in text.split("\n"):
        budget.tick()
        line = clean_line(raw)
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()


def has_body(text: str) -> bool:
    """Whether the structured text has any line that is not a heading."""
    return any(line.strip() and not heading_level(line.strip()) for line in text.split("\n"))


class StructuredText:
    """Builds structured text block by block; the first heading (any level) is the title."""

    def __init__(self, budget: ParseBudget) -> None:
        self.budget = budget
        self.blocks: list[str] = []
        self.first_heading = ""
        self.first_h1 = ""

    def heading(self, level: int, text: str) -> None:
        text = clean_line(text)
        self.budget.tick()
        if not text:
            return
        level = min(max(level, 1), 6)
        self.blocks.append(f"{'#' * level} {text}")
        if not self.first_heading:
            self.first_heading = short_title(text)
        if level == 1 and not self.first_h1:
            self.first_h1 = short_title(text)

    def paragraph(self, lines: Iterable[str]) -> None:
        """One paragraph of one or more lines; empty lines are dropped."""
        kept: list[str] = []
        for line in lines:
            self.budget.tick()
            cleaned = plain_line(clean_line(line))
            if cleaned:
                kept.append(cleaned)
        if kept:
            self.blocks.append("\n".join(kept))

    def text(self) -> str:
        return "\n\n".join(self.blocks)
