"""The beat tracker against a segmenter's faults: single bad frames, boundary noise, smoothing bias of EF."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.cardiac import TrackerConfig, track_clip
from rtecho.cardiac.curve import local_fit, outlier, period, triangle
from rtecho.cardiac.score import score_beats
from tests.cardiac.test_beats import _areas, _curve


def _score(areas, t, fill, config=None):
    beats, tracker = track_clip(areas, t, lengths=np.full(len(t), 70.0), config=config)
    return score_beats([(b.ed_index, b.es_index) for b in beats], fill), beats, tracker


def _with_outliers(areas: np.ndarray, fps: float, hr: float) -> np.ndarray:
    """One bad frame per beat, at a different phase each time: a lost half of the cavity or a joined atrium."""
    out = areas.copy()
    per = fps * 60.0 / hr
    for k, (phase, factor) in enumerate(
        [(0.85, 1.6), (0.4, 0.5), (0.95, 1.6), (0.6, 0.5), (0.1, 0.5), (0.8, 1.6)]
    ):
        out[int(round((k + 1 + phase) * per))] *= factor
    return out


def test_single_frame_outliers_make_no_spurious_beat():
    fps, hr = 30.0, 75.0
    t = np.arange(0, 8, 1 / fps)
    fill = _curve(t, 60.0 / hr)
    bad = _with_outliers(_areas(fill), fps, hr)
    sc, beats, _ = _score(bad, t, fill)
    assert sc.true_beats >= 8 and sc.found == sc.true_beats and sc.spurious == 0
    off, _, _ = _score(bad, t, fill, TrackerConfig(outlier_rel=0.0))  # the same tracker without the test
    assert off.spurious > 0 and off.found < off.true_beats


def _noisy(t: np.ndarray, fill: np.ndarray, seed: int) -> np.ndarray:
    """A weak heart (area shortening 20 %) under 1 % area noise per frame: 5 % of the beat's amplitude."""
    return _areas(fill, 1200.0, 960.0) * (1 + np.random.default_rng(seed).normal(0, 0.01, len(t)))


@pytest.mark.parametrize("seed", range(6))
def test_boundary_noise_makes_no_spurious_beat(seed):
    fps, hr = 40.0, 64.0
    t = np.arange(0, 10, 1 / fps)
    fill = _curve(t, 60.0 / hr)
    sc, beats, tracker = _score(_noisy(t, fill, seed), t, fill)
    assert sc.true_beats >= 9 and sc.spurious == 0 and sc.found == sc.true_beats
    assert tracker.heart_rate == pytest.approx(hr, rel=0.05)


def test_narrow_smoothing_is_not_enough_for_that_noise():
    fps, hr = 40.0, 64.0
    t = np.arange(0, 10, 1 / fps)
    fill = _curve(t, 60.0 / hr)
    cfg = TrackerConfig(smooth_s=0.02, es_plateau_k=0.0)
    spurious = [_score(_noisy(t, fill, seed), t, fill, cfg)[0].spurious for seed in range(6)]
    assert sum(spurious) >= 3  # what the defaults above are measured against


def test_ef_from_local_fits_keeps_the_extremes():
    """Noiseless: EF from the fits at ED and ES is the curve's; window means would bias it low."""
    fps, hr = 30.0, 60.0
    t = np.arange(0, 8, 1 / fps)
    eda, esa = 1200.0, 700.0
    truth = 100.0 * (1 - (esa / eda) ** 2)  # area-length with a constant long axis: V ~ A^2
    areas = _areas(_curve(t, 60.0 / hr), eda, esa)
    _, beats, tracker = _score(areas, t, _curve(t, 60.0 / hr))
    assert len(beats) >= 5
    assert all(abs(b.ef_area_length - truth) < 1.0 for b in beats)
    means = TrackerConfig(extreme_deg=0)  # the window mean over +-extreme_s
    _, beats0, _ = _score(areas, t, _curve(t, 60.0 / hr), means)
    assert np.mean([b.ef_area_length for b in beats0]) < truth - 2.0


def test_smoothing_narrows_for_a_fast_heart():
    fps, hr = 80.0, 130.0
    t = np.arange(0, 6, 1 / fps)
    fill = _curve(t, 60.0 / hr)
    sc, _, _ = _score(_areas(fill), t, fill)
    assert sc.found == sc.true_beats and sc.spurious == 0
    fixed, _, _ = _score(_areas(fill), t, fill, TrackerConfig(smooth_rr=0.0))  # +-smooth_s throughout
    assert fixed.spurious > 0


def test_curve_helpers():
    assert outlier(50.0, [100.0, 50.0, 101.0], 0.15) and not outlier(95.0, [100.0, 95.0, 101.0], 0.15)
    assert not outlier(50.0, [100.0, 50.0], 0.15)  # too few frames to judge
    tt = np.linspace(-0.1, 0.1, 7)
    v = 10 - 300 * (tt - 0.02) ** 2
    assert local_fit(tt, v, 0.0) == pytest.approx(10 - 300 * 0.02**2)
    assert local_fit(tt, v, 0.0, extreme=1) == pytest.approx(10.0, abs=0.01)
    assert np.isnan(local_fit([0.0], [np.nan], 0.0))
    np.testing.assert_allclose(triangle([0.0, 0.05], 0.05), [1.0, 1 - 0.05 / 0.051])
    rng = np.random.default_rng(0)
    ts = np.sort(rng.choice(np.arange(0, 3, 1 / 40), 100, replace=False))  # dropped frames
    assert period(ts, np.cos(2 * np.pi * ts / 0.7), 0.3, 2.0) == pytest.approx(0.7, abs=0.03)
    assert period(ts, rng.normal(size=ts.size), 0.3, 2.0) is None
    assert period(ts[:10], ts[:10], 0.3, 2.0) is None
