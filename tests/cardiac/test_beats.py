"""The online beat tracker on area curves: regular, dropped frames, irregular rhythm, noise, gating, flags."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rtecho.cardiac import BeatTracker, LVShape, TrackerConfig, track_clip
from rtecho.cardiac.score import score_beats
from rtecho.errors import FrameError


def _curve(t: np.ndarray, rr: np.ndarray | float, ts_frac: float = 0.35) -> np.ndarray:
    """A fill curve (1 at ED, 0 at ES) with cosine ejection over ts_frac of each RR, slower refill."""
    rrs = np.broadcast_to(np.asarray(rr, float), (64,)) if np.ndim(rr) == 0 else np.asarray(rr, float)
    edges = np.concatenate([[0.0], np.cumsum(rrs)])
    k = np.searchsorted(edges, t, side="right") - 1
    p = (t - edges[k]) / (edges[k + 1] - edges[k])
    return np.where(
        p < ts_frac,
        0.5 * (1 + np.cos(np.pi * p / ts_frac)),
        0.5 * (1 - np.cos(np.pi * (p - ts_frac) / (1 - ts_frac))),
    )


def _areas(fill: np.ndarray, eda: float = 1200.0, esa: float = 800.0) -> np.ndarray:
    return esa + fill * (eda - esa)


def _run(areas, t, idx=None, lengths=None, **kw):
    lengths = np.full(len(t), 70.0) if lengths is None else lengths
    return track_clip(areas, t, lengths=lengths, indices=idx, **kw)


@pytest.mark.parametrize("hr,fps", [(45, 20), (75, 30), (130, 20), (130, 80), (60, 50)])
def test_regular_rhythm_all_beats_within_two_frames(hr, fps):
    t = np.arange(0, 6.8 * 60.0 / hr, 1 / fps)  # ends in diastole: the last ES can be confirmed
    fill = _curve(t, 60.0 / hr)
    beats, tracker = _run(_areas(fill), t)
    sc = score_beats([(b.ed_index, b.es_index) for b in beats], fill)
    assert sc.true_beats >= 3 and sc.found == sc.true_beats and sc.spurious == 0
    assert tracker.heart_rate == pytest.approx(hr, rel=0.05)
    cfg = TrackerConfig()  # bounded lag: the rise by h, plus the smoothing and outlier windows
    assert all(b.emitted_time - b.es_time < 0.5 * 60 / hr + cfg.smooth_s + cfg.outlier_s for b in beats)


def test_a_beat_is_stamped_with_the_frame_that_returns_it():
    t = np.arange(0, 5, 1 / 30)
    tracker, seen = BeatTracker(), []
    for i, a in enumerate(_areas(_curve(t, 0.8))):
        seen += [(i, b) for b in tracker.update(a, 70.0, i, float(t[i]))]
    assert len(seen) >= 4 and all(b.emitted_index == i and b.emitted_time == t[i] for i, b in seen)
    assert all(b.emitted_time - b.es_time >= TrackerConfig().smooth_s for _, b in seen)


def test_dropped_frames_use_timestamps():
    fps, hr = 50.0, 80.0
    t = np.arange(0, 6, 1 / fps)
    fill = _curve(t, 60.0 / hr)
    rng = np.random.default_rng(1)
    keep = rng.random(len(t)) > 0.25  # a quarter of the frames lost
    keep[100:104] = False
    idx = np.flatnonzero(keep)
    beats, tracker = _run(_areas(fill)[idx], t[idx], idx=idx)
    sc = score_beats([(b.ed_index, b.es_index) for b in beats], fill)
    assert sc.found >= sc.true_beats - 1 and sc.spurious == 0
    assert tracker.heart_rate == pytest.approx(hr, rel=0.05)


def test_irregular_rhythm():
    rng = np.random.default_rng(2)
    rr = rng.uniform(0.45, 1.3, 20)  # 46-133 /min beat to beat
    fps = 40.0
    t = np.arange(0, 10, 1 / fps)
    fill = _curve(t, rr)
    beats, _ = _run(_areas(fill), t)
    sc = score_beats([(b.ed_index, b.es_index) for b in beats], fill)
    assert sc.found >= 0.95 * sc.true_beats and sc.spurious == 0


def test_noise_and_fast_wiggles_make_no_spurious_beat():
    rng = np.random.default_rng(3)
    fps = 60.0
    t = np.arange(0, 8, 1 / fps)
    fill = _curve(t, 0.9)
    areas = _areas(fill) * (1 + rng.normal(0, 0.01, len(t)))
    areas += 60 * np.sin(2 * np.pi * 12 * t)  # 12 Hz ripple: faster than 200 /min
    beats, _ = _run(areas, t, config=TrackerConfig(smooth_s=0.03))
    sc = score_beats([(b.ed_index, b.es_index) for b in beats], fill)
    assert sc.spurious == 0 and sc.found >= sc.true_beats - 1


def test_shorter_than_a_beat_gives_no_beat():
    t = np.arange(0, 0.6, 1 / 30)
    beats, tracker = _run(_areas(_curve(t + 0.5, 1.0)), t)
    assert beats == [] and tracker.running_ef is None


def test_flat_curve_gives_no_beat():
    t = np.arange(0, 4, 1 / 30)
    beats, _ = _run(np.full(len(t), 1000.0) + np.random.default_rng(0).normal(0, 3, len(t)), t)
    assert beats == []


def test_non_apical_view_pauses_and_a_view_change_resets():
    fps = 30.0
    t = np.arange(0, 8, 1 / fps)
    areas = _areas(_curve(t, 0.8))
    views = ["PLAX"] * len(t)
    beats, tracker = _run(areas, t, views=views)
    assert beats == []
    views = ["A4C"] * 120 + ["A2C"] * (len(t) - 120)
    views[60:70] = ["PLAX"] * 10  # a flicker shorter than view_hold_s: neither a pause nor a reset
    beats, tracker = _run(areas, t, views=views)
    assert [n for n in tracker.notes] == ["frame 135: view changed A4C -> A2C; tracker reset"]
    across = [b for b in beats if b.ed_time < t[120] < b.es_time]
    assert all("view_change" in b.quality for b in across)
    assert {b.view for b in beats} == {"A4C", "A2C"}
    assert any(b.ed_index < 60 < 70 < b.es_index or b.ed_index < 70 for b in beats if b.ok)


def test_quality_flags_and_running_ef():
    fps = 30.0
    t = np.arange(0, 8, 1 / fps)
    areas = _areas(_curve(t, 0.8))
    lengths = np.full(len(t), 70.0)
    lengths[110:] = 50.0  # the plane slips off the apex: the long axis shrinks
    conf = np.full(len(t), 0.9)
    beats, tracker = track_clip(areas, t, lengths=lengths, confidences=conf)
    late = [b for b in beats if b.ed_index >= 110]
    assert late and all("foreshortened" in b.quality for b in late)
    assert all(b.ok for b in beats if b.es_index < 110)
    good = [b.ef for b in beats if b.ok][-5:]
    assert tracker.running_ef == pytest.approx(np.mean(good))
    conf[:] = 0.2
    beats, tracker = track_clip(areas, t, lengths=np.full(len(t), 70.0), confidences=conf)
    assert beats and all("low_confidence" in b.quality for b in beats) and tracker.running_ef is None


def test_mask_jump_and_missing_lv_flags():
    fps = 30.0
    t = np.arange(0, 6, 1 / fps)
    areas = _areas(_curve(t, 0.8))

    def shape(i: int) -> LVShape:
        dx = 40.0 if i == 76 else 0.0  # one frame whose mask sits elsewhere
        return LVShape(
            float(areas[i]), 70.0, np.ones(20), (50.0 + dx, 50.0), (50.0 + dx, 15.0), (50.0 + dx, 85.0), 1
        )

    tracker = BeatTracker()
    beats = []
    for i in range(len(t)):
        beats += tracker.update(shape(i), None, i, float(t[i]))
    jumped = [b for b in beats if b.ed_index <= 76 <= b.es_index]
    assert jumped and "mask_jump" in jumped[0].quality
    tracker = BeatTracker()
    beats = []
    for i in range(len(t)):
        beats += tracker.update(0.0 if i == 75 else float(areas[i]), 70.0, i, float(t[i]))
    missing = [b for b in beats if b.ed_index <= 75 <= b.es_index]
    assert missing and "lv_missing" in missing[0].quality


def test_timestamps_must_increase_and_areas_be_valid():
    tracker = BeatTracker()
    tracker.update(100.0, 10.0, 0, 1.0)
    with pytest.raises(FrameError, match="increase"):
        tracker.update(100.0, 10.0, 1, 1.0)
    with pytest.raises(FrameError):
        tracker.update(float("nan"), 10.0, 2, 2.0)


def test_beat_event_dict_is_json_ready():
    t = np.arange(0, 4, 1 / 30)
    beats, _ = _run(_areas(_curve(t, 0.8)), t)
    d = beats[0].to_dict()
    for key in (
        "ed_index",
        "es_index",
        "ed_time",
        "es_time",
        "eda",
        "esa",
        "edv_disc",
        "esv_disc",
        "ef",
        "quality",
    ):
        assert key in d
    assert d["edv_disc"] is None  # an area with a length has no disc diameters
    assert math.isfinite(d["ef_area_length"]) and d["ef"] == d["ef_area_length"]
