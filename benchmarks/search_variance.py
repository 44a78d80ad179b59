"""Run-to-run variance of the DARTS search: compare the genotypes and alphas of searches that differ
only in their seed (``python benchmarks/search_variance.py RUN_DIR [RUN_DIR ...]``; each RUN_DIR
holds the ``state.json`` that ``rtecho search`` writes). Prints JSON: per run the seed, final
search-validation accuracy and wall time, and per pair of runs how many of the 8 edges (op, input)
of each derived cell agree, and how many of the edges agree in their input alone.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from rtecho.runtime.preprocess import softmax


def _edges(genotype: dict, cell: str) -> list[tuple[str, int]]:
    return [(str(op), int(i)) for op, i in genotype[cell]]


def _agree(a: list[tuple[str, int]], b: list[tuple[str, int]], key=lambda e: e) -> int:
    """Edges in common node by node (each node has two incoming edges; order within a node is free)."""
    n = 0
    for k in range(0, len(a), 2):
        n += sum((Counter(map(key, a[k : k + 2])) & Counter(map(key, b[k : k + 2]))).values())
    return n


def main(argv: list[str] | None = None) -> int:
    dirs = [Path(d) for d in (sys.argv[1:] if argv is None else argv)]
    runs = []
    for d in dirs:
        state = json.loads((d / "state.json").read_text())
        last = state["history"][-1]
        alphas = {c: np.asarray(last[f"alpha_{c}"], dtype=np.float64) for c in ("normal", "reduce")}
        soft = {c: softmax(a) for c, a in alphas.items()}
        runs.append(
            {
                "dir": str(d),
                "seed": state["config"]["seed"],
                "epochs": state["epoch"],
                "val_acc": round(float(last["val_acc"]), 4),
                "wall_s": round(float(state.get("wall_s", 0.0)), 1),
                "genotype": last["genotype"],
                "softmax_range": {
                    c: [round(float(s.min()), 4), round(float(s.max()), 4)] for c, s in soft.items()
                },
                "_soft": soft,
            }
        )
    pairs = []
    for a, b in itertools.combinations(runs, 2):
        row = {"seeds": [a["seed"], b["seed"]]}
        for cell in ("normal", "reduce"):
            ea, eb = _edges(a["genotype"], cell), _edges(b["genotype"], cell)
            row[f"{cell}_edges_same"] = _agree(ea, eb)
            row[f"{cell}_inputs_same"] = _agree(ea, eb, key=lambda e: e[1])
            sa, sb = a["_soft"][cell].ravel(), b["_soft"][cell].ravel()
            row[f"{cell}_alpha_corr"] = round(float(np.corrcoef(sa, sb)[0, 1]), 3)
        pairs.append(row)
    for r in runs:
        r.pop("_soft")
    print(json.dumps({"runs": runs, "pairs": pairs, "edges_per_cell": 8}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
