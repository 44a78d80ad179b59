"""Parameter and FLOP counts for the model card (FLOPs = 2 x multiply-accumulates of convs and linears)."""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module, include_aux: bool = True) -> int:
    """Number of parameters; ``include_aux=False`` leaves out auxiliary heads (names containing 'aux')."""
    return sum(p.numel() for n, p in model.named_parameters() if include_aux or "aux" not in n)


def count_flops(model: nn.Module, size_hw: tuple[int, int], in_chans: int = 1) -> int:
    """FLOPs of one eval-mode forward at ``size_hw`` (2 x MACs of Conv2d and Linear layers).

    >>> from rtecho.models import create_model
    >>> count_flops(create_model("stanet"), (128, 128)) > 0
    True
    """
    macs = 0

    def conv_hook(mod: nn.Conv2d, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal macs
        k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
        macs += out.numel() // out.shape[0] * k

    def linear_hook(mod: nn.Linear, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal macs
        macs += out.numel() // out.shape[0] * mod.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_chans, *size_hw))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return 2 * macs
