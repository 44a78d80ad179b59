"""Calibrated confidence and unknown-view rejection: temperature scaling, ECE, rejection thresholds.

Temperature scaling (Guo et al. 2017): calibrated probabilities are ``softmax(z / T)``; ``T`` minimises
the mean negative log-likelihood on validation logits ``z`` with labels ``y``,

    NLL(T) = mean_i [ logsumexp(z_i / T) - z_{i, y_i} / T ],

a 1-D problem solved by golden-section search on ``log T`` in [log 0.05, log 20] (NLL is convex in
1/T, hence unimodal in log T). Expected calibration error with B equal-width confidence bins:

    ECE = sum_b (n_b / n) |accuracy_b - confidence_b|.

Rejection: a frame is ``unknown`` when its calibrated top probability is below ``conf_threshold``
or its entropy is above ``entropy_threshold``; both are chosen on validation data so that a
``keep`` fraction (0.95) of the correctly classified in-distribution frames is kept.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 3, 600)
>>> z = 6.0 * (np.eye(3)[y] + rng.normal(0, 0.6, (600, 3)))   # over-confident logits
>>> cal = fit_calibration(z, y)
>>> cal.temperature > 1.0, cal.ece_after < cal.ece_before
(True, True)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from rtecho.card import ConfidenceCalibration, ModelCard
from rtecho.runtime.preprocess import softmax

_GOLDEN = (math.sqrt(5) - 1) / 2


def softmax_t(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (float64)."""
    return softmax(np.asarray(logits, np.float64), temperature=temperature)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    z = np.asarray(logits, np.float64) / temperature
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(lse - z[np.arange(len(z)), labels]))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 20.0, tol: float = 1e-4
) -> float:
    """The temperature minimising :func:`nll` (golden-section search on log T)."""
    logits, labels = _check(logits, labels)
    a, b = math.log(lo), math.log(hi)
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = nll(logits, labels, math.exp(c)), nll(logits, labels, math.exp(d))
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = nll(logits, labels, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = nll(logits, labels, math.exp(d))
    return math.exp((a + b) / 2)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE of the top-class confidence over ``n_bins`` equal-width bins."""
    probs = np.asarray(probabilities, np.float64)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=-1)


def choose_thresholds(
    probabilities: np.ndarray, labels: np.ndarray, keep: float = 0.95
) -> tuple[float, float]:
    """(conf_threshold, entropy_threshold) keeping a ``keep`` fraction of the correct predictions.

    The two single-test quantiles are searched jointly: both tests use the same per-test quantile
    ``q``, lowered until the frames passing both reach ``keep``.
    """
    probs = np.asarray(probabilities, np.float64)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    if not correct.any():
        raise ValueError("no correct predictions to choose rejection thresholds from")
    conf, ent = probs.max(axis=1)[correct], entropy(probs)[correct]
    for q in np.linspace(1 - keep, 0.0, 51):
        ct, et = float(np.quantile(conf, q)), float(np.quantile(ent, 1 - q))
        if ((conf >= ct) & (ent <= et)).mean() >= keep:
            return ct, et
    return float(conf.min()), float(ent.max())


@dataclass(frozen=True)
class Calibration(ConfidenceCalibration):
    """The card's ``calibration`` section (temperature, rejection thresholds, validated on load by
    :class:`rtecho.card.ConfidenceCalibration`) with the maths that applies it."""

    def apply(self, logits: np.ndarray) -> tuple[np.ndarray, bool]:
        """Calibrated probabilities (float32) of one logit vector and whether the frame is accepted."""
        p = softmax_t(logits, self.temperature)
        accepted = bool(p.max() >= self.conf_threshold and entropy(p) <= self.entropy_threshold)
        return p.astype(np.float32), accepted

    def accept(self, probabilities: np.ndarray) -> np.ndarray:
        """Boolean accept mask for rows of calibrated probabilities."""
        p = np.asarray(probabilities)
        return (p.max(axis=-1) >= self.conf_threshold) & (entropy(p) <= self.entropy_threshold)

    def to_card(self, card: ModelCard) -> ModelCard:
        """A copy of ``card`` with this calibration as its ``calibration`` section."""
        return dataclasses.replace(card, calibration=self)

    @classmethod
    def from_card(cls, card: ModelCard) -> Calibration | None:
        """The calibration stored in ``card``, or None."""
        section = card.calibration
        return None if section is None else cls.from_dict(section.to_dict())


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z, y = np.asarray(logits, np.float64), np.asarray(labels, np.int64)
    if z.ndim != 2 or y.shape != (len(z),) or len(z) == 0:
        raise ValueError(f"need logits (N, K) and labels (N,), got {z.shape} and {y.shape}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError("labels out of range of the logits' classes")
    return z, y


def fit_calibration(
    logits: np.ndarray, labels: np.ndarray, keep: float = 0.95, n_bins: int = 15
) -> Calibration:
    """Fit the temperature and choose rejection thresholds on validation logits and labels."""
    z, y = _check(logits, labels)
    t = fit_temperature(z, y)
    before, after = softmax_t(z), softmax_t(z, t)
    ct, et = choose_thresholds(after, y, keep)
    return Calibration(
        temperature=t,
        conf_threshold=ct,
        entropy_threshold=et,
        ece_before=expected_calibration_error(before, y, n_bins),
        ece_after=expected_calibration_error(after, y, n_bins),
        n_val=len(y),
    )
