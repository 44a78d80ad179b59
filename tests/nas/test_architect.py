"""The architect's hypergradients against autograd references (float64, tiny search network)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.func import functional_call  # noqa: E402

from rtecho.nas.architect import Architect  # noqa: E402
from rtecho.nas.search_cnn import SearchCNN  # noqa: E402

XI, MU, WD = 0.05, 0.9, 3e-4


def _smooth(module: torch.nn.Module) -> None:
    """Swap ReLU -> Tanh and max -> avg pooling: the finite difference is exact only up to O(eps^2)
    where the loss is smooth; a ReLU kink within eps of a unit makes grad_a L jump (not a bug)."""
    for name, child in module.named_children():
        if isinstance(child, torch.nn.ReLU):
            setattr(module, name, torch.nn.Tanh())
        elif isinstance(child, torch.nn.MaxPool2d):
            setattr(module, name, torch.nn.AvgPool2d(3, child.stride, 1, count_include_pad=False))
        else:
            _smooth(child)


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    net = SearchCNN(
        c_in=1, c=2, n_classes=3, n_layers=3, n_nodes=2, stem_multiplier=2, stem_stride=1
    ).double()
    _smooth(net)
    with torch.no_grad():
        for a in net.alphas():
            a.normal_(0.0, 0.5)  # away from uniform so that the alpha gradients are not tiny
    trn = (torch.randn(4, 1, 6, 6, dtype=torch.float64), torch.randint(0, 3, (4,)))
    val = (torch.randn(4, 1, 6, 6, dtype=torch.float64), torch.randint(0, 3, (4,)))
    w_optim = torch.optim.SGD(net.weights(), lr=XI, momentum=MU, weight_decay=WD)
    # one real step so that the optimizer holds momentum buffers the virtual step must use
    w_optim.zero_grad()
    net.loss(*trn).backward()
    w_optim.step()
    return net, trn, val, w_optim


def _reference(net, trn, val, w_optim) -> list:
    """d/da L_val(w'(a), a), w'(a) = w - xi (mu m + grad_w L_trn(w, a) + wd w): double backward."""
    names_w = [n for n, _ in net.named_weights()]
    names_a = [n for n, _ in net.named_alphas()]
    w = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_weights()}
    a = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_alphas()}
    buffers = {n: b.clone() for n, b in net.named_buffers()}

    def loss(params: dict, batch) -> torch.Tensor:
        return net.criterion(functional_call(net, {**params, **buffers}, (batch[0],)), batch[1])

    g = torch.autograd.grad(
        loss({**w, **a}, trn), [w[n] for n in names_w], create_graph=True, allow_unused=True
    )
    w_new = {}
    for n, gn, p in zip(names_w, g, net.weights(), strict=True):
        m = w_optim.state[p]["momentum_buffer"]
        gn = torch.zeros_like(w[n]) if gn is None else gn
        w_new[n] = w[n] - XI * (MU * m + gn + WD * w[n])
    out = torch.autograd.grad(loss({**w_new, **a}, val), [a[n] for n in names_a], allow_unused=True)
    return [torch.zeros_like(a[n]) if o is None else o for n, o in zip(names_a, out, strict=True)]


def test_second_order_matches_double_backward():
    # seed 1: ||dL_val/dw'|| is about 2.2 here; near 1 (seed 0) a wrongly scaled eps would go unnoticed
    net, trn, val, w_optim = _setup(1)
    ref = _reference(net, trn, val, w_optim)
    first = [g.clone() for g in Architect(net, first_order=True).backward(*trn, *val, xi=XI)]
    before = [p.detach().clone() for p in net.weights()]
    got = Architect(net, w_momentum=MU, w_weight_decay=WD).backward(*trn, *val, xi=XI, w_optim=w_optim)
    for r, f, g, a in zip(ref, first, got, net.alphas(), strict=True):
        # the second-order correction (ref - first order) must be reproduced to 1 part in 100
        correction = (r - f).abs().max()
        assert correction > 1e-4
        assert (g - r).abs().max() < 1e-2 * correction, ((g - r).abs().max(), correction)
        assert torch.equal(a.grad, g)
    # the finite difference perturbs the weights in place: they must be restored
    for b, p in zip(before, net.weights(), strict=True):
        assert torch.allclose(b, p, atol=1e-12)


def test_finite_difference_hvp_matches_autograd():
    net, trn, val, w_optim = _setup(4)
    arch = Architect(net, w_momentum=MU, w_weight_decay=WD)
    dw = [torch.randn_like(p) for p in net.weights()]
    alphas, weights = list(net.alphas()), list(net.weights())
    gw = torch.autograd.grad(net.loss(*trn), weights, create_graph=True, allow_unused=True)
    dot = sum((g * d).sum() for g, d in zip(gw, dw, strict=True) if g is not None)
    exact = torch.autograd.grad(dot, alphas)
    fd = arch.hessian_vector_product(dw, *trn)
    for e, f in zip(exact, fd, strict=True):
        assert e.abs().max() > 1e-4
        assert torch.allclose(f, e, rtol=1e-3, atol=1e-3 * float(e.abs().max()))


def test_first_order_is_plain_val_gradient():
    net, trn, val, _ = _setup(3)
    expected = torch.autograd.grad(net.loss(*val), list(net.alphas()))
    got = Architect(net, first_order=True).backward(*trn, *val, xi=XI)
    for e, g in zip(expected, got, strict=True):
        assert torch.allclose(e, g, rtol=1e-10, atol=1e-12)
