"""Classification reports: the figures and pictures an operator reads before a model goes live.

Generic over label sets (intents today, image classes too): `classification_report` takes the
true labels, the predicted labels, one confidence per row and an optional rejection threshold,
and returns a typed `ClassificationMetrics`. With an output directory it also writes:

- `metrics.json`: the metrics object;
- `per_class.csv`: precision, recall, F1 and support per label;
- `confusion.png`: the confusion matrix (the most confused labels when there are many);
- `confidence.png`: confidence histograms of right, wrong and out-of-scope rows, with the
  rejection threshold marked;
- `report.html`: one self-contained page with all of it (pictures embedded as data URIs).

Rules, so that every figure can be checked by hand:

- a row whose confidence is below `threshold` counts as predicted `out_of_scope` (rejected);
- accuracy is over every row: an out-of-scope row is right when it is rejected;
- per-label precision/recall/F1 follow the usual definitions (0.0 where a denominator is 0);
  macro-F1 is the mean F1 over the labels that occur in `y_true`;
- when rows are labelled `out_of_scope`: out-of-scope recall (rejected / out-of-scope rows),
  out-of-scope precision (out-of-scope rows among the rejected ones), and in-scope accuracy
  (right labels / in-scope rows: a wrong rejection is an error);
- confused pairs are (true, predicted) with true != predicted, most frequent first.

matplotlib (Agg backend, no display) is imported only when pictures are written.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from core.files import atomic_path

OUT_OF_SCOPE = "out_of_scope"
MAX_MATRIX_LABELS = 30  # a larger confusion matrix shows the labels involved in most errors


class ClassMetrics(BaseModel):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


class ConfusedPair(BaseModel):
    true: str
    predicted: str
    count: int


class OutOfScopeMetrics(BaseModel):
    n_out_of_scope: int
    n_in_scope: int
    recall: float  # out-of-scope rows rejected
    precision: float | None  # out-of-scope rows among the rejected ones (None: none rejected)
    in_scope_accuracy: float  # in-scope rows with the right label (wrong rejections are errors)
    in_scope_rejected: float


class ClassificationMetrics(BaseModel):
    """What `classification_report` measured (also `metrics.json`)."""

    n: int
    accuracy: float
    macro_f1: float
    threshold: float | None
    rejected: int
    per_class: list[ClassMetrics]
    confused: list[ConfusedPair]
    out_of_scope: OutOfScopeMetrics | None = None
    title: str = ""


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def apply_threshold(
    y_pred: Sequence[str], confidences: Sequence[float], threshold: float | None
) -> list[str]:
    """Predictions with every row below `threshold` replaced by `out_of_scope`."""
    if threshold is None:
        return [str(p) for p in y_pred]
    return [
        OUT_OF_SCOPE if float(c) < threshold else str(p)
        for p, c in zip(y_pred, confidences, strict=True)
    ]


def compute_metrics(
    *,
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidences: Sequence[float],
    threshold: float | None = None,
    top_confused: int = 10,
    title: str = "",
) -> ClassificationMetrics:
    """The figures alone (see the module docstring for the rules)."""
    if not (len(y_true) == len(y_pred) == len(confidences)):
        raise ValueError("y_true, y_pred and confidences must have the same length")
    if not y_true:
        raise ValueError("no rows to report on")
    truth = [str(t) for t in y_true]
    final = apply_threshold(y_pred, confidences, threshold)
    pairs = Counter(zip(truth, final, strict=True))
    true_count = Counter(truth)
    pred_count = Counter(final)
    labels = sorted(set(truth) | set(final))
    per_class: list[ClassMetrics] = []
    for label in labels:
        tp = pairs[(label, label)]
        precision = _ratio(tp, pred_count[label])
        recall = _ratio(tp, true_count[label])
        f1 = _ratio(2 * tp, pred_count[label] + true_count[label])  # = 2PR/(P+R)
        per_class.append(
            ClassMetrics(
                label=label, precision=precision, recall=recall, f1=f1, support=true_count[label]
            )
        )
    present = [c for c in per_class if c.support > 0]
    correct = sum(pairs[(label, label)] for label in labels)
    confused = sorted(
        (ConfusedPair(true=t, predicted=p, count=n) for (t, p), n in pairs.items() if t != p),
        key=lambda c: (-c.count, c.true, c.predicted),
    )[:top_confused]
    oos: OutOfScopeMetrics | None = None
    n_oos = true_count[OUT_OF_SCOPE]
    if n_oos:
        n_in = len(truth) - n_oos
        rejected_oos = pairs[(OUT_OF_SCOPE, OUT_OF_SCOPE)]
        in_right = correct - rejected_oos
        in_rejected = pred_count[OUT_OF_SCOPE] - rejected_oos
        oos = OutOfScopeMetrics(
            n_out_of_scope=n_oos,
            n_in_scope=n_in,
            recall=_ratio(rejected_oos, n_oos),
            precision=(
                _ratio(rejected_oos, pred_count[OUT_OF_SCOPE]) if pred_count[OUT_OF_SCOPE] else None
            ),
            in_scope_accuracy=_ratio(in_right, n_in),
            in_scope_rejected=_ratio(in_rejected, n_in),
        )
    return ClassificationMetrics(
        n=len(truth),
        accuracy=correct / len(truth),
        macro_f1=float(np.mean([c.f1 for c in present])),
        threshold=threshold,
        rejected=pred_count[OUT_OF_SCOPE],
        per_class=per_class,
        confused=confused,
        out_of_scope=oos,
        title=title,
    )


def classification_report(
    *,
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidences: Sequence[float],
    threshold: float | None = None,
    out_dir: Path | None = None,
    title: str = "",
    top_confused: int = 10,
) -> ClassificationMetrics:
    """Compute the metrics and, with `out_dir`, write the report files there."""
    metrics = compute_metrics(
        y_true=y_true,
        y_pred=y_pred,
        confidences=confidences,
        threshold=threshold,
        top_confused=top_confused,
        title=title,
    )
    if out_dir is not None:
        write_report(
            metrics=metrics,
            y_true=[str(t) for t in y_true],
            y_pred=apply_threshold(y_pred, confidences, threshold),
            confidences=[float(c) for c in confidences],
            out_dir=Path(out_dir),
        )
    return metrics


# --------------------------------------------------------------------------- files


def write_report(
    *,
    metrics: ClassificationMetrics,
    y_true: list[str],
    y_pred: list[str],
    confidences: list[float],
    out_dir: Path,
) -> dict[str, Path]:
    """Write the five report files (see the module docstring); returns their paths by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "metrics": out_dir / "metrics.json",
        "per_class": out_dir / "per_class.csv",
        "confusion": out_dir / "confusion.png",
        "confidence": out_dir / "confidence.png",
        "html": out_dir / "report.html",
    }
    with atomic_path(paths["metrics"]) as tmp:
        tmp.write_text(json.dumps(metrics.model_dump(mode="json"), indent=1), encoding="utf-8")
    with atomic_path(paths["per_class"]) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "precision", "recall", "f1", "support"])
        for row in metrics.per_class:
            writer.writerow(
                [
                    row.label,
                    f"{row.precision:.4f}",
                    f"{row.recall:.4f}",
                    f"{row.f1:.4f}",
                    row.support,
                ]
            )
    confusion = confusion_png(y_true=y_true, y_pred=y_pred)
    confidence = confidence_png(
        y_true=y_true, y_pred=y_pred, confidences=confidences, threshold=metrics.threshold
    )
    for key, data in (("confusion", confusion), ("confidence", confidence)):
        with atomic_path(paths[key]) as tmp:
            tmp.write_bytes(data)
    with atomic_path(paths["html"]) as tmp:
        tmp.write_text(
            render_html(metrics=metrics, confusion_png=confusion, confidence_png=confidence),
            encoding="utf-8",
        )
    for path in paths.values():
        path.chmod(0o644)  # a report is for reading (temporary files start private)
    return paths


