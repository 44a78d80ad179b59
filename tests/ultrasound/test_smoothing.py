from __future__ import annotations

import numpy as np
import pytest

from rtecho.ultrasound.calibration import fit_calibration
from rtecho.ultrasound.smoothing import TemporalSmoother
from tests.ultrasound.session import LABELS, session_logits


def _labelled(rng, n):
    zs, ys = [], []
    for _ in range(n):
        z, t, truth = session_logits(rng)
        y = np.full(len(t), -1)
        for k, (v, s) in enumerate(truth):
            end = truth[k + 1][1] - 0.4 if k + 1 < len(truth) else np.inf
            y[(t >= s) & (t < end)] = LABELS.index(v)
        zs.append(z[y >= 0])
        ys.append(y[y >= 0])
    return np.concatenate(zs), np.concatenate(ys)


def test_session_view_changes_match_truth():
    cal = fit_calibration(*_labelled(np.random.default_rng(1000), 3))
    delays, spurious = [], 0
    for seed in range(12):
        z, t, truth = session_logits(np.random.default_rng(seed))
        sm = TemporalSmoother(LABELS)
        for i, (zz, tt) in enumerate(zip(z, t, strict=True)):
            p, ok = cal.apply(zz)
            sm.update(p, tt, i) if ok else sm.hold(tt)
        got = [e.to_label for e in sm.events]
        spurious += got != [v for v, _ in truth]
        if got == [v for v, _ in truth]:
            delays += [e.timestamp - s for e, (_, s) in zip(sm.events[1:], truth[1:], strict=True)]
        assert sm.events[0].from_label is None
    assert spurious == 0
    delays = np.array(delays)
    assert (delays >= 0).all()
    assert np.median(delays) <= 0.4 and (delays <= 0.5).mean() >= 0.9


def test_no_flicker_and_fps_independent():
    for fps in (15.0, 60.0):
        sm = TemporalSmoother(("A2C", "A4C"), tau_s=0.12, min_stable_s=0.2)
        n = int(4 * fps)
        for i in range(n):
            burst = i % int(fps) < max(1, int(0.1 * fps))  # 0.1 s of the wrong view every second
            p = np.array([0.9, 0.1]) if burst else np.array([0.1, 0.9])
            sm.update(p, i / fps, i)
        assert [e.to_label for e in sm.events] == ["A4C"]


def test_smoother_rejects_bad_shape():
    with pytest.raises(ValueError):
        TemporalSmoother(("A2C", "A4C")).update(np.ones(3), 0.0)


def test_event_history_is_bounded_for_endless_streams():
    from rtecho.ultrasound.smoothing import TemporalSmoother

    sm = TemporalSmoother(("A4C", "PLAX"), tau_s=0.0, min_stable_s=0.0)
    a, b = np.array([0.9, 0.1]), np.array([0.1, 0.9])
    for i in range(2 * TemporalSmoother.MAX_EVENTS + 10):
        sm.update(a if i % 2 == 0 else b, i / 30, i)
    assert len(sm.events) == TemporalSmoother.MAX_EVENTS
    assert sm.events[-1].frame_index == 2 * TemporalSmoother.MAX_EVENTS + 9
