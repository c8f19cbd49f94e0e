"""Unit tests for the out-of-scope rules: scores, the stored form, tuning, and how the intent
head applies them (an `out_of_scope` class, a threshold, both)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skills.intent.model import IntentModel
from skills.intent.rules import (
    NO_REJECTION,
    RejectionRule,
    in_scope_scores,
    tune_threshold,
)


def test_scores_by_hand() -> None:
    logits = np.array([[2.0, 0.0], [0.0, 0.0]])
    probs = in_scope_scores("max_prob", logits=logits, embeddings=np.zeros((2, 2)), centroids=None)
    assert probs == pytest.approx([math.exp(2) / (math.exp(2) + 1), 0.5])
    energy = in_scope_scores("energy", logits=logits, embeddings=np.zeros((2, 2)), centroids=None)
    assert energy == pytest.approx([math.log(math.exp(2) + 1), math.log(2)])
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
    vectors = np.array([[3.0, 4.0], [1.0, 0.0]])  # normalised: (0.6, 0.8) and (1, 0)
    near = in_scope_scores("centroid", logits=logits, embeddings=vectors, centroids=centroids)
    assert near == pytest.approx([0.8, 1.0])


def test_rule_names_and_meta_round_trip() -> None:
    rule = RejectionRule.parse("oos_class+energy", 1.5)
    assert (rule.score, rule.oos_class, rule.name) == ("energy", True, "oos_class+energy")
    assert RejectionRule.from_meta({"rejection": rule.to_meta()}) == rule
    only_class = RejectionRule.parse("oos_class")
    assert only_class.score is None and only_class.to_meta()["threshold"] is None
    assert RejectionRule.from_meta({"rejection": only_class.to_meta()}) == only_class
    # a model stored before rules existed
    assert RejectionRule.from_meta({"threshold": 0.4}) == RejectionRule("max_prob", 0.4)
    with pytest.raises(ValueError):
        RejectionRule.parse("energy+centroid")
    with pytest.raises(ValueError):
        RejectionRule.parse("magic")


def test_tuning_picks_the_cut_with_best_held_out_accuracy() -> None:
    in_scores = np.array([5.0] * 18 + [3.0, 1.0])
    in_correct = np.array([True] * 18 + [True, False])
    neg = np.array([-1.0, 0.0, 2.0])
    t = tune_threshold(
        in_scope_scores=in_scores,
        in_scope_correct=in_correct,
        negative_scores=neg,
        max_in_scope_rejection=0.05,
    )
    assert t == pytest.approx(2.5)  # between the top negative (2) and the lowest kept row (3)
    assert (
        tune_threshold(
            in_scope_scores=in_scores,
            in_scope_correct=in_correct,
            negative_scores=np.zeros(0),
            max_in_scope_rejection=0.05,
        )
        == NO_REJECTION
    )


def _model(rule: RejectionRule | None, labels: list[str]) -> IntentModel:
    coef = np.eye(len(labels), dtype=np.float32) * 4
    return IntentModel(
        version="v",
        labels=labels,
        coef=coef,
        intercept=np.zeros(len(labels), dtype=np.float32),
        threshold=0.0,
        rule=rule,
        centroids=np.eye(len(labels), dtype=np.float32),
    )


def test_an_out_of_scope_class_rejects_and_stays_out_of_the_ranking() -> None:
    model = _model(RejectionRule.parse("oos_class"), ["a", "b", "out_of_scope"])
    to_a, to_oos = model.classify(np.array([[1, 0, 0], [0, 0.2, 1]], dtype=np.float32))
    assert to_a["intent"] == "a"
    assert to_oos["intent"] is None
    assert {r["intent"] for r in to_oos["ranking"]} == {"a", "b"}
    # the confidence is over the intents only
    assert to_oos["confidence"] == pytest.approx(1 / (1 + math.exp(-0.8)), abs=1e-5)


def test_a_combined_rule_rejects_when_either_part_does() -> None:
    model = _model(RejectionRule.parse("oos_class+centroid", 0.9), ["a", "b", "out_of_scope"])
    rows = np.array([[1, 0, 0], [0.7, 0.7, 0], [0, 0, 1]], dtype=np.float32)
    results = model.classify(rows)
    # row 2: "a" or "b" by the head, but its centroid similarity is 0.707 < 0.9
    assert [r["intent"] for r in results] == ["a", None, None]


def test_energy_rule_threshold() -> None:
    model = _model(RejectionRule.parse("energy", 2.0), ["a", "b"])
    # logits (4, 0): logsumexp 4.018 -> kept; (0.1, 0.1): logsumexp 1.09 -> rejected
    kept, rejected = model.classify(np.array([[1, 0], [0.025, 0.025]], dtype=np.float32))
    assert kept["intent"] == "a"
    assert rejected["intent"] is None


def test_knn_score_is_the_similarity_to_the_nearest_training_sentence() -> None:
    exemplars = np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float16)
    rows = np.array([[0.0, 2.0], [1.0, 0.0], [-1.0, 0.0]])
    near = in_scope_scores(
        "knn", logits=np.zeros((3, 2)), embeddings=rows, centroids=None, exemplars=exemplars
    )
    assert near == pytest.approx([0.8, 1.0, -0.6], abs=1e-3)
    model = IntentModel(
        version="v",
        labels=["a", "b"],
        coef=np.eye(2, dtype=np.float32),
        intercept=np.zeros(2, dtype=np.float32),
        threshold=0.0,
        rule=RejectionRule.parse("knn", 0.9),
        exemplars=exemplars,
    )
    assert [r["intent"] for r in model.classify(rows.astype(np.float32))] == [None, "a", None]
