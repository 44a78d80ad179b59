"""Derive a discrete genotype from the search network's alphas (DARTS section 2.4).

For every intermediate node: each incoming edge is scored by its strongest non-``none`` op
(softmax over the edge's alphas); the node keeps its two highest-scoring edges, each with that op.

>>> import torch
>>> from rtecho.nas.search_space import PRIMITIVES
>>> a = torch.zeros(14, len(PRIMITIVES)); a[:, PRIMITIVES.index("sep_conv_3x3")] = 1.0
>>> derive(a, a).normal[:2]
(('sep_conv_3x3', 0), ('sep_conv_3x3', 1))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rtecho.models.genotypes import Edge, Genotype
from rtecho.nas.search_space import PRIMITIVES


def derive_cell(
    alpha: torch.Tensor, n_nodes: int = 4, primitives: Sequence[str] = PRIMITIVES
) -> tuple[Edge, ...]:
    """Edges of one cell from its (n_edges, n_ops) alpha logits: two per node, strongest non-none."""
    weights = F.softmax(alpha.detach().float(), dim=-1)
    none = list(primitives).index("none") if "none" in primitives else -1
    edges: list[Edge] = []
    start = 0
    for i in range(n_nodes):
        n_in = i + 2
        scored = []
        for j in range(n_in):
            w = weights[start + j].clone()
            if none >= 0:
                w[none] = -1.0
            k = int(torch.argmax(w))
            scored.append((float(w[k]), j, primitives[k]))
        best = sorted(scored, key=lambda t: (-t[0], t[1]))[:2]
        edges.extend((op, j) for _, j, op in sorted(best, key=lambda t: t[1]))
        start += n_in
    return tuple(edges)


def derive(alpha_normal: torch.Tensor, alpha_reduce: torch.Tensor, n_nodes: int = 4) -> Genotype:
    """Genotype of both cells; every intermediate node is concatenated into the output."""
    concat = tuple(range(2, 2 + n_nodes))
    return Genotype(
        normal=derive_cell(alpha_normal, n_nodes),
        normal_concat=concat,
        reduce=derive_cell(alpha_reduce, n_nodes),
        reduce_concat=concat,
    )
