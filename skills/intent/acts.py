"""Built-in dialogue acts (greet, thanks, goodbye, "are you a bot?", "what can you do?", affirm,
deny, abuse): their own small model, run by the intent skill on the same sentence embedding as
the tenant's intents, so acts never compete with a tenant's intents for probability mass.

The model is a softmax head (numpy) over all-MiniLM-L6-v2 embeddings with one class per act plus
`none` (a real request, or anything that is not small talk). It is trained by
`training.dialogue_acts` from `training/data/dialogue_acts.csv` and shipped beside this module
(`dialogue_acts.npz` + `dialogue_acts.json`); it is loaded once per process, on first use.

Mixed messages ("hi, my card was stolen", "thanks, and how do I top up?") are split at clause
boundaries; a short clause at either edge of the message that the model reads as an act is small
talk, and the rest of the message is the request (`split_message`). Only messages with such an
edge cost more: the edge clauses are embedded (short texts, memoised by the encoder: greetings
repeat), and the request part when an edge is small talk and the request is not most of the
message (`WHOLE_FOR_REQUEST_SHARE`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
HEAD_PATH = HERE / "dialogue_acts.npz"
META_PATH = HERE / "dialogue_acts.json"
NONE = "none"
ACTS = (
    "greet",
    "thanks",
    "goodbye",
    "are_you_a_bot",
    "what_can_you_do",
    "affirm",
    "deny",
    "abuse",
)
EDGE_MAX_WORDS = 4  # an edge clause longer than this is never small talk on its own
# When the request is at least this share of the message's words, the whole message's embedding
# stands for the request: "Hi! I was wondering if you can help me. I used the ATM…" costs no
# third encoder call (the slowest turns were these), and a long request's mean-pooled vector
# hardly moves for a greeting beside it.
WHOLE_FOR_REQUEST_SHARE = 0.8
MAX_CLAUSES = 12

# Clause boundaries: sentence punctuation and commas, and the conjunctions that glue small talk to
# a request ("thanks and how do I…", "ok but what about…").
_BOUNDARY = re.compile(r"\s*[,;.!?…]+\s*|\s+-\s+|\s+(?=(?:and|but|also|so|then)\b)", re.IGNORECASE)
_LEADING_GLUE = re.compile(r"^(?:and|but|also|so|then)\b[\s,]*", re.IGNORECASE)

Embedder = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class ActModel:
    """A softmax head over the encoder's normalised embeddings: `labels` are the acts + `none`."""

    labels: list[str]
    coef: np.ndarray  # (classes, dim)
    intercept: np.ndarray  # (classes,)
    threshold: float  # an act counts when its probability is at least this (and it is the top)
    meta: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def edge_vocabulary(self) -> frozenset[str]:
        """Words an edge clause must hold to be read as possible small talk (empty: any)."""
        return frozenset(self.meta.get("edge_vocabulary") or ())

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = np.asarray(embeddings, dtype=np.float32) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def best(self, embeddings: np.ndarray) -> list[tuple[str, float]]:
        """(act or `none`, its probability) per row: `none` unless an act is the top class with
        at least `threshold`."""
        out: list[tuple[str, float]] = []
        none_index = self.labels.index(NONE)
        for row in self.probabilities(embeddings):
            top = int(np.argmax(row))
            if top != none_index and row[top] >= self.threshold:
                out.append((self.labels[top], float(row[top])))
            else:
                out.append((NONE, float(row[none_index])))
        return out


