"""Word error rate: how far a transcript is from a reference (tests and the voice benchmark).

Both texts are normalised (lowercase, punctuation dropped, digits kept, whitespace collapsed)
and compared as word sequences by Levenshtein distance: WER = (S + D + I) / reference words.
"""

from __future__ import annotations

import re

_NON_WORD = re.compile(r"[^a-z0-9' ]+")


def normalize(text: str) -> list[str]:
    cleaned = _NON_WORD.sub(" ", text.lower().replace("-", " "))
    return [word.strip("'") for word in cleaned.split() if word.strip("'")]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference word count)."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref_word != hyp_word),  # substitution or match
            )
        previous = current
    return previous[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    errors, words = word_errors(reference, hypothesis)
    if words == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / words
