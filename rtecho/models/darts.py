"""Networks assembled from a DARTS genotype (Liu et al. 2019), never from ``eval``.

- ``darts1``: stem + ONE searched normal cell + classifier, and ``darts2``: stem + a normal and a
  reduction cell: the 1-cell and 2-cell echo view classifiers of Azarmehr et al. 2021 ("Neural
  architecture search of echocardiography view classifiers", J. Med. Imaging 8(3):034002).
  Defaults: C=32 channels per node; a stem of two stride-2 3x3 convs (to C, then 2C channels);
  128x128 grey input, so the cells run at 32x32 (darts2's reduction cell at 16x16): the resolution
  the search (64x64 input, stride-2 stem) sees them at, with a receptive field that covers the
  view. With the DARTS-V2 cell: 78 MFLOPs (darts1) and 103 MFLOPs (darts2) at 128x128; the model
  cards give the figures of the shipped (searched) cells.
- ``uiac``: the stacked network of UIAC (Zeng et al. 2021): 20 cells, initial channels 32,
  reduction cells at 0-based cell indices 5, 10 and 15, auxiliary classifier on the output of cell 15
  (loss weight 0.25, ``model.aux_weight``); stride-4 stem (two 3x3 convs) at 128x128. Normal cell: UIAC's published block; reduction cell:
  searched here (UIAC did not publish theirs): ``genotypes/uiac_echo.json``
  (``uiac_normal_darts_v2_reduce.json`` keeps DARTS-V2's reduce cell as the alternative).
- ``darts_v2_cifar``: the DARTS-V2 CIFAR-10 evaluation network (C=36, 20 cells, auxiliary head,
  10 classes, stride-1 stem, 32x32), the reference for the 3.3M parameter count.

In training mode a network with an auxiliary head returns ``(logits, aux_logits)``; in eval mode
every network returns logits (B, num_classes) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rtecho.models.darts_ops import OPS, FactorizedReduce, ReLUConvBN
from rtecho.models.genotypes import Edge, Genotype, GenotypeError, load_genotype
from rtecho.models.layers import drop_path, global_avg_pool
from rtecho.models.registry import register_model


class Cell(nn.Module):
    """A DARTS cell built from the genotype's edges: s_k = sum of two ops over earlier nodes."""

    def __init__(
        self,
        edges: Sequence[Edge],
        concat: Sequence[int],
        c_pp: int,
        c_p: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.indices = [src for _, src in edges]
        self.concat = list(concat)
        self.steps = len(edges) // 2
        self.multiplier = len(self.concat)
        self.ops = nn.ModuleList(OPS[op](c, 2 if reduction and src < 2 else 1, True) for op, src in edges)
        self.is_identity = [isinstance(op, nn.Identity) for op in self.ops]

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self.steps):
            hs = []
            for j in (2 * i, 2 * i + 1):
                h = self.ops[j](states[self.indices[j]])
                if not self.is_identity[j]:
                    h = drop_path(h, drop_prob, self.training)
                hs.append(h)
            states.append(hs[0] + hs[1])
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS auxiliary classifier (ReLU, pool to 2x2, 1x1 conv 128, 2x2 conv 768, linear).

    The reference pools an 8x8 map with AvgPool(5, stride 3); adaptive pooling to 2x2 keeps the same
    parameters and works at any map size. Used in training mode only.
    """

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(F.relu(x), 2)
        return self.classifier(self.features(x).flatten(1))


def make_stem(in_chans: int, c_out: int, stride: int) -> nn.Sequential:
    """3x3 conv + BN (stride 1 or 2), or for stride 4 two stride-2 3x3 convs (c_out/2, then c_out)."""
    if stride in (1, 2):
        return nn.Sequential(nn.Conv2d(in_chans, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out))
    if stride == 4:
        mid = c_out // 2
        return nn.Sequential(
            nn.Conv2d(in_chans, mid, 3, 2, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, c_out, 3, 2, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
    raise ValueError(f"stem stride must be 1, 2 or 4, got {stride}")


class DartsNetwork(nn.Module):
    """Stem, then cells laid out by ``layout`` ('N' normal, 'R' reduction), global pool, linear.

    Reduction cells double the channels. ``aux_after`` (cell index) adds an auxiliary head on that
    cell's output (training mode only); ``drop_path_prob`` may be raised by the trainer.
    """

    def __init__(
        self,
        genotype: Genotype,
        num_classes: int,
        in_chans: int = 1,
        c: int = 16,
        layout: str = "N",
        stem_stride: int = 2,
        stem_multiplier: int = 3,
        aux_after: int | None = None,
        aux_weight: float = 0.4,
        dropout: float = 0.0,
        drop_path_prob: float = 0.0,
    ) -> None:
        super().__init__()
        if set(layout) - {"N", "R"} or not layout:
            raise ValueError(f"layout must be a non-empty string of 'N'/'R', got {layout!r}")
        if "R" in layout and not genotype.has_reduce:
            raise GenotypeError("this network has reduction cells but the genotype has no 'reduce' cell")
        self.genotype = genotype
        self.drop_path_prob = drop_path_prob
        self.aux_after = aux_after
        self.aux_weight = aux_weight if aux_after is not None else 0.0
        c_curr = stem_multiplier * c
        self.stem = make_stem(in_chans, c_curr, stem_stride)
        c_pp, c_p, c_curr = c_curr, c_curr, c
        self.cells = nn.ModuleList()
        reduction_prev = False
        self.aux_head: AuxiliaryHead | None = None
        for i, kind in enumerate(layout):
            reduction = kind == "R"
            if reduction:
                c_curr *= 2
                edges, concat = genotype.reduce, genotype.reduce_concat
            else:
                edges, concat = genotype.normal, genotype.normal_concat
            cell = Cell(edges, concat, c_pp, c_p, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c_curr
            if i == aux_after:
                self.aux_head = AuxiliaryHead(c_p, num_classes)
        self.num_features = c_p
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(c_p, num_classes)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_after and self.aux_head is not None and self.training:
                aux = self.aux_head(s1)
        return s1, aux

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, H, W) -> last cell's feature map (B, num_features, h, w)."""
        return self._run(x)[0]

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """Feature map -> logits (global average pool, dropout, linear)."""
        return self.classifier(self.dropout(global_avg_pool(feats)))

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        feats, aux = self._run(x)
        logits = self.forward_head(feats)
        return (logits, aux) if aux is not None else logits


