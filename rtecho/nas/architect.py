r"""The DARTS architect: gradients of the validation loss with respect to the alphas.

Bilevel problem: min_a L_val(w*(a), a) with w*(a) = argmin_w L_trn(w, a). DARTS approximates
w*(a) by one SGD step (with the weight optimizer's momentum m and weight decay lambda):

    w' = w - xi * (mu * m + grad_w L_trn(w, a) + lambda * w)

and the hypergradient by the chain rule (m and lambda * w do not depend on a):

    dL/da = grad_a L_val(w', a) - xi * grad^2_{a,w} L_trn(w, a) . dw',    dw' = grad_{w'} L_val(w', a)

The Hessian-vector product is a central finite difference at the ORIGINAL weights w:

    grad^2_{a,w} L_trn(w, a) . dw' ~= (grad_a L_trn(w+, a) - grad_a L_trn(w-, a)) / (2 eps)
    w+- = w +- eps * dw',   eps = 0.01 / ||dw'||

First order (``first_order=True``, or xi = 0) uses grad_a L_val(w, a) alone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn


def _grads(loss: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    # Parameters that do not reach the loss (e.g. alpha_normal in a net of reduction cells only) get zeros.
    gs = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(gs, params, strict=True)]


class Architect:
    """Computes alpha gradients for a network with ``loss(x, y)``, ``weights()`` and ``alphas()``.

    ``backward(...)`` stores the hypergradient in each alpha's ``.grad`` (and returns it); the caller
    then steps its alpha optimizer.
    """

    def __init__(
        self, net: nn.Module, w_momentum: float = 0.9, w_weight_decay: float = 3e-4, first_order: bool = False
    ) -> None:
        self.net = net
        self.w_momentum = w_momentum
        self.w_weight_decay = w_weight_decay
        self.first_order = first_order
        self.v_net = None if first_order else copy.deepcopy(net)

    @torch.no_grad()
    def virtual_step(
        self, trn_x: torch.Tensor, trn_y: torch.Tensor, xi: float, w_optim: torch.optim.Optimizer | None
    ) -> None:
        """Set ``v_net`` weights to w' = w - xi (mu m + grad_w L_trn + lambda w); copy the alphas."""
        weights = list(self.net.weights())
        with torch.enable_grad():
            gradients = _grads(self.net.loss(trn_x, trn_y), weights)
        for w, vw, g in zip(weights, self.v_net.weights(), gradients, strict=True):
            state = w_optim.state.get(w, {}) if w_optim is not None else {}
            m = state.get("momentum_buffer")
            step = g + self.w_weight_decay * w
            if m is not None:
                step = step + self.w_momentum * m
            vw.copy_(w - xi * step)
        for a, va in zip(self.net.alphas(), self.v_net.alphas(), strict=True):
            va.copy_(a)
        # Keep BN running statistics consistent (they do not enter training-mode forwards).
        for b, vb in zip(self.net.buffers(), self.v_net.buffers(), strict=True):
            vb.copy_(b)

    def backward(
        self,
        trn_x: torch.Tensor,
        trn_y: torch.Tensor,
        val_x: torch.Tensor,
        val_y: torch.Tensor,
        xi: float,
        w_optim: torch.optim.Optimizer | None = None,
    ) -> list[torch.Tensor]:
        """Set ``alpha.grad`` to the (first- or second-order) hypergradient; returns the gradients."""
        alphas = list(self.net.alphas())
        if self.first_order or xi == 0:
            dalpha = _grads(self.net.loss(val_x, val_y), alphas)
        else:
            self.virtual_step(trn_x, trn_y, xi, w_optim)
            v_alphas, v_weights = list(self.v_net.alphas()), list(self.v_net.weights())
            v_grads = _grads(self.v_net.loss(val_x, val_y), v_alphas + v_weights)
            dalpha_v, dw = v_grads[: len(v_alphas)], v_grads[len(v_alphas) :]
            hessian = self.hessian_vector_product(dw, trn_x, trn_y)
            dalpha = [da - xi * h for da, h in zip(dalpha_v, hessian, strict=True)]
        for a, g in zip(alphas, dalpha, strict=True):
            a.grad = g.detach().clone()
        return dalpha

    def hessian_vector_product(
        self, dw: Sequence[torch.Tensor], trn_x: torch.Tensor, trn_y: torch.Tensor
    ) -> list[torch.Tensor]:
        """(grad_a L_trn(w + eps dw) - grad_a L_trn(w - eps dw)) / (2 eps), eps = 0.01 / ||dw||, at w."""
        norm = torch.cat([d.reshape(-1) for d in dw]).norm()
        eps = 0.01 / float(norm) if float(norm) > 0 else 0.01
        weights, alphas = list(self.net.weights()), list(self.net.alphas())
        with torch.no_grad():
            for w, d in zip(weights, dw, strict=True):
                w.add_(d, alpha=eps)  # w+ = w + eps dw
        dalpha_pos = _grads(self.net.loss(trn_x, trn_y), alphas)
        with torch.no_grad():
            for w, d in zip(weights, dw, strict=True):
                w.sub_(d, alpha=2 * eps)  # w- = w - eps dw
        dalpha_neg = _grads(self.net.loss(trn_x, trn_y), alphas)
        with torch.no_grad():
            for w, d in zip(weights, dw, strict=True):
                w.add_(d, alpha=eps)  # back to w
        return [(p - n) / (2 * eps) for p, n in zip(dalpha_pos, dalpha_neg, strict=True)]
