"""EfficientNet-B0 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for CNNs"), optionally with CBAM.

Stage table of B0 (expansion, kernel, stride, channels, repeats), after a stride-2 3x3 stem of 32:
MBConv1 k3 s1 16 x1; MBConv6 k3 s2 24 x2; k5 s2 40 x2; k3 s2 80 x3; k5 s1 112 x3; k5 s2 192 x4;
k3 s1 320 x1; then a 1x1 head conv to 1280, global pool, dropout 0.2, linear. Squeeze-excitation in
every block with squeeze width 0.25 x the block's input channels; SiLU; drop-connect (stochastic
depth) rising linearly to ``drop_path_rate`` over the blocks. With a 1000-class head and RGB input it
has 5,288,548 parameters, as the reference.

``efficientnet_b0_cbam``: the echo section-recognition variant of Xu & Liu, with CBAM (channel then
spatial attention, :class:`rtecho.models.layers.CBAM`) after the last MBConv stage, before the 1x1
head conv. Default input 160x160 grey (386 MFLOPs; 224x224 is 755 MFLOPs): chosen so that one
ONNX Runtime forward on a 2-core CPU stays well inside a 13 ms end-to-end p99 budget.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rtecho.models.layers import CBAM, ConvBNAct, SqueezeExcite, drop_path, global_avg_pool, init_weights
from rtecho.models.registry import register_model

#: (expansion, kernel, stride, out channels, repeats) per stage of EfficientNet-B0.
B0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand] -> depthwise kxk -> SE -> 1x1 project (+ residual when shapes match)."""

    def __init__(
        self, c_in: int, c_out: int, expansion: int, kernel: int, stride: int, drop_prob: float = 0.0
    ) -> None:
        super().__init__()
        mid = c_in * expansion
        self.expand = ConvBNAct(c_in, mid, 1, act=nn.SiLU) if expansion != 1 else nn.Identity()
        self.dw = ConvBNAct(mid, mid, kernel, stride, groups=mid, act=nn.SiLU)
        self.se = SqueezeExcite(mid, max(1, c_in // 4), act=nn.SiLU)
        self.project = ConvBNAct(mid, c_out, 1, act=None)
        self.residual = stride == 1 and c_in == c_out
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.dw(self.expand(x))))
        if self.residual:
            y = x + drop_path(y, self.drop_prob, self.training)
        return y


class EfficientNet(nn.Module):
    """EfficientNet-B0 backbone and head; ``cbam=True`` inserts CBAM after the last MBConv stage."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int = 1,
        cbam: bool = False,
        dropout: float = 0.2,
        drop_path_rate: float = 0.2,
        stages: tuple[tuple[int, int, int, int, int], ...] = B0_STAGES,
        stem: int = 32,
        head: int = 1280,
    ) -> None:
        super().__init__()
        self.stem = ConvBNAct(in_chans, stem, 3, 2, act=nn.SiLU)
        total = sum(s[4] for s in stages)
        blocks: list[nn.Module] = []
        c_in, k = stem, 0
        for expansion, kernel, stride, c_out, repeats in stages:
            for r in range(repeats):
                rate = drop_path_rate * k / total
                blocks.append(MBConv(c_in, c_out, expansion, kernel, stride if r == 0 else 1, rate))
                c_in, k = c_out, k + 1
        self.blocks = nn.Sequential(*blocks)
        self.attention = CBAM(c_in, reduction=16) if cbam else nn.Identity()
        self.head_conv = ConvBNAct(c_in, head, 1, act=nn.SiLU)
        self.num_features = head
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(head, num_classes)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, H, W) -> (B, 1280, H/32, W/32) feature map."""
        return self.head_conv(self.attention(self.blocks(self.stem(x))))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """Feature map -> logits (global average pool, dropout, linear)."""
        return self.classifier(self.dropout(global_avg_pool(feats)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model(input_size_hw=(160, 160), architecture="efficientnet_b0_cbam")
def efficientnet_b0_cbam(num_classes: int, in_chans: int = 1, **kw: Any) -> EfficientNet:
    """EfficientNet-B0 with CBAM after the last stage (Xu & Liu), 160x160 grey by default."""
    return EfficientNet(num_classes, in_chans, cbam=True, **kw)


@register_model(
    input_size_hw=(224, 224), architecture="efficientnet_b0", num_classes=1000, mean_std="imagenet"
)
def efficientnet_b0(num_classes: int, in_chans: int = 1, **kw: Any) -> EfficientNet:
    """Plain EfficientNet-B0 (reference size: 1000 classes, 224x224; 5.29M parameters with RGB input)."""
    return EfficientNet(num_classes, in_chans, cbam=False, **kw)
