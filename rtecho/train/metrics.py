"""Classification metrics in numpy: accuracy, per-class accuracy, precision/recall, F1, kappa, confusion.

Conventions (those of scikit-learn with ``zero_division=0``):

- ``C[i, j]`` counts items of true class ``i`` predicted as ``j``; rows are truth.
- Per-class accuracy of class ``i`` is its recall ``C[i, i] / sum_j C[i, j]``.
- Macro precision/recall average over the classes that occur in the truth or the predictions;
  a class never predicted has precision 0 (likewise recall).
- Weighted F1 averages per-class F1 weighted by true support.
- Cohen's kappa ``(p_o - p_e) / (1 - p_e)`` with ``p_o = trace(C) / n`` and
  ``p_e = sum_i (row_i / n)(col_i / n)``; when ``p_e = 1`` (both sides use one and the same class)
  agreement is perfect and kappa is defined as 1.

>>> r = classification_report([0, 0, 1, 1], [0, 1, 1, 1], ["A4C", "PLAX"])
>>> r["accuracy"], r["kappa"]
(0.75, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` int64 matrix, rows = truth, columns = prediction."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} items but y_pred has {p.size}")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError(f"class indices must lie in [0, {n_classes})")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def cohen_kappa(cm: np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix (1.0 when chance agreement is already perfect)."""
    cm = np.asarray(cm, dtype=np.float64)
    n = cm.sum()
    if n == 0:
        return 0.0
    po = np.trace(cm) / n
    pe = float((cm.sum(axis=1) / n) @ (cm.sum(axis=0) / n))
    if np.isclose(pe, 1.0):
        return 1.0 if np.isclose(po, 1.0) else 0.0
    return float((po - pe) / (1.0 - pe))


def metrics_from_confusion(cm: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Every metric of this module from a confusion matrix, as a JSON-ready dict."""
    cm = np.asarray(cm, dtype=np.int64)
    if cm.shape != (len(labels), len(labels)):
        raise ValueError(f"confusion matrix {cm.shape} does not match {len(labels)} labels")
    n = int(cm.sum())
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    used = (support + predicted) > 0
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "per_class_accuracy": {lab: float(recall[i]) for i, lab in enumerate(labels) if support[i] > 0},
        "per_class_support": {lab: int(support[i]) for i, lab in enumerate(labels)},
        "macro_precision": float(precision[used].mean()) if used.any() else 0.0,
        "macro_recall": float(recall[used].mean()) if used.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / n) if n else 0.0,
        "kappa": cohen_kappa(cm),
        "labels": list(labels),
        "confusion_matrix": cm.tolist(),
    }


def classification_report(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]
) -> dict[str, Any]:
    """Metrics of integer predictions against integer truth over ``labels`` (see the module docstring)."""
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, len(labels)), labels)


def save_confusion_png(cm: np.ndarray, labels: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Draw the confusion matrix (counts, rows = truth, colour = row-normalised) to a PNG file."""
    from rtecho._lazy import require

    require("matplotlib", "plot", "the confusion-matrix PNG")
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    cm = np.asarray(cm, dtype=np.int64)
    frac = _safe_div(cm, cm.sum(axis=1, keepdims=True))
    k = len(labels)
    side = max(4.0, 0.55 * k + 2.0)
    fig = Figure(figsize=(side, side), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(k), labels=list(labels), rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels=list(labels), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                colour = "white" if frac[i, j] > 0.5 else "black"
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color=colour)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path
