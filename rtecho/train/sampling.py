"""Class-balanced sampling and online batch selection (Azarmehr et al. 2021).

Class-balanced sampling draws item ``i`` of class ``c(i)`` with probability
``w_i = 1 / (K * n_{c(i)})``, where ``K`` is the number of classes present and ``n_c`` the count of
class ``c``: every class is drawn with probability ``1/K`` whatever its frequency.

Online batch selection (Azarmehr et al., "Neural architecture search of echocardiography view
classifiers", J. Med. Imaging 8(3):034002, 2021, after Loshchilov & Hutter 2015): draw a candidate
batch ``C`` of ``m = r * b`` items (``r >= 1``), compute each item's loss
``l_i = CE(f_theta(x_i), y_i)`` without gradients, keep the ``b`` hardest,
``S = argtop_b { l_i : i in C }``, and take the gradient step on ``(1/b) sum_{i in S} l_i`` only.
Easy, already-learnt items stop dominating the gradient; ``r = 1`` is ordinary training.

>>> select_hardest([0.1, 2.0, 0.5, 3.0], 2).tolist()
[3, 1]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler


def class_balanced_weights(targets: Sequence[int]) -> np.ndarray:
    """Per-item sampling probabilities ``1 / (K * n_class)``; they sum to 1."""
    t = np.asarray(targets, dtype=np.int64)
    if t.size == 0:
        raise ValueError("no targets to balance")
    classes, counts = np.unique(t, return_counts=True)
    per_class = dict(zip(classes.tolist(), counts.tolist(), strict=True))
    w = np.array([1.0 / (len(classes) * per_class[c]) for c in t.tolist()])
    return w / w.sum()


class ClassBalancedSampler(Sampler[int]):
    """Draws ``num_samples`` indices with replacement, every class equally likely; seeded per epoch.

    >>> s = ClassBalancedSampler([0, 0, 0, 1], num_samples=8, seed=0)
    >>> len(list(s))
    8
    """

    def __init__(self, targets: Sequence[int], num_samples: int | None = None, seed: int = 0) -> None:
        self.weights = class_balanced_weights(targets)
        self.num_samples = int(num_samples if num_samples is not None else len(self.weights))
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {self.num_samples}")
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, 17, self.epoch])
        idx = rng.choice(len(self.weights), size=self.num_samples, replace=True, p=self.weights)
        return iter(idx.tolist())


def select_hardest(losses: Sequence[float] | np.ndarray | torch.Tensor, k: int) -> np.ndarray:
    """Indices of the ``k`` largest losses, largest first (ties broken by lower index)."""
    if isinstance(losses, torch.Tensor):
        losses = losses.detach().cpu().numpy()
    arr = np.asarray(losses, dtype=np.float64).ravel()
    if not 1 <= k <= arr.size:
        raise ValueError(f"k must be in [1, {arr.size}], got {k}")
    order = np.argsort(-arr, kind="stable")
    return order[:k]


class OnlineBatchSelector:
    """Keeps the ``batch_size`` highest-loss items of a candidate batch ``ratio`` times larger.

    ``__call__(model, x, y, loss_fn)`` returns the selected ``(x, y)``; ``loss_fn`` must give
    per-item losses (``reduction='none'``). The scoring pass runs without gradients.
    """

    def __init__(self, batch_size: int, ratio: float = 2.0) -> None:
        if ratio < 1.0:
            raise ValueError(f"selection ratio must be >= 1, got {ratio}")
        self.batch_size, self.ratio = int(batch_size), float(ratio)

    @property
    def candidate_size(self) -> int:
        return int(round(self.batch_size * self.ratio))

    def __call__(
        self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[0] <= self.batch_size:
            return x, y
        with torch.no_grad():
            out = model(x)
            logits = out[0] if isinstance(out, tuple | list) else out
            losses = loss_fn(logits, y)
        keep = torch.from_numpy(select_hardest(losses, self.batch_size)).to(x.device)
        return x[keep], y[keep]