def _layout(layers: int, reductions: Sequence[int]) -> str:
    return "".join("R" if i in reductions else "N" for i in range(layers))


def _genotype(kw: dict[str, Any], default: str) -> Genotype:
    return load_genotype(kw.pop("genotype", None) or default)


def _azarmehr(num_classes: int, in_chans: int, layout: str, kw: dict[str, Any]) -> DartsNetwork:
    """darts1/darts2: stride-4 stem (multiplier 2), C=32, cells as ``layout``, genotype echo_search64."""
    g = _genotype(kw, "echo_search64")
    kw.setdefault("stem_stride", 4)
    kw.setdefault("stem_multiplier", 2)
    return DartsNetwork(g, num_classes, in_chans, c=kw.pop("c", 32), layout=layout, **kw)


@register_model(input_size_hw=(128, 128), architecture="darts")
def darts1(num_classes: int, in_chans: int = 1, **kw: Any) -> DartsNetwork:
    """1-cell DARTS network (Azarmehr et al. 2021): stride-4 stem + one normal cell, C=32.

    ``genotype=`` a shipped name, JSON path or dict (default ``echo_search64``, the cell searched by
    rtecho on simulator stills; ``darts_v2`` is the published DARTS-V2 cell).
    """
    return _azarmehr(num_classes, in_chans, "N", kw)


@register_model(input_size_hw=(128, 128), architecture="darts")
def darts2(num_classes: int, in_chans: int = 1, **kw: Any) -> DartsNetwork:
    """2-cell DARTS network (Azarmehr et al. 2021): stride-4 stem + a normal and a reduction cell, C=32.

    Default genotype ``echo_search64`` (searched by rtecho); ``genotype=`` selects another.
    """
    return _azarmehr(num_classes, in_chans, "NR", kw)


@register_model(input_size_hw=(128, 128), architecture="darts_stacked")
def uiac(num_classes: int, in_chans: int = 1, **kw: Any) -> DartsNetwork:
    """UIAC-style stack (Zeng et al. 2021): 20 cells, C=32, reductions at cells 5/10/15 (0-based), aux at 15.

    Genotype ``uiac_echo``: UIAC's published normal block with the reduction cell searched by rtecho
    (UIAC did not publish theirs; ``uiac_normal_darts_v2_reduce`` keeps DARTS-V2's as the alternative).
    """
    g = _genotype(kw, "uiac_echo")
    kw.setdefault("aux_weight", 0.25)
    kw.setdefault("stem_stride", 4)
    return DartsNetwork(
        g, num_classes, in_chans, c=kw.pop("c", 32), layout=_layout(20, (5, 10, 15)), aux_after=15, **kw
    )


@register_model(input_size_hw=(32, 32), architecture="darts_stacked", num_classes=10, mean_std="cifar")
def darts_v2_cifar(num_classes: int, in_chans: int = 1, **kw: Any) -> DartsNetwork:
    """DARTS-V2 CIFAR-10 evaluation network: C=36, 20 cells, stride-1 stem, aux head after cell 13."""
    g = _genotype(kw, "darts_v2")
    kw.setdefault("aux_weight", 0.4)
    return DartsNetwork(
        g,
        num_classes,
        in_chans,
        c=kw.pop("c", 36),
        layout=_layout(20, (20 // 3, 2 * 20 // 3)),
        stem_stride=1,
        aux_after=2 * 20 // 3,
        **kw,
    )
