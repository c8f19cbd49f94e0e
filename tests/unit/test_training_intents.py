"""Unit tests for the pure parts of intent training: the held-out split, the out-of-scope
threshold rule, and the numpy softmax head that serving runs."""

from __future__ import annotations

import numpy as np
import pytest

from skills.intent.model import IntentModel, head_from_classifier
from training.intents import stratified_split, tune_threshold


def test_split_holds_out_about_ten_percent_of_each_label() -> None:
    labels = ["a"] * 20 + ["b"] * 10 + ["c"] * 3 + ["d"] * 2 + ["e"]
    train, held = stratified_split(labels, fraction=0.1, seed=0)
    assert sorted(train + held) == list(range(len(labels)))
    held_labels = sorted(labels[i] for i in held)
    assert held_labels == ["a", "a", "b", "c"]  # rare labels stay in training
    assert stratified_split(labels, fraction=0.1, seed=0) == (train, held)


def test_a_capped_split_holds_out_at_most_cap_rows_of_each_label() -> None:
    labels = ["a"] * 100 + ["b"] * 20 + ["c"] * 3 + ["d"] * 2
    train, held = stratified_split(labels, fraction=0.1, seed=0, cap=3)
    assert sorted(train + held) == list(range(len(labels)))
    held_labels = sorted(labels[i] for i in held)
    assert held_labels == ["a", "a", "a", "b", "b", "c"]  # 10 → 3, 2 stays 2, 0 → 1, 2 rows: 0


def test_threshold_separates_negatives_within_the_rejection_cap() -> None:
    in_conf = np.array([0.9] * 18 + [0.6, 0.35])
    in_correct = np.array([True] * 18 + [True, False])
    neg_conf = np.array([0.2, 0.3, 0.5])
    threshold = tune_threshold(
        in_scope_confidence=in_conf, in_scope_correct=in_correct, negative_confidence=neg_conf
    )
    # best: accept everything from 0.6 up (only the wrong 0.35 row, 5%, is rejected) and reject
    # every negative; the cut sits midway between 0.5 and 0.6
    assert threshold == pytest.approx(0.55)
    accepted = in_conf >= threshold
    assert (~accepted).mean() <= 0.05
    assert (neg_conf < threshold).all()


def test_threshold_respects_the_rejection_cap() -> None:
    in_conf = np.linspace(0.1, 0.9, 20)
    neg_conf = np.full(50, 0.95)  # negatives look more confident than anything in scope
    threshold = tune_threshold(
        in_scope_confidence=in_conf,
        in_scope_correct=np.ones(20, dtype=bool),
        negative_confidence=neg_conf,
    )
    assert (in_conf < threshold).mean() <= 0.05


def test_no_negatives_means_no_rejection() -> None:
    assert (
        tune_threshold(
            in_scope_confidence=np.array([0.4, 0.9]),
            in_scope_correct=np.array([True, True]),
            negative_confidence=np.zeros(0),
        )
        == 0.0
    )


def test_binary_head_matches_a_sigmoid() -> None:
    w = np.array([[2.0, -1.0]])
    b = np.array([0.5])
    coef, intercept = head_from_classifier(w, b)
    model = IntentModel(
        version="v", labels=["no", "yes"], coef=coef, intercept=intercept, threshold=0.0
    )
    x = np.array([[1.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    probs = model.probabilities(x)
    expected = 1 / (1 + np.exp(-(x @ w.T + b)))
    assert probs[:, 1] == pytest.approx(expected.ravel(), abs=1e-6)
    assert probs.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_classify_applies_the_threshold_and_ranks() -> None:
    coef = np.eye(4, dtype=np.float32) * 5
    model = IntentModel(
        version="v1",
        labels=["a", "b", "c", "d"],
        coef=coef,
        intercept=np.zeros(4, dtype=np.float32),
        threshold=0.5,
    )
    sure, unsure = model.classify(np.array([[1, 0, 0, 0], [0.1, 0.1, 0.1, 0.1]], dtype=np.float32))
    assert sure["intent"] == "a"
    assert sure["model_version"] == "v1"
    assert sure["ranking"][0]["intent"] == "a"
    assert len(sure["ranking"]) == 3
    assert unsure["intent"] is None
    assert unsure["confidence"] == pytest.approx(0.25, abs=1e-6)
