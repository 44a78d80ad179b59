"""DARTS search cells and network: every edge is a MixedOp weighted by softmax(alpha).

The network keeps the architecture parameters (``alpha_normal``, ``alpha_reduce``: one row of
len(PRIMITIVES) logits per edge, 14 edges for 4 nodes) apart from the operation weights:
``weights()`` and ``alphas()`` are disjoint and together cover every parameter.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from rtecho.models.darts import make_stem
from rtecho.models.darts_ops import FactorizedReduce, ReLUConvBN
from rtecho.models.genotypes import Genotype
from rtecho.nas.search_space import PRIMITIVES, MixedOp


def n_edges(n_nodes: int) -> int:
    """Edges of a cell with ``n_nodes`` intermediate nodes (node i has i + 2 inputs): 14 for 4."""
    return sum(i + 2 for i in range(n_nodes))


class SearchCell(nn.Module):
    """A cell whose every edge (from each earlier node to each intermediate node) is a MixedOp."""

    def __init__(
        self, n_nodes: int, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.n_nodes = n_nodes
        self.preprocess0 = (
            FactorizedReduce(c_pp, c, affine=False)
            if reduction_prev
            else ReLUConvBN(c_pp, c, 1, 1, 0, affine=False)
        )
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, affine=False)
        self.edges = nn.ModuleList()
        for i in range(n_nodes):
            for j in range(i + 2):
                self.edges.append(MixedOp(c, 2 if reduction and j < 2 else 1))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        k = 0
        for _ in range(self.n_nodes):
            s = sum(self.edges[k + j](h, weights[k + j]) for j, h in enumerate(states))
            k += len(states)
            states.append(s)
        return torch.cat(states[2:], dim=1)


class SearchCNN(nn.Module):
    """Stem, ``n_layers`` search cells (reductions at 1/3 and 2/3 depth), global pool, linear.

    ``stem_stride=2`` matches the evaluation networks (cells searched at the resolution they run at).
    """

    def __init__(
        self,
        c_in: int = 1,
        c: int = 8,
        n_classes: int = 13,
        n_layers: int = 5,
        n_nodes: int = 4,
        stem_multiplier: int = 3,
        stem_stride: int = 2,
    ) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        c_curr = stem_multiplier * c
        self.stem = make_stem(c_in, c_curr, stem_stride)
        c_pp, c_p, c_curr = c_curr, c_curr, c
        reductions = {n_layers // 3, 2 * n_layers // 3}
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(n_layers):
            reduction = i in reductions
            if reduction:
                c_curr *= 2
            self.cells.append(SearchCell(n_nodes, c_pp, c_p, c_curr, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, n_nodes * c_curr
        self.classifier = nn.Linear(c_p, n_classes)
        k = n_edges(n_nodes)
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(k, len(PRIMITIVES)))
        self.alpha_reduce = nn.Parameter(1e-3 * torch.randn(k, len(PRIMITIVES)))
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_normal = F.softmax(self.alpha_normal, dim=-1)
        w_reduce = F.softmax(self.alpha_reduce, dim=-1)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, w_reduce if cell.reduction else w_normal)
        return self.classifier(s1.mean(dim=(2, 3)))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the network on (x, y)."""
        return self.criterion(self(x), y)

    def named_alphas(self) -> Iterator[tuple[str, nn.Parameter]]:
        yield "alpha_normal", self.alpha_normal
        yield "alpha_reduce", self.alpha_reduce

    def alphas(self) -> Iterator[nn.Parameter]:
        """Architecture parameters (updated by the architect on validation data)."""
        for _, p in self.named_alphas():
            yield p

    def named_weights(self) -> Iterator[tuple[str, nn.Parameter]]:
        for n, p in self.named_parameters():
            if not n.startswith("alpha_"):
                yield n, p

    def weights(self) -> Iterator[nn.Parameter]:
        """Operation weights (updated by SGD on training data)."""
        for _, p in self.named_weights():
            yield p

    def genotype(self) -> Genotype:
        """Derive the discrete genotype from the current alphas."""
        from rtecho.nas.genotype import derive

        return derive(self.alpha_normal, self.alpha_reduce, self.n_nodes)
