from __future__ import annotations

import math

import numpy as np
import pytest

from rtecho.types import ModelCard
from rtecho.ultrasound.calibration import (
    Calibration,
    entropy,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    nll,
    softmax_t,
)


def _logits(rng, n, k=5, scale=6.0):
    y = rng.integers(0, k, n)
    z = scale * (np.eye(k)[y] + rng.normal(0, 0.7, (n, k)))
    return z, y


@pytest.mark.parametrize("scale", [0.8, 6.0])
def test_temperature_lowers_held_out_ece(scale):
    rng = np.random.default_rng(0)
    cal = fit_calibration(*_logits(rng, 2000, scale=scale))
    z, y = _logits(rng, 2000, scale=scale)
    before = expected_calibration_error(softmax_t(z), y)
    after = expected_calibration_error(softmax_t(z, cal.temperature), y)
    assert after < before
    assert (cal.temperature > 1) == (scale > 1.5)


def test_temperature_minimises_nll():
    z, y = _logits(np.random.default_rng(1), 1000)
    t = fit_temperature(z, y)
    assert nll(z, y, t) <= min(nll(z, y, t * 1.05), nll(z, y, t / 1.05))


def test_thresholds_keep_correct_and_reject_ood():
    rng = np.random.default_rng(2)
    z, y = _logits(rng, 2000)
    cal = fit_calibration(z, y, keep=0.95)
    zt, yt = _logits(rng, 2000)
    p = softmax_t(zt, cal.temperature)
    correct = p.argmax(1) == yt
    assert cal.accept(p[correct]).mean() >= 0.92
    ood = softmax_t(rng.normal(0, 2.0, (1000, 5)), cal.temperature)  # off-axis: no class stands out
    assert (~cal.accept(ood)).mean() >= 0.7
    probs, ok = cal.apply(zt[0])
    assert probs.dtype == np.float32 and isinstance(ok, bool)
    assert entropy(np.full(4, 0.25)) == pytest.approx(math.log(4))


def test_card_roundtrip(tmp_path):
    card = ModelCard("m", "x", ("A2C", "A4C"), (32, 32))
    cal = Calibration(1.7, 0.5, 0.6, 0.1, 0.02, 100)
    card2 = cal.to_card(card)
    path = card2.save(tmp_path / "m.json")
    assert Calibration.from_card(ModelCard.load(path)) == cal
    assert Calibration.from_card(card) is None
    assert Calibration.from_dict(Calibration().to_dict()).entropy_threshold == math.inf


def test_bad_inputs():
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((3,)), np.array([0, 1, 1]))
