"""Latency statistics in fixed memory: exact counts/min/max/mean, percentiles within 1 %."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from rtecho.pipeline.accounting import StreamAccount
from rtecho.pipeline.timing import LatencyHistogram, LatencyRecorder, StageStats


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 5000])
def test_histogram_matches_numpy_within_one_percent(n):
    rng = np.random.default_rng(n)
    values = np.exp(rng.normal(1.0, 1.5, n))  # ~0.01 ms .. ~1 s, heavy tailed
    h = LatencyHistogram()
    for v in values:
        h.add(float(v))
    got, exact = h.stats(), StageStats.of(values)
    assert got.n == exact.n == n
    assert got.max == exact.max and h.min == values.min()
    assert got.mean == pytest.approx(exact.mean, rel=1e-12)
    for q in ("p50", "p95", "p99"):
        assert getattr(got, q) == pytest.approx(getattr(exact, q), rel=0.01), q


def test_histogram_error_is_the_bucket_width_not_more():
    """Values spread over a decade: every percentile 1..99 within the documented 0.5 %."""
    values = np.linspace(2.0, 20.0, 997)
    h = LatencyHistogram()
    for v in values:
        h.add(float(v))
    qs = np.arange(1, 100)
    est = np.array(h.percentiles(qs))
    rel = np.abs(est / np.percentile(values, qs) - 1)
    assert rel.max() <= 0.005 + 1e-9, rel.max()
    assert rel.max() > 0  # an estimate, not the data kept


def test_zeros_and_empty():
    h = LatencyHistogram()
    assert h.stats().n == 0 and np.isnan(h.stats().p50)
    for _ in range(5):
        h.add(0.0)  # a stage that did not run (decode of a pushed frame)
    s = h.stats()
    assert (s.n, s.p50, s.p99, s.max, s.mean) == (5, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        h.add(float("nan"))


def _pred(i):
    t = 1.0 + (i % 97) / 10
    timings = {"decode": 0.0, "wait": 0.1, "preprocess": t, "infer": 2 * t, "postprocess": 0.2}
    return SimpleNamespace(ok=True, timings_ms=timings | {"end_to_end": 3.3 * t})


def test_recorder_memory_does_not_grow_with_frames():
    """30k frames after a warm-up of 2k: the recorder's memory stays within a few kB (a list of
    every timing would take ~6 MB here)."""
    rec = LatencyRecorder()
    for i in range(2000):
        rec.add(_pred(i))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(30_000):
            rec.add(_pred(i))
        grown = sum(d.size_diff for d in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown
    stats = rec.stats()
    assert list(stats) == ["decode", "wait", "preprocess", "infer", "postprocess", "end_to_end"]
    assert stats["infer"].n == 32_000 and stats["infer"].max == pytest.approx(2 * 10.6)


def test_account_balances_and_counts_misses():
    acc = StreamAccount(period_ms=10.0)
    for _ in range(5):
        acc.frame_in()
    acc.dropped()
    acc.result(SimpleNamespace(ok=True, timings_ms={"end_to_end": 4.0}))
    acc.result(SimpleNamespace(ok=True, timings_ms={"end_to_end": 12.0}))  # late: a deadline miss
    acc.result(SimpleNamespace(ok=False, timings_ms={}))
    s = acc.summary(model="m", backend="b/fp32")
    assert (s.frames_read, s.processed, s.dropped, s.errors, s.deadline_misses) == (5, 2, 1, 1, 1)
    assert not s.accounted  # one frame still in flight
    acc.dropped()
    assert acc.summary(model="m", backend="b").accounted
    assert s.latency["end_to_end"].n == 2 and s.latency["end_to_end"].max == 12.0
    assert StreamAccount().summary(model="m", backend="b").deadline_misses is None
