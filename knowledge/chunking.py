"""Heading-aware chunking of a parsed document (the text `knowledge.ingest` produces).

The text is cut into sections at `#` heading lines (and at `Q:` lines of a FAQ written as
question and answer lines: each pair becomes a section headed by its question); each section
becomes one chunk when it is short, or several chunks of at most `max_words` words (cut at
paragraph, then sentence boundaries) that overlap by about `overlap_words`. Lists and tables keep
their line breaks (answer selection reads them item by item). Every chunk carries its heading path
(`Title › Section › Subsection`), which is also embedded with it, so a chunk deep in a long
section still knows what it is about. Sizes are in words: with all-MiniLM-L6-v2's 256-token
window, about 200 words is the most that is fully read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(\S.*)$")  # on a stripped line; no backtracking
# A FAQ written as `Q: …` / `A: …` lines: each question becomes a section of its own.
_QUESTION = re.compile(r"^(?:Q|Question)\s*[:.)]\s*(\S.*)$", re.IGNORECASE)  # stripped line
_ANSWER = re.compile(r"^(?:A|Answer)\s*[:.)]\s*", re.IGNORECASE)
_STRUCTURED = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)]|\|)\s*")
QUESTION_LEVEL = 7  # below every Markdown heading level
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
HEADING_SEPARATOR = " › "


@dataclass(frozen=True)
class Chunk:
    heading: str  # the heading path of the section this chunk belongs to ("" before any heading)
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())

    def embedding_text(self, title: str = "") -> str:
        """What gets embedded: the heading path (with the document title) and the text."""
        context = self.heading or title
        if title and self.heading and not self.heading.startswith(title):
            context = f"{title}{HEADING_SEPARATOR}{self.heading}"
        return f"{context}\n{self.text}" if context else self.text


def split_sections(text: str) -> list[tuple[str, str]]:
    """(heading path, body) per section, in order; empty bodies are dropped."""
    path: list[tuple[int, str]] = []
    sections: list[tuple[str, str]] = []
    body: list[str] = []

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            sections.append((HEADING_SEPARATOR.join(h for _, h in path), content))
        body.clear()

    for line in text.split("\n"):
        match = _HEADING.match(line.strip())
        question = _QUESTION.match(line.strip()) if match is None else None
        found = (len(match.group(1)), match.group(2)) if match else None
        if question is not None:
            found = (QUESTION_LEVEL, question.group(1))
        if found is not None:
            flush()
            while path and path[-1][0] >= found[0]:
                path.pop()
            path.append(found)
        else:
            body.append(
                _ANSWER.sub("", line, count=1) if path and path[-1][0] == QUESTION_LEVEL else line
            )
    flush()
    return sections


def _units(body: str, max_words: int) -> list[str]:
    """Paragraphs, with paragraphs longer than `max_words` cut into sentences (and sentences
    longer than that cut into word runs)."""
    units: list[str] = []
    for raw in re.split(r"\n\s*\n", body):
        if _STRUCTURED.match(raw.strip()):
            units.extend(_structured(raw, max_words))
            continue
        paragraph = " ".join(raw.split())
        if not paragraph:
            continue
        if len(paragraph.split()) <= max_words:
            units.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            words = sentence.split()
            for start in range(0, len(words), max_words):
                units.append(" ".join(words[start : start + max_words]))
    return units


def _structured(paragraph: str, max_words: int) -> list[str]:
    """A list or table: one line per item (continuation lines joined to their item), kept as
    lines; cut between items when longer than `max_words`."""
    items: list[str] = []
    for line in paragraph.split("\n"):
        line = " ".join(line.split())
        if not line:
            continue
        if items and not _STRUCTURED.match(line):
            items[-1] += " " + line
        else:
            items.append(line)
    out: list[str] = []
    current: list[str] = []
    for item in items:
        if current and len(" ".join([*current, item]).split()) > max_words:
            out.append("\n".join(current))
            current = []
        current.append(item)
    if current:
        out.append("\n".join(current))
    return out


def _tail(text: str, words: int) -> str:
    return " ".join(text.split()[-words:]) if words > 0 else ""


def chunk_text(text: str, *, max_words: int = 200, overlap_words: int = 30) -> list[Chunk]:
    """Chunks of at most about `max_words` words, each with its section's heading path."""
    if max_words < 1 or overlap_words < 0 or overlap_words >= max_words:
        raise ValueError("need max_words ≥ 1 and 0 ≤ overlap_words < max_words")
    chunks: list[Chunk] = []
    for heading, body in split_sections(text):
        current: list[str] = []
        size = 0
        for unit in _units(body, max_words):
            length = len(unit.split())
            if current and size + length > max_words:
                chunks.append(Chunk(heading=heading, text="\n\n".join(current)))
                carry = _tail(current[-1], min(overlap_words, max_words - length))
                current, size = ([carry], len(carry.split())) if carry else ([], 0)
            current.append(unit)
            size += length
        if current:
            chunks.append(Chunk(heading=heading, text="\n\n".join(current)))
    return chunks
