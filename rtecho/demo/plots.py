"""Plots of a file run as PNG files: the per-frame timeline of view and confidence, and latency.

Uses matplotlib's object API (``Figure``, no pyplot state), so it is safe from worker threads.

>>> timeline_png(predictions, "timeline.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rtecho._lazy import require
from rtecho.types import Prediction


def _figure(size_in: tuple[float, float]):
    require("matplotlib", "plot", "the demo's plots")
    from matplotlib.figure import Figure

    return Figure(figsize=size_in, dpi=100, layout="constrained")


def view_changes(predictions: Sequence[Prediction]) -> list[int]:
    """Indices in ``predictions`` where the (smoothed, else raw) label differs from the previous frame."""
    out: list[int] = []
    prev: str | None = None
    for i, p in enumerate(predictions):
        label = p.smoothed_label or p.label
        if label is None:
            continue
        if prev is not None and label != prev:
            out.append(i)
        prev = label
    return out


def timeline_png(predictions: Sequence[Prediction], path: str | Path, title: str = "") -> Path:
    """Predicted view (top) and its confidence (bottom) per frame, view changes marked; saved as PNG."""
    if not predictions:
        raise ValueError("no predictions to plot")
    labels = predictions[0].labels
    ok = [p for p in predictions if p.ok]
    x = np.array([p.frame_index for p in ok])
    y = np.array([p.index for p in ok])
    conf = np.array([p.confidence for p in ok])
    fig = _figure((9.0, 4.6))
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    sc = ax1.scatter(x, y, c=conf, cmap="viridis", vmin=0, vmax=1, s=14, marker="s")
    ax1.set_yticks(range(len(labels)), labels, fontsize=7)
    ax1.set_ylim(-0.5, len(labels) - 0.5)
    ax1.set_ylabel("predicted view")
    ax1.grid(axis="y", alpha=0.3)
    fig.colorbar(sc, ax=ax1, label="confidence", pad=0.01)
    ax2.plot(x, conf, color="tab:blue", lw=1.2)
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("confidence")
    ax2.set_xlabel("frame")
    ax2.grid(alpha=0.3)
    for i in view_changes(predictions):
        for ax in (ax1, ax2):
            ax.axvline(predictions[i].frame_index - 0.5, color="tab:red", lw=0.8, alpha=0.6)
    errors = [p.frame_index for p in predictions if not p.ok]
    if errors:
        ax2.plot(errors, np.zeros(len(errors)), "x", color="tab:red", label="error frames")
        ax2.legend(loc="upper right", fontsize=7)
    ax1.set_title(title or "view per frame (red lines: view changes)", fontsize=10)
    path = Path(path)
    fig.savefig(path)
    return path


def latency_histogram_png(
    predictions: Sequence[Prediction],
    path: str | Path,
    stages: Sequence[str] = ("infer", "end_to_end"),
    title: str = "",
) -> Path:
    """Histogram of per-frame latency (ms) for ``stages``, with p50/p95 in the legend; saved as PNG."""
    fig = _figure((6.4, 3.6))
    ax = fig.subplots()
    values = {
        stage: np.array([p.timings_ms[stage] for p in predictions if p.ok and stage in p.timings_ms])
        for stage in stages
    }
    values = {k: v for k, v in values.items() if v.size}
    n = max((v.size for v in values.values()), default=0)
    top = max((float(v.max()) for v in values.values()), default=1.0)
    bins = np.linspace(0.0, top * 1.02 + 1e-3, min(40, max(6, n // 3)) + 1)  # shared by every stage
    for stage, v in values.items():
        p50, p95 = np.percentile(v, [50, 95])
        ax.hist(v, bins=bins, alpha=0.6, label=f"{stage}: p50 {p50:.2f}, p95 {p95:.2f} ms")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("frames")
    if values:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no frame was classified", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title or "per-frame latency", fontsize=10)
    path = Path(path)
    fig.savefig(path)
    return path
