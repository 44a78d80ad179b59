"""PNG figures of a search: alpha evolution over epochs and the derived cells (matplotlib, no graphviz).

Figures are drawn on a ``matplotlib.figure.Figure`` with the Agg canvas: no pyplot global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rtecho._lazy import require
from rtecho.models.genotypes import Edge
from rtecho.nas.search_space import PRIMITIVES


def _figure(width: float, height: float):  # noqa: ANN202
    figure = require("matplotlib.figure", "plot", "search plots")
    require("matplotlib.backends.backend_agg", "plot", "search plots")
    return figure.Figure(figsize=(width, height), dpi=100)


def _edge_names(n_nodes: int) -> list[str]:
    names = []
    for i in range(n_nodes):
        for j in range(i + 2):
            src = ("c_{k-2}", "c_{k-1}")[j] if j < 2 else str(j - 2)
            names.append(f"{src} -> {i}")
    return names


def plot_alpha_history(
    history: Sequence[np.ndarray], path: str | Path, title: str = "", primitives: Sequence[str] = PRIMITIVES
) -> Path:
    """One panel per edge: softmax(alpha) of every op against epoch. ``history``: (edges, ops) per epoch."""
    h = np.asarray(history, dtype=float)  # (epochs, edges, ops)
    if h.ndim != 3:
        raise ValueError(f"alpha history must be (epochs, edges, ops), got shape {h.shape}")
    n_edges = h.shape[1]
    n_nodes = int(round((-3 + (9 + 8 * n_edges) ** 0.5) / 2))
    names = _edge_names(n_nodes) if len(_edge_names(n_nodes)) == n_edges else [str(i) for i in range(n_edges)]
    cols = 4
    rows = -(-n_edges // cols)
    fig = _figure(4 * cols, 2.6 * rows + 0.8)
    epochs = np.arange(1, h.shape[0] + 1)
    for e in range(n_edges):
        ax = fig.add_subplot(rows, cols, e + 1)
        for k, name in enumerate(primitives):
            ax.plot(epochs, h[:, e, k], marker="." if len(epochs) < 30 else None, label=name)
        ax.set_title(names[e], fontsize=9)
        ax.set_ylim(0, max(0.3, float(h[:, e].max()) * 1.05))
        ax.tick_params(labelsize=7)
    fig.axes[0].legend(fontsize=6, loc="upper left")
    fig.suptitle(title or "softmax(alpha) per edge over epochs")
    fig.tight_layout()
    return _save(fig, path)


def plot_cell(edges: Sequence[Edge], concat: Sequence[int], path: str | Path, title: str = "") -> Path:
    """Diagram of a derived cell: inputs left, intermediate nodes, output right; edges labelled with ops."""
    n_nodes = len(edges) // 2
    pos: dict[int | str, tuple[float, float]] = {0: (0.0, 1.6), 1: (0.0, -1.6)}
    for i in range(n_nodes):
        pos[i + 2] = (1.0 + i * 1.3, 0.9 if i % 2 == 0 else -0.9)
    pos["out"] = (1.3 + n_nodes * 1.3, 0.0)
    labels = {0: "c_{k-2}", 1: "c_{k-1}", "out": "c_{k}", **{i + 2: str(i) for i in range(n_nodes)}}
    fig = _figure(2.2 + 1.6 * n_nodes, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    arrow = {"arrowstyle": "-|>", "color": "0.3", "shrinkA": 14, "shrinkB": 14, "lw": 1.2}
    for k, (op, src) in enumerate(edges):
        dst = k // 2 + 2
        rad = 0.25 if k % 2 else -0.25
        ax.annotate(
            "", xy=pos[dst], xytext=pos[src], arrowprops={**arrow, "connectionstyle": f"arc3,rad={rad}"}
        )
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        ax.text(
            mx + rad * (y1 - y0) / 2,
            my - rad * (x1 - x0) / 2,
            op,
            fontsize=7,
            ha="center",
            va="center",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        )
    for c in concat:
        ax.annotate("", xy=pos["out"], xytext=pos[c], arrowprops={**arrow, "color": "0.7", "linestyle": "--"})
    for node, (x, y) in pos.items():
        color = "#9ecae1" if node in (0, 1) else "#fdd0a2" if node == "out" else "#c7e9c0"
        ax.text(
            x,
            y,
            labels[node],
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.4", "fc": color, "ec": "0.3"},
        )
    ax.set_xlim(-0.6, pos["out"][0] + 0.6)
    ax.set_ylim(-2.3, 2.3)
    ax.axis("off")
    ax.set_title(title)
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:  # noqa: ANN001
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path)
    return path
