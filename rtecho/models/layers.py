"""Layers shared by the model families: conv-BN-activation, squeeze-excitation, CBAM, drop path.

Everything here exports to ONNX (opset 17): pooling is ``mean``/``amax`` over the spatial dims and
there is no data-dependent Python control flow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C): mean over the spatial dims (works at any input size)."""
    return x.mean(dim=(2, 3))


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples with probability ``drop_prob`` (training only), rescale the rest."""
    if not training or drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> activation (``act=None`` for none); 'same' padding for odd kernels."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        act: type[nn.Module] | None = nn.ReLU,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        if act is not None:
            layers.append(act(inplace=True))
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): x * sigmoid(W2 act(W1 GAP(x))), 1x1 convs with bias."""

    def __init__(self, channels: int, squeeze: int, act: type[nn.Module] = nn.SiLU) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = act(inplace=True)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class CBAM(nn.Module):
    """Convolutional block attention module (Woo et al. 2018).

    Channel attention: Mc = sigmoid(MLP(avgpool(x)) + MLP(maxpool(x))), shared MLP with reduction 16;
    x' = Mc * x. Spatial attention: Ms = sigmoid(conv7x7([mean_c(x'), max_c(x')])); out = Ms * x'.
    """

    def __init__(self, channels: int, reduction: int = 16, spatial_kernel: int = 7) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )
        self.spatial = nn.Conv2d(2, 1, spatial_kernel, padding=spatial_kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean(dim=(2, 3), keepdim=True)
        mx = x.amax(dim=(2, 3), keepdim=True)
        x = x * torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class SoftThreshold(nn.Module):
    """Soft-threshold attention (Tan et al. 2024, after Zhao et al.'s residual shrinkage networks).

    Per channel c: a_c = mean |x_c| (GAP of the absolute value); s_c = sigmoid(MLP(a))_c;
    tau_c = a_c * s_c; out = sign(x) * max(|x| - tau, 0), computed as x - min(max(x, -tau), tau)
    (identical, and it exports as ONNX Min/Max with broadcasting).
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.abs().mean(dim=(2, 3), keepdim=True)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(a))))
        tau = a * s
        return x - torch.maximum(torch.minimum(x, tau), -tau)


def init_weights(module: nn.Module) -> None:
    """torchvision-style init: Kaiming-normal (fan_out) convs, unit/zero BN, small uniform linears."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.out_features**0.5
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)
