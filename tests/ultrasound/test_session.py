"""View changes on rendered scanning sessions through the real pipeline with the trained model.

A session walks through six views (beating cine loops, 2-3 s each at 30 fps) with 0.5 s searching
transitions (cross-fades through off-axis frames); it runs through ``StreamProcessor`` with the
ultrasound stages and ``engines/stanet.onnx``, calibrated on held-out simulator stills (seed 404;
the model was trained on seed 101, validated on 202, tested on 303). The calibration is fitted here
and passed in: the model card is not modified.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtecho.ultrasound.calibration import expected_calibration_error, fit_calibration, softmax_t
from tests.ultrasound.session import render_session, score_events, session_events, still_logits

ENGINE = Path(__file__).resolve().parents[2] / "engines" / "stanet.onnx"


@pytest.fixture(scope="module")
def engine():
    if not ENGINE.exists():
        pytest.skip(f"trained model {ENGINE} not present")
    from rtecho.runtime import load_engine

    return load_engine(str(ENGINE))


@pytest.fixture(scope="module")
def calibration(engine):
    return fit_calibration(*still_logits(engine, np.random.default_rng(404), 12))


def _check(events, truth):
    delays, spurious = score_events(events, truth)
    assert spurious == 0, f"spurious changes: {[(e.to_label, round(e.timestamp, 2)) for e in events]}"
    assert all(d is not None for d in delays), f"missed views: {truth} vs {events}"
    assert all(-0.5 <= d <= 0.5 for d in delays)
    assert events[0].from_label is None
    return delays


def test_session_view_changes_match_truth(engine, calibration):
    frames, times, truth = render_session(np.random.default_rng(1234))
    events = session_events(engine, frames, times, calibration)
    assert [e.to_label for e in events] == [v for v, _ in truth]
    _check(events, truth)


def test_calibration_keeps_correct_heldout_stills(engine, calibration):
    # the rejection thresholds keep most correct predictions on other held-out stills, fewer wrong ones
    z, y = still_logits(engine, np.random.default_rng(4321), 6)
    p = softmax_t(z, calibration.temperature)
    correct = p.argmax(1) == y
    assert calibration.accept(p[correct]).mean() >= 0.85
    # wrong answers are less confident; their acceptance rate is only compared when there are a few
    assert p[~correct].max(1).mean() < p[correct].max(1).mean()
    if (~correct).sum() >= 5:
        assert calibration.accept(p[~correct]).mean() < calibration.accept(p[correct]).mean()


@pytest.mark.slow
def test_many_sessions_and_heldout_ece(engine, calibration):
    delays = []
    for seed in range(2000, 2006):
        frames, times, truth = render_session(np.random.default_rng(seed))
        delays += _check(session_events(engine, frames, times, calibration), truth)
    assert np.median(delays) <= 0.3
    z, y = still_logits(engine, np.random.default_rng(505), 20)
    after = expected_calibration_error(softmax_t(z, calibration.temperature), y)
    assert after <= 0.05
