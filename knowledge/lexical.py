"""Lexical search for the knowledge base: a small tokenizer and Okapi BM25 over a tenant's chunks
(numpy only), fused with the dense scores in `knowledge.index`.

Tokens are lowercased words and numbers, English stop words dropped, crudely stemmed
(`payments` → `payment`, `charged` → `charg`), so a query and a passage meet on their content
words. Amounts and codes (`£25,000`, `0800`, `3d`) stay tokens of their own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

K1 = 1.2
B = 0.75

_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_STOP_WORDS = """a an and are am as at be been being but by can could did do does doing for from
    had has have having he her his how i i'm if in into is it its it's me my no nor not of on or
    our ours please so such than that the their them then there these they this those to too
    was we were what when where which who whom why will with would you your yours should shall
    may might must just also any some all each other i've ive im dont don't doesn't cant can't
    won't wont isn't didn't hasn't haven't about up out over again further once here very s t"""
STOP = frozenset(_STOP_WORDS.split())
_SUFFIXES = ("ing", "ed", "es", "s", "ly")


def stem(word: str) -> str:
    if word.isdigit() or word.endswith(("ss", "us", "is")):
        return word
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    """Content tokens of a text (see the module docstring)."""
    words = _TOKEN.findall(text.lower().replace("'", "").replace("’", ""))
    return [stem(w) for w in words if w not in STOP and (len(w) > 1 or w.isdigit())]


class BM25:
    """Okapi BM25 over a fixed list of documents (token lists); `scores(query)` gives one score
    per document. Postings are numpy arrays, so a query costs a few vector operations per term."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = K1, b: float = B) -> None:
        self.n = len(documents)
        lengths = np.asarray([len(d) for d in documents], dtype=np.float32)
        self.avgdl = float(lengths.mean()) if self.n else 0.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                rows, counts = postings.setdefault(term, ([], []))
                rows.append(i)
                counts.append(count)
        norm = k1 * (1.0 - b + b * lengths / self.avgdl) if self.n and self.avgdl else lengths
        self._terms: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.idf: dict[str, float] = {}
        for term, (rows, counts) in postings.items():
            df = len(rows)
            idf = math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))
            index = np.asarray(rows, dtype=np.int32)
            freq = np.asarray(counts, dtype=np.float32)
            self._terms[term] = (index, idf * freq * (k1 + 1.0) / (freq + norm[index]))
            self.idf[term] = idf

    def scores(self, query: Sequence[str]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        for term in set(query):
            found = self._terms.get(term)
            if found is not None:
                out[found[0]] += found[1]
        return out

    def weight(self, term: str) -> float:
        """The term's idf (an unseen term weighs like the rarest)."""
        return self.idf.get(term, math.log(1.0 + (self.n + 0.5) / 0.5) if self.n else 1.0)
