"""Answer selection: the part of a knowledge chunk that answers the question, not its first lines.

A chunk is cut into *units*: sentences, list items (with the line that introduces the list) and
table rows (rendered as `first cell: header value; header value`). The retrieval skill scores
each unit against the question (the dense cosine of the unit's stored embedding, plus the share
of the question's content words it holds, weighted by their idf, and more for a follow-up's own
words, `focus`) and answers with the best `MAX_UNITS` units (the best one for a follow-up) in the
chunk's order, with the line that introduces a chosen list item (a chosen introduction brings its
whole list). Short chunks are answered whole, unless a follow-up's own words ask for one part. A
FAQ-shaped section — a heading that is a question, or a `Q:` line (chunked as its own section by
`knowledge.chunking`) — is answered with its answer, whole.

`anchor(heading)` is the slug of a section heading (GitHub-style), so a citation links to the
section: `<document URL>#<anchor>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from knowledge.chunking import HEADING_SEPARATOR
from knowledge.lexical import tokens

WHOLE_CHUNK_WORDS = 60  # a chunk this short is answered whole (unless there is a focus)
MAX_UNITS = 3  # the best units answer, in the chunk's order
LEXICAL_WEIGHT = 0.3
FOCUS_WEIGHT = 0.6

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9£$€\"'(])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}")
_SLUG_DROP = re.compile(r"[^\w\- ]+")


@dataclass(frozen=True)
class Unit:
    text: str
    lead: int | None = None  # index of the line that introduces this list item


def anchor(heading: str) -> str:
    """The slug of a heading path's last part (`Fees › Card payments` → `card-payments`)."""
    last = heading.split(HEADING_SEPARATOR)[-1].strip().lower()
    return _SLUG_DROP.sub("", last).replace(" ", "-")


def is_question(heading: str) -> bool:
    """Whether a section is FAQ-shaped: its own heading is a question."""
    return heading.split(HEADING_SEPARATOR)[-1].strip().endswith("?")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> list[str]:
    """Table rows as sentences: `first: header value; header value` (a header row names the
    columns; a table without one gives its cells joined)."""
    rows = [_cells(line) for line in lines if not _TABLE_SEPARATOR.match(line.strip())]
    has_header = len(lines) > 1 and _TABLE_SEPARATOR.match(lines[1].strip()) is not None
    header, body = (rows[0], rows[1:]) if has_header else ([], rows)
    out = []
    for cells in body:
        if not cells or not any(cells):
            continue
        rest = [
            f"{header[i]} {value}" if i < len(header) and header[i] else value
            for i, value in enumerate(cells[1:], start=1)
            if value
        ]
        out.append(f"{cells[0]}: {'; '.join(rest)}" if rest else cells[0])
    return out


def _legacy_lines(line: str) -> list[str]:
    """Lists and tables that an older index flattened into one line, cut apart again."""
    if line.startswith("|") and "| |" in line:
        return [r if r.startswith("|") else "|" + r for r in re.split(r"\|\s+\|", line)]
    if _LIST_ITEM.match(line) and " - " in line:
        return ["- " + p for p in re.split(r"\s+-\s+", _LIST_ITEM.sub("", line))]
    return [line]


_EMPHASIS = re.compile(r"\*\*|__")


def _lines(paragraph: str) -> list[str]:
    """A paragraph's logical lines: each list item or table row (its continuation lines joined to
    it), and the prose between them as one line."""
    out: list[str] = []
    for raw in paragraph.split("\n"):
        for line in _legacy_lines(raw.strip()):
            starts = bool(_LIST_ITEM.match(line) or line.startswith("|"))
            if not line:
                continue
            if out and not starts and not out[-1].startswith("|"):
                out[-1] += " " + line  # prose goes on, or a list item's continuation
            else:
                out.append(line)
    return out


def units(text: str) -> list[Unit]:
    """The units of a chunk's text, in order (see the module docstring)."""
    text = _EMPHASIS.sub("", text)
    out: list[Unit] = []
    lead: int | None = None  # a line ending with ":" introduces the list (or table) after it
    for paragraph in re.split(r"\n\s*\n", text):
        lines = _lines(paragraph)
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("|"):
                block = []
                while i < len(lines) and lines[i].startswith("|"):
                    block.append(lines[i])
                    i += 1
                out.extend(Unit(row, lead) for row in _table(block))
                continue
            if _LIST_ITEM.match(line):
                out.append(Unit(_LIST_ITEM.sub("", line).strip(), lead))
            else:
                for sentence in _SENTENCE_END.split(line):
                    if sentence.strip():
                        out.append(Unit(sentence.strip()))
                lead = len(out) - 1 if line.rstrip().endswith(":") else None
            i += 1
    return out


def unit_embedding_text(heading: str, unit: str) -> str:
    """What is embedded for a unit: its section's name and the unit."""
    section = heading.split(HEADING_SEPARATOR)[-1].strip()
    return f"{section}: {unit}" if section else unit


Weight = Callable[[str], float]


def _coverage(wanted: Sequence[str], have: AbstractSet[str], weight: Weight) -> float:
    total = sum(weight(t) for t in set(wanted))
    if total <= 0:
        return 0.0
    return sum(weight(t) for t in set(wanted) if t in have) / total


def select_answer(
    *,
    heading: str,
    text: str,
    query_vector: np.ndarray | None,
    unit_vectors: np.ndarray | None,
    query: str,
    focus: str | None,
    weight: Weight,
) -> str:
    """The answer part of one chunk for `query` (see the module docstring)."""
    parts, unit_tokens, whole = _parsed(text)
    if is_question(heading) or len(parts) <= 2:
        return whole
    if not focus and len(whole.split()) <= WHOLE_CHUNK_WORDS:
        return whole
    wanted = tokens(query)
    focus_tokens = tokens(focus) if focus else []
    scores = np.zeros(len(parts), dtype=np.float32)
    if query_vector is not None and unit_vectors is not None and len(unit_vectors) == len(parts):
        scores += unit_vectors @ np.asarray(query_vector, dtype=np.float32)
    for i, have in enumerate(unit_tokens):
        scores[i] += LEXICAL_WEIGHT * _coverage(wanted, have, weight)
        if focus_tokens:
            scores[i] += FOCUS_WEIGHT * _coverage(focus_tokens, have, weight)
    best = int(np.argmax(scores))
    keep = 1 if focus_tokens else MAX_UNITS  # a follow-up asks about one thing
    chosen = {int(j) for j in np.argsort(-scores, kind="stable")[:keep]}
    for j in sorted(chosen):
        items = [k for k, u in enumerate(parts) if u.lead == j]
        if items and not chosen.intersection(items):
            # an introduction ("Our branches are open:") without its list: the best one brings
            # its whole list, another is dropped
            if j == best:
                chosen.update(items)
            else:
                chosen.discard(j)
    chosen.update(lead for j in list(chosen) if (lead := parts[j].lead) is not None)
    return _join(parts[j].text for j in sorted(chosen))


@lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[list[Unit], list[frozenset[str]], str]:
    """A chunk's units, each unit's content tokens, and the units joined: parsed once per chunk
    text and process, not on every question that retrieves the chunk (read-only: shared)."""
    parts = units(text)
    return parts, [frozenset(tokens(u.text)) for u in parts], _join(u.text for u in parts)


def _join(texts: Iterable[str]) -> str:
    """Units as prose: a list item or table row without an end mark gets a full stop."""
    return " ".join(t if t[-1:] in ".!?:;…" else f"{t}." for t in texts if t)
