from __future__ import annotations

import numpy as np

from rtecho.types import Prediction
from rtecho.ultrasound.clip import summarize_clip

LABELS = ("A2C", "A4C", "PLAX")


def _pred(i, label, mode="bmode", conf=0.8):
    if mode not in ("bmode", "color_doppler"):
        return Prediction(i, i / 10, None, None, None, LABELS, {}, mode=mode, smoothed_label=label)
    k = LABELS.index(label)
    p = np.full(3, (1 - conf) / 2)
    p[k] = conf
    return Prediction(i, i / 10, label, k, p, LABELS, {}, smoothed_label=label, smoothed_probabilities=p)


def test_segments_and_clip_view():
    seq = [_pred(i, "A2C", conf=0.6) for i in range(10)]
    seq += [_pred(10 + i, "A2C", mode="mmode") for i in range(5)]
    seq += [_pred(15 + i, "A4C", conf=0.9) for i in range(20)]
    r = summarize_clip(seq)
    assert [s.label for s in r.segments] == ["A2C", "A4C"]
    assert r.segments[0].start_frame == 0 and r.segments[0].end_frame == 9
    assert r.segments[1].start_s == 1.5
    assert r.label == "A4C" and abs(r.confidence - 0.9) < 1e-6
    assert r.modes == {"bmode": 30, "mmode": 5}
    assert r.to_dict()["segments"][1]["label"] == "A4C"


def test_empty_clip():
    r = summarize_clip([])
    assert r.label is None and r.segments == ()