def _pyplot() -> object:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def _png(figure: object) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    plt = _pyplot()
    plt.close(figure)  # type: ignore[attr-defined]
    return buffer.getvalue()


def matrix_labels(
    y_true: list[str], y_pred: list[str], limit: int = MAX_MATRIX_LABELS
) -> list[str]:
    """The labels of the confusion matrix: all of them, or, past `limit`, those involved in the
    most errors (ties by name)."""
    labels = sorted(set(y_true) | set(y_pred))
    if len(labels) <= limit:
        return labels
    errors: Counter[str] = Counter()
    for t, p in zip(y_true, y_pred, strict=True):
        if t != p:
            errors[t] += 1
            errors[p] += 1
    ranked = sorted(labels, key=lambda label: (-errors[label], label))
    return sorted(ranked[:limit])


def confusion_png(*, y_true: list[str], y_pred: list[str]) -> bytes:
    plt: object = _pyplot()
    labels = matrix_labels(y_true, y_pred)
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    size = max(4.0, 0.28 * len(labels) + 2.0)
    figure, axes = plt.subplots(figsize=(size, size))  # type: ignore[attr-defined]
    shown = np.log1p(matrix)  # the diagonal would drown every error in a linear scale
    axes.imshow(shown, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    every = len(set(y_true) | set(y_pred))
    note = "" if every == len(labels) else f" ({len(labels)} of {every} labels: most confused)"
    axes.set_title(f"Confusion matrix{note}", fontsize=9)
    if len(labels) <= 15:
        for (i, j), value in np.ndenumerate(matrix):
            if value:
                axes.text(j, i, str(value), ha="center", va="center", fontsize=7)
    return _png(figure)


def confidence_png(
    *, y_true: list[str], y_pred: list[str], confidences: list[float], threshold: float | None
) -> bytes:
    plt: object = _pyplot()
    conf = np.asarray(confidences, dtype=np.float64)
    truth = np.asarray(y_true, dtype=object)
    pred = np.asarray(y_pred, dtype=object)
    oos = truth == OUT_OF_SCOPE
    rejected = pred == OUT_OF_SCOPE
    right = ~oos & (truth == pred)
    # A wrongly rejected in-scope row is an error, as is a wrong label.
    wrong = ~oos & ~right
    low, high = float(min(conf.min(), 0.0)), float(max(conf.max(), 1.0))
    bins = np.linspace(low, high, 41)
    figure, axes = plt.subplots(figsize=(6.0, 3.4))  # type: ignore[attr-defined]
    for mask, label, colour in (
        (right, "in scope, right", "#2b8a3e"),
        (wrong, "in scope, wrong or rejected", "#e8590c"),
        (oos, "out of scope", "#5f3dc4"),
    ):
        if mask.any():
            axes.hist(
                conf[mask],
                bins=bins,
                alpha=0.6,
                color=colour,
                label=f"{label} ({int(mask.sum())})",
            )
    if threshold is not None:
        axes.axvline(threshold, color="black", linestyle="--", linewidth=1.2)
        axes.text(
            threshold,
            axes.get_ylim()[1] * 0.95,
            f" threshold {threshold:.3f}\n rejected {int(rejected.sum())}",
            fontsize=8,
            va="top",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
    axes.set_xlabel("confidence")
    axes.set_ylabel("rows")
    axes.set_title("Confidence by outcome", fontsize=9)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    return _png(figure)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


def render_html(
    *, metrics: ClassificationMetrics, confusion_png: bytes, confidence_png: bytes
) -> str:
    """One self-contained page (no external file, script or font)."""
    e = html.escape
    summary = [
        ("rows", str(metrics.n)),
        ("accuracy", _pct(metrics.accuracy)),
        ("macro-F1", _pct(metrics.macro_f1)),
        ("threshold", "none" if metrics.threshold is None else f"{metrics.threshold:.4f}"),
        ("rejected rows", str(metrics.rejected)),
    ]
    if metrics.out_of_scope is not None:
        o = metrics.out_of_scope
        summary += [
            ("out-of-scope rows", str(o.n_out_of_scope)),
            ("out-of-scope recall", _pct(o.recall)),
            ("out-of-scope precision", _pct(o.precision)),
            ("in-scope accuracy (wrong rejections are errors)", _pct(o.in_scope_accuracy)),
            ("in-scope rejected", _pct(o.in_scope_rejected)),
        ]
    summary_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in summary)
    confused_rows = (
        "".join(
            f"<tr><td>{e(c.true)}</td><td>{e(c.predicted)}</td><td>{c.count}</td></tr>"
            for c in metrics.confused
        )
        or "<tr><td colspan=3>none</td></tr>"
    )
    class_rows = "".join(
        f"<tr><td>{e(c.label)}</td><td>{c.precision:.3f}</td><td>{c.recall:.3f}</td>"
        f"<td>{c.f1:.3f}</td><td>{c.support}</td></tr>"
        for c in sorted(metrics.per_class, key=lambda c: (c.f1, c.label))
    )
    title = e(metrics.title or "Classification report")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; font-size: 0.9rem; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
</style></head><body>
<h1>{title}</h1>
<table>{summary_rows}</table>
<h2>Confidence</h2>
<img alt="confidence histogram" src="{_data_uri(confidence_png)}">
<h2>Most confused pairs</h2>
<table><tr><th>true</th><th>predicted</th><th>rows</th></tr>{confused_rows}</table>
<h2>Confusion matrix</h2>
<img alt="confusion matrix" src="{_data_uri(confusion_png)}">
<h2>Per label (worst F1 first)</h2>
<table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
{class_rows}</table>
</body></html>
"""
