"""Unit tests for the classification report: every figure against one computed by hand on a
seven-row set, and the report files (pictures embedded, no outside reference)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from training.reports import OUT_OF_SCOPE, classification_report, compute_metrics, matrix_labels

OOS = OUT_OF_SCOPE
Y_TRUE = ["a", "a", "a", "b", "b", OOS, OOS]
Y_PRED = ["a", "a", "b", "b", "a", "a", "b"]
CONF = [0.9, 0.4, 0.8, 0.7, 0.6, 0.3, 0.9]
# With threshold 0.5 the second and sixth rows are rejected:
#   final = [a, oos, b, b, a, oos, b]; right: rows 1, 4 and 6 -> accuracy 3/7
#   a: tp 1, predicted 2, true 3 -> P 1/2, R 1/3, F1 2/5
#   b: tp 1, predicted 3, true 2 -> P 1/3, R 1/2, F1 2/5
#   oos: tp 1, predicted 2, true 2 -> P 1/2, R 1/2, F1 1/2
#   in scope: 5 rows, 2 right (a wrong rejection is an error), 1 rejected


def test_figures_match_the_hand_computed_ones() -> None:
    m = compute_metrics(y_true=Y_TRUE, y_pred=Y_PRED, confidences=CONF, threshold=0.5)
    assert m.n == 7
    assert m.accuracy == pytest.approx(3 / 7)
    assert m.rejected == 2
    by_label = {c.label: c for c in m.per_class}
    assert (by_label["a"].precision, by_label["a"].recall) == pytest.approx((1 / 2, 1 / 3))
    assert by_label["a"].f1 == pytest.approx(2 / 5)
    assert (by_label["b"].precision, by_label["b"].recall) == pytest.approx((1 / 3, 1 / 2))
    assert by_label["b"].f1 == pytest.approx(2 / 5)
    assert by_label[OOS].f1 == pytest.approx(1 / 2)
    assert [by_label[k].support for k in ("a", "b", OOS)] == [3, 2, 2]
    assert m.macro_f1 == pytest.approx((2 / 5 + 2 / 5 + 1 / 2) / 3)
    oos = m.out_of_scope
    assert oos is not None
    assert (oos.n_out_of_scope, oos.n_in_scope) == (2, 5)
    assert oos.recall == pytest.approx(1 / 2)
    assert oos.precision == pytest.approx(1 / 2)
    assert oos.in_scope_accuracy == pytest.approx(2 / 5)
    assert oos.in_scope_rejected == pytest.approx(1 / 5)
    assert [(c.true, c.predicted, c.count) for c in m.confused] == [
        ("a", "b", 1),
        ("a", OOS, 1),
        ("b", "a", 1),
        (OOS, "b", 1),
    ]


def test_without_threshold_nothing_is_rejected_and_pairs_rank_by_count() -> None:
    m = compute_metrics(
        y_true=["a", "a", "a", "b"], y_pred=["b", "b", "a", "b"], confidences=[0.1] * 4
    )
    assert m.accuracy == pytest.approx(2 / 4)
    assert m.rejected == 0
    assert m.out_of_scope is None  # no row is labelled out of scope
    assert [(c.true, c.predicted, c.count) for c in m.confused] == [("a", "b", 2)]
    # a: P 1/1, R 1/3 -> F1 1/2; b: P 1/3, R 1 -> F1 1/2
    assert m.macro_f1 == pytest.approx(1 / 2)


def test_a_label_only_predicted_does_not_enter_macro_f1() -> None:
    m = compute_metrics(y_true=["a", "a"], y_pred=["a", "z"], confidences=[1.0, 1.0])
    # a: P 1, R 1/2 -> F1 2/3; z never occurs in y_true
    assert m.macro_f1 == pytest.approx(2 / 3)
    assert {c.label for c in m.per_class} == {"a", "z"}


def test_mismatched_lengths_and_empty_input_are_refused() -> None:
    with pytest.raises(ValueError):
        compute_metrics(y_true=["a"], y_pred=["a", "b"], confidences=[1.0])
    with pytest.raises(ValueError):
        compute_metrics(y_true=[], y_pred=[], confidences=[])


def test_large_matrices_keep_the_most_confused_labels() -> None:
    y_true = [f"l{i:02d}" for i in range(40)] + ["l05", "l05"]
    y_pred = [f"l{i:02d}" for i in range(40)] + ["l07", "l09"]
    labels = matrix_labels(y_true, y_pred, limit=3)
    assert labels == ["l05", "l07", "l09"]


def test_report_files_are_written_and_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "report"
    m = classification_report(
        y_true=Y_TRUE,
        y_pred=Y_PRED,
        confidences=CONF,
        threshold=0.5,
        out_dir=out,
        title="tiny <set>",
    )
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["accuracy"] == pytest.approx(m.accuracy)
    with (out / "per_class.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label"] for r in rows] == ["a", "b", OOS]
    assert rows[0]["support"] == "3"
    for name in ("confusion.png", "confidence.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert "http" not in page.replace("<!doctype html>", "")
    assert "tiny &lt;set&gt;" in page  # labels and titles are escaped
    assert "in-scope accuracy" in page
