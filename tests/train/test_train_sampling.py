"""Class-balanced sampling and online batch selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rtecho.train.sampling import (
    ClassBalancedSampler,
    OnlineBatchSelector,
    class_balanced_weights,
    select_hardest,
)


def test_weights_give_each_class_equal_mass():
    targets = [0] * 90 + [1] * 9 + [2]
    w = class_balanced_weights(targets)
    t = np.asarray(targets)
    assert w.sum() == pytest.approx(1.0)
    for c in range(3):
        assert w[t == c].sum() == pytest.approx(1 / 3)


def test_sampler_balances_an_imbalanced_set_and_is_seeded():
    targets = [0] * 95 + [1] * 5
    s = ClassBalancedSampler(targets, num_samples=4000, seed=3)
    drawn = np.asarray(targets)[list(s)]
    frac = (drawn == 1).mean()
    assert 0.45 < frac < 0.55  # unbalanced sampling would give 0.05
    assert list(s) == list(ClassBalancedSampler(targets, num_samples=4000, seed=3))
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first


def test_select_hardest_picks_highest_losses():
    losses = [0.2, 5.0, 0.1, 3.0, 4.0]
    assert select_hardest(losses, 3).tolist() == [1, 4, 3]
    assert select_hardest(torch.tensor(losses), 1).tolist() == [1]
    with pytest.raises(ValueError):
        select_hardest(losses, 0)


class _Lookup(nn.Module):
    """Logits that make item i's loss grow with the value x[i, 0]: a known loss ordering."""

    def forward(self, x):
        v = x[:, 0]
        return torch.stack([-v, v], dim=1)  # target 0: CE grows with v


def test_online_selector_keeps_the_highest_loss_items():
    x = torch.tensor([[0.1], [2.0], [-1.0], [3.0], [0.5], [1.0]])
    y = torch.zeros(6, dtype=torch.long)
    sel = OnlineBatchSelector(batch_size=2, ratio=3.0)
    assert sel.candidate_size == 6
    xs, ys = sel(_Lookup(), x, y, nn.CrossEntropyLoss(reduction="none"))
    assert sorted(xs[:, 0].tolist()) == [2.0, 3.0]
    assert ys.tolist() == [0, 0]
    with pytest.raises(ValueError):
        OnlineBatchSelector(4, ratio=0.5)
