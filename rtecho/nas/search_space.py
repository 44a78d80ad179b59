"""The DARTS search space: candidate ops and the continuous relaxation of an edge (MixedOp).

An edge computes o(x) = sum_k softmax(alpha)_k * op_k(x) over :data:`PRIMITIVES`. As in the DARTS
reference search code, BN has no affine parameters during search and pools are followed by BN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rtecho.models.darts_ops import OPS, PRIMITIVES

__all__ = ["OPS", "PRIMITIVES", "MixedOp"]


class MixedOp(nn.Module):
    """Weighted sum of every primitive on one edge: ``forward(x, weights)`` with weights (len(PRIMITIVES),)."""

    def __init__(self, c: int, stride: int, primitives: Sequence[str] = PRIMITIVES) -> None:
        super().__init__()
        self.primitives = tuple(primitives)
        ops = []
        for name in self.primitives:
            op = OPS[name](c, stride, False)
            if "pool" in name:
                op = nn.Sequential(op, nn.BatchNorm2d(c, affine=False))
            ops.append(op)
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops, strict=True))