def save_act_model(model: ActModel, *, head_path: Path = HEAD_PATH, meta_path: Path = META_PATH):
    """Write the head (`.npz`, no pickles) and its meta (`.json`)."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, coef=model.coef.astype(np.float32), intercept=model.intercept)
    head_path.write_bytes(buffer.getvalue())
    meta = {**model.meta, "labels": model.labels, "threshold": model.threshold}
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def read_act_model(*, head_path: Path = HEAD_PATH, meta_path: Path = META_PATH) -> ActModel:
    meta = json.loads(meta_path.read_text())
    with np.load(head_path, allow_pickle=False) as arrays:
        coef = np.ascontiguousarray(arrays["coef"], dtype=np.float32)
        intercept = np.ascontiguousarray(arrays["intercept"], dtype=np.float32)
    return ActModel(
        labels=list(meta["labels"]),
        coef=coef,
        intercept=intercept,
        threshold=float(meta["threshold"]),
        meta=meta,
    )


_lock = threading.Lock()
_model: ActModel | None = None


def get_act_model() -> ActModel | None:
    """The shipped model, loaded once per process; None when it is missing (acts are then never
    detected and the turn behaves as before)."""
    global _model
    if _model is None and HEAD_PATH.exists() and META_PATH.exists():
        with _lock:
            if _model is None:
                _model = read_act_model()
    return _model


# --------------------------------------------------------------------------- mixed messages


_WORD = re.compile(r"[a-z']+")


def words(text: str) -> list[str]:
    """Lower-case words (letters and apostrophes), as the edge vocabulary counts them."""
    return _WORD.findall(text.lower())


def clauses(text: str) -> list[str]:
    """The message cut at clause boundaries, glue words dropped, empty parts removed."""
    parts = [_LEADING_GLUE.sub("", p).strip() for p in _BOUNDARY.split(text.strip())]
    return [p for p in parts if p][:MAX_CLAUSES]


def _edge_candidates(parts: list[str], vocabulary: frozenset[str] = frozenset()) -> list[int]:
    """The short clauses at the start and at the end (two at most each) that could be small talk:
    with a `vocabulary` (the model's edge words), only those that hold one of its words."""
    short = [
        len(p.split()) <= EDGE_MAX_WORDS and (not vocabulary or not vocabulary.isdisjoint(words(p)))
        for p in parts
    ]
    found: list[int] = []
    for k in range(min(2, len(parts))):
        if not short[k]:
            break
        found.append(k)
    for k in range(len(parts) - 1, max(len(parts) - 3, -1), -1):
        if not short[k] or k in found:
            break
        found.append(k)
    return sorted(found)


@dataclass(frozen=True)
class Split:
    """What the act model found in one message."""

    acts: list[tuple[str, float]]  # the small-talk acts, in the message's order
    request: str | None  # the request part (the whole text when there is no small talk); None
    # when the message is only small talk


def split_message(
    text: str, whole: np.ndarray, *, model: ActModel, embed: Embedder
) -> tuple[Split, np.ndarray | None]:
    """Small talk and request of `text`, given its embedding `whole`. Returns the split and, when
    the request is only part of the message, the request's embedding (else None)."""
    act, confidence = model.best(whole[None, :])[0]
    as_whole = (
        (Split(acts=[], request=text), None)
        if act == NONE
        else (Split(acts=[(act, confidence)], request=None), None)
    )
    parts = clauses(text)
    candidates = _edge_candidates(parts, model.edge_vocabulary) if len(parts) > 1 else []
    if not candidates:
        return as_whole
    # Edge clauses in one call (the skill's embedder memoises recent texts, and greetings
    # repeat), the rest of the message only when an edge is small talk.
    edge_vectors = list(embed([parts[k] for k in candidates]))
    found = dict(zip(candidates, model.best(np.asarray(edge_vectors)), strict=True))
    head = 0  # only an unbroken run of acts from each edge is small talk
    while head in found and found[head][0] != NONE:
        head += 1
    tail = 0
    while tail < len(parts) - head and (len(parts) - 1 - tail) in found:
        if found[len(parts) - 1 - tail][0] == NONE:
            break
        tail += 1
    if head == 0 and tail == 0:
        return as_whole
    small = [found[k] for k in range(head)] + [
        found[k] for k in range(len(parts) - tail, len(parts))
    ]
    middle = parts[head : len(parts) - tail]
    if not middle:  # every clause is small talk ("thanks, bye")
        return Split(acts=small, request=None), None
    request = ". ".join(middle)
    if len(middle) == 1 and head in found:  # the rest is one edge clause, embedded already
        request_vector = edge_vectors[candidates.index(head)]
    elif act == NONE and len(request.split()) >= WHOLE_FOR_REQUEST_SHARE * len(text.split()):
        # the whole reads as a request, and a few words of small talk barely move its vector
        request_vector = whole
    else:
        request_vector = embed([request])[0]
    rest_act, rest_confidence = model.best(request_vector[None, :])[0]
    if rest_act != NONE:  # the remainder is small talk too ("hi there, how are you")
        return Split(acts=[*small, (rest_act, rest_confidence)], request=None), None
    return Split(acts=small, request=request), request_vector
