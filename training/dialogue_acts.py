"""Train the built-in dialogue-act model that the intent skill ships (`skills/intent/acts.py`).

    .venv/bin/python -m training.dialogue_acts [--check]

Data: `training/data/dialogue_acts.csv` (`text,act`: several hundred written examples of the
eight acts, and hard negatives labelled `none`: short real requests, mixed messages, off-topic
questions), plus real customer requests as more `none` rows: a fixed sample of BANKING77's
*training* split (its test split stays unseen: `bench/conversation.py` measures on it how many
real requests are taken for small talk).

A logistic regression on frozen all-MiniLM-L6-v2 embeddings is fitted, its act threshold chosen
on a held-out fifth (the lowest threshold from 0.5 up that keeps held-out false positives,
requests read as small talk, at or under `MAX_FALSE_POSITIVES`), then refitted on every row and
written as a numpy head beside the skill. Act rows weigh `ACT_WEIGHT` request rows: the acts are
the rare classes. The meta records the SHA-256 of the data, so `--check` (and a unit test)
tell when the shipped head is older than the data file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import sys
import time
from pathlib import Path

import numpy as np

from skills.intent.acts import ACTS, META_PATH, NONE, ActModel, save_act_model, words

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "dialogue_acts.csv"
BANKING77_TRAIN = ROOT / "demo" / "banking77" / "train.csv"
REQUEST_SAMPLE = 3000  # BANKING77 training sentences added as `none`
REGULARISATION_C = 30.0
ACT_WEIGHT = 10.0  # an act row weighs this many request rows (acts are the rare classes)
MAX_FALSE_POSITIVES = 0.005  # held-out requests read as an act
SEED = 0
EDGE_WORD_MAX_REQUESTS = 100


def load_rows(path: Path = DATA) -> list[tuple[str, str]]:
    """(text, act) rows of the data file; every act is one of `ACTS` or `none`."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(r["text"].strip(), r["act"].strip()) for r in csv.DictReader(handle)]
    unknown = {a for _, a in rows if a not in (*ACTS, NONE)}
    if unknown:
        raise ValueError(f"{path}: unknown acts {sorted(unknown)}")
    return [(t, a) for t, a in rows if t]


def request_rows(path: Path = BANKING77_TRAIN, n: int = REQUEST_SAMPLE) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        texts = sorted({r["text"].strip() for r in csv.DictReader(handle)})
    random.Random(SEED).shuffle(texts)
    return [(t, NONE) for t in texts[:n]]


def edge_vocabulary(rows: list[tuple[str, str]], *, requests: Path = BANKING77_TRAIN) -> list[str]:
    """The words of the act examples that real requests seldom use (in fewer than
    `EDGE_WORD_MAX_REQUESTS` BANKING77 training sentences): a short clause at the edge of a
    message is read by the act model only when it holds one of them, so most multi-clause
    requests cost no extra encoder call."""
    with requests.open(newline="", encoding="utf-8") as handle:
        sentences = [r["text"] for r in csv.DictReader(handle)]
    in_requests: dict[str, int] = {}
    for sentence in sentences:
        for word in set(words(sentence)):
            in_requests[word] = in_requests.get(word, 0) + 1
    return sorted(
        {
            word
            for text, act in rows
            if act != NONE
            for word in words(text)
            if in_requests.get(word, 0) < EDGE_WORD_MAX_REQUESTS
        }
    )


def data_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    digest.update(
        f"{REQUEST_SAMPLE}:{REGULARISATION_C}:{ACT_WEIGHT}:{MAX_FALSE_POSITIVES}".encode()
    )
    return digest.hexdigest()


def _fit(x: np.ndarray, y: list[str]) -> ActModel:
    from sklearn.linear_model import LogisticRegression

    from skills.intent.model import head_from_classifier

    weights = {label: 1.0 if label == NONE else ACT_WEIGHT for label in set(y)}
    classifier = LogisticRegression(
        C=REGULARISATION_C, max_iter=5000, random_state=SEED, class_weight=weights
    )
    classifier.fit(x, np.asarray(y))
    coef, intercept = head_from_classifier(classifier.coef_, classifier.intercept_)
    return ActModel(
        labels=[str(c) for c in classifier.classes_],
        coef=coef,
        intercept=intercept,
        threshold=0.5,
    )


def tune_threshold(model: ActModel, x: np.ndarray, y: list[str]) -> tuple[float, dict[str, float]]:
    """The lowest act threshold whose held-out false-positive rate stays under the target."""
    probs = model.probabilities(x)
    none_index = model.labels.index(NONE)
    top = probs.argmax(axis=1)
    top_p = probs.max(axis=1)
    truth = np.asarray(y)
    is_request = truth == NONE
    best = 0.95
    for t in np.round(np.arange(0.50, 0.96, 0.05), 2):
        taken = (top != none_index) & (top_p >= t)
        fp = float(taken[is_request].mean()) if is_request.any() else 0.0
        if fp <= MAX_FALSE_POSITIVES:
            best = float(t)
            break
    taken = (top != none_index) & (top_p >= best)
    predicted = np.where(taken, np.asarray(model.labels)[top], NONE)
    acts = ~is_request
    metrics = {
        "heldout_act_accuracy": round(float((predicted[acts] == truth[acts]).mean()), 4),
        "heldout_false_positive_rate": round(float(taken[is_request].mean()), 4),
        "heldout_accuracy": round(float((predicted == truth).mean()), 4),
    }
    return best, metrics


def train(*, progress: bool = True) -> ActModel:
    from skills.encoder import embed

    started = time.perf_counter()
    rows = load_rows() + request_rows()
    texts = [t for t, _ in rows]
    labels = [a for _, a in rows]
    vectors = embed(texts, progress=progress)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(rows))
    cut = len(rows) // 5
    held, fit_rows = order[:cut], order[cut:]
    probe = _fit(vectors[fit_rows], [labels[i] for i in fit_rows])
    threshold, metrics = tune_threshold(probe, vectors[held], [labels[i] for i in held])
    model = _fit(vectors, labels)
    meta = {
        "data_sha256": data_digest(DATA, BANKING77_TRAIN),
        "encoder": "all-MiniLM-L6-v2",
        "rows": len(rows),
        "metrics": metrics,
        "edge_vocabulary": edge_vocabulary(load_rows()),
    }
    final = ActModel(
        labels=model.labels,
        coef=model.coef,
        intercept=model.intercept,
        threshold=threshold,
        meta=meta,
    )
    save_act_model(final)
    if progress:
        print(
            f"dialogue acts: {len(rows)} rows, threshold {threshold}, {metrics} "
            f"({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
        )
    return final


def is_current() -> bool:
    """Whether the shipped head was trained on the data files as they are now."""
    import json

    if not META_PATH.exists():
        return False
    meta = json.loads(META_PATH.read_text())
    return bool(
        meta.get("data_sha256") == data_digest(DATA, BANKING77_TRAIN)
        and meta.get("edge_vocabulary") == edge_vocabulary(load_rows())
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only tell whether it is current")
    args = parser.parse_args()
    if args.check:
        current = is_current()
        print("current" if current else "stale: rerun python -m training.dialogue_acts")
        return 0 if current else 1
    train()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
