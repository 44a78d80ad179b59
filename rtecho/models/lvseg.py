"""Lightweight left-ventricle segmenters for 112x112 grey echo frames (EchoNet-Dynamic's input).

Both networks give per-pixel logits over ``("background", "LV")``: output (N, 2, H, W) at the input
size; the LV mask is ``logits[:, 1] > logits[:, 0]`` (softmax channel 1 is the LV probability).

- ``lvseg_aspp``: DeepLabV3+-style (Chen et al. 2018, "Encoder-Decoder with Atrous Separable
  Convolution"; EchoNet-Dynamic's segmenter is DeepLabV3) on a MobileNetV2-like encoder (Sandler et
  al. 2018: inverted residuals, depthwise 3x3). Output stride 8: the last stage runs dilated at
  1/8 resolution; an atrous spatial pyramid (1x1, depthwise-separable 3x3 at dilations 2, 4, 6 and an
  image-pooling branch) feeds a decoder that fuses the 1/4 and 1/2 encoder features before a
  bilinear upsample to the input size.
- ``lvseg_lite``: the same encoder slimmed (expansion 3, two dilated blocks), a 48-channel ASPP and one
  1/4 decoder; the 1/4 logits are upsampled 4x, as DeepLabV3 upsamples its 1/8 logits. Half the latency.
- ``lvseg_unet``: a U-Net (Ronneberger et al. 2015) with depthwise-separable double convolutions
  (``separable=False``: dense ones, 2x the latency on ONNX Runtime), a stride-2 stem then four
  max-pool levels (to 1/32), bilinear upsampling and concatenated skips, the deepest level dilated
  (rate 2); the full-resolution work is only the final bilinear upsample of the logits.

Every size is exportable to ONNX opset 17 (bilinear ``interpolate`` to the skip's size, no
data-dependent control flow) and fits the 5 ms p99 segmenter budget on a 2-core CPU (see
benchmarks/seg_check.py).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rtecho.models.layers import init_weights
from rtecho.models.registry import register_model

#: Labels of every segmenter here: channel 0 background, channel 1 the LV cavity.
LV_LABELS = ("background", "LV")


class ConvBNReLU(nn.Sequential):
    """Conv2d (no bias, 'same' padding for odd kernels, optional dilation) -> BatchNorm -> ReLU."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        k: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        act: bool = True,
    ) -> None:
        pad = dilation * (k // 2)
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, k, stride, pad, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class SepConv(nn.Sequential):
    """Depthwise 3x3 (stride, dilation) -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__(
            ConvBNReLU(c_in, c_in, 3, stride, groups=c_in, dilation=dilation),
            ConvBNReLU(c_in, c_out, 1),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> depthwise 3x3 (stride, dilation) -> 1x1 project (+ x when shapes match)."""

    def __init__(self, c_in: int, c_out: int, expansion: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        mid = c_in * expansion
        layers: list[nn.Module] = [] if expansion == 1 else [ConvBNReLU(c_in, mid, 1)]
        layers += [
            ConvBNReLU(mid, mid, 3, stride, groups=mid, dilation=dilation),
            ConvBNReLU(mid, c_out, 1, act=False),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: 1x1, separable 3x3 at each rate, image pooling; concat -> 1x1."""

    def __init__(self, c_in: int, c_out: int, rates: tuple[int, ...] = (2, 4, 6)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [ConvBNReLU(c_in, c_out, 1)] + [SepConv(c_in, c_out, 1, r) for r in rates]
        )
        self.pool = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.ReLU(inplace=True))
        self.project = ConvBNReLU(c_out * (len(rates) + 2), c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [b(x) for b in self.branches]
        feats.append(self.pool(x.mean(dim=(2, 3), keepdim=True)).expand_as(feats[0]))
        return self.project(torch.cat(feats, dim=1))


def _up(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class LVSegASPP(nn.Module):
    """MobileNetV2-like encoder (output stride 8, dilated last stage) + ASPP + a 1/4 and 1/2 decoder.

    ``expansion``: the inverted residuals' expansion; ``dilated``: blocks of the dilated 1/8 stage
    (1-3); ``dec4``/``low4``: channels of the 1/4 decoder and of its skip; ``half=False``: no 1/2
    decoder, the 1/4 logits are upsampled to the input (DeepLabV3's single bilinear upsample; ``lvseg_lite``).
    """

    def __init__(
        self,
        num_classes: int = 2,
        in_chans: int = 1,
        width: int = 16,
        aspp: int = 64,
        expansion: int = 4,
        dilated: int = 3,
        dec4: int = 48,
        low4: int = 24,
        half: bool = True,
    ) -> None:
        super().__init__()
        w, e = width, expansion
        if not 1 <= dilated <= 3:
            raise ValueError(f"dilated must be 1..3 blocks, got {dilated}")
        self.stem = ConvBNReLU(in_chans, w, 3, 2)  # 1/2
        self.s2 = InvertedResidual(w, w, 1)
        self.s4 = nn.Sequential(
            InvertedResidual(w, 3 * w // 2, e, 2), InvertedResidual(3 * w // 2, 3 * w // 2, e)
        )
        self.s8 = nn.Sequential(
            InvertedResidual(3 * w // 2, 2 * w, e, 2),
            InvertedResidual(2 * w, 2 * w, e),
            InvertedResidual(2 * w, 2 * w, e),
        )
        rates = (2, 2, 4)[:dilated]
        self.s8d = nn.Sequential(
            InvertedResidual(2 * w, 4 * w, e, 1, rates[0]),
            *(InvertedResidual(4 * w, 4 * w, e, 1, r) for r in rates[1:]),
        )
        self.aspp = ASPP(4 * w, aspp)
        self.low4 = ConvBNReLU(3 * w // 2, low4, 1)
        self.dec4 = SepConv(aspp + low4, dec4)
        self.half = half
        if half:
            self.low2 = ConvBNReLU(w, 16, 1)
            self.dec2 = SepConv(dec4 + 16, 24)
        self.classifier = nn.Conv2d(24 if half else dec4, num_classes, 1)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f2 = self.s2(self.stem(x))
        f4 = self.s4(f2)
        y = self.aspp(self.s8d(self.s8(f4)))
        y = self.dec4(torch.cat([_up(y, f4), self.low4(f4)], dim=1))
        if self.half:
            y = self.dec2(torch.cat([_up(y, f2), self.low2(f2)], dim=1))
        return _up(self.classifier(y), x)


class DoubleConv(nn.Sequential):
    """U-Net double convolution: two 3x3 conv-BN-ReLU, dense or depthwise-separable (``SepConv``)."""

    def __init__(self, c_in: int, c_out: int, dilation: int = 1, separable: bool = False) -> None:
        if separable:
            super().__init__(SepConv(c_in, c_out, 1, dilation), SepConv(c_out, c_out, 1, dilation))
        else:
            super().__init__(
                ConvBNReLU(c_in, c_out, 3, dilation=dilation), ConvBNReLU(c_out, c_out, 3, dilation=dilation)
            )


class LVSegUNet(nn.Module):
    """U-Net: stride-2 stem, ``depth`` (maxpool, double conv) levels, bilinear up + skip concat."""

    def __init__(
        self, num_classes: int = 2, in_chans: int = 1, width: int = 16, depth: int = 4, separable: bool = True
    ) -> None:
        super().__init__()
        chans = [width * 2**i for i in range(depth + 1)]
        sep = separable
        self.stem = nn.Sequential(
            ConvBNReLU(in_chans, chans[0], 3, 2), DoubleConv(chans[0], chans[0], 1, sep)
        )  # 1/2
        self.down = nn.ModuleList(
            DoubleConv(chans[i], chans[i + 1], 2 if i == depth - 1 else 1, sep) for i in range(depth)
        )
        self.up = nn.ModuleList(
            DoubleConv(chans[i + 1] + chans[i], chans[i], 1, sep) for i in reversed(range(depth))
        )
        self.classifier = nn.Conv2d(chans[0], num_classes, 1)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        y = skips.pop()
        for block in self.up:
            skip = skips.pop()
            y = block(torch.cat([_up(y, skip), skip], dim=1))
        return _up(self.classifier(y), x)


@register_model(
    input_size_hw=(112, 112), architecture="lvseg_aspp", num_classes=2, task="segmentation", labels=LV_LABELS
)
def lvseg_aspp(num_classes: int = 2, in_chans: int = 1, **kw: Any) -> LVSegASPP:
    """DeepLabV3+-style LV segmenter on a MobileNetV2-like encoder, 112x112 grey (0.18M parameters, 0.11 GFLOPs)."""
    return LVSegASPP(num_classes, in_chans, **kw)


@register_model(
    input_size_hw=(112, 112), architecture="lvseg_lite", num_classes=2, task="segmentation", labels=LV_LABELS
)
def lvseg_lite(num_classes: int = 2, in_chans: int = 1, **kw: Any) -> LVSegASPP:
    """DeepLabV3-style LV segmenter: ``lvseg_aspp``'s encoder slimmed (expansion 3, two dilated blocks),
    a 48-channel ASPP, one 1/4 decoder and the logits upsampled 4x (0.10M parameters; about half
    ``lvseg_aspp``'s latency on ONNX Runtime)."""
    cfg = {"aspp": 48, "expansion": 3, "dilated": 2, "dec4": 32, "low4": 16, "half": False} | kw
    return LVSegASPP(num_classes, in_chans, **cfg)


@register_model(
    input_size_hw=(112, 112), architecture="lvseg_unet", num_classes=2, task="segmentation", labels=LV_LABELS
)
def lvseg_unet(num_classes: int = 2, in_chans: int = 1, **kw: Any) -> LVSegUNet:
    """Depthwise-separable U-Net LV segmenter, 112x112 grey (0.24M parameters, 0.05 GFLOPs)."""
    return LVSegUNet(num_classes, in_chans, **kw)
