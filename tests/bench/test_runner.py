"""Runner, multi-stream, batch, peak and acceptance, on the tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.bench.clips import load_clip, load_sample_clip
from rtecho.bench.multi import bench_batch, find_max_streams, run_streams
from rtecho.bench.peak import GemmPeak, gemm_gflops, peak_for
from rtecho.bench.plan import acceptance, plan_configs
from rtecho.bench.runner import BenchConfig, BenchResult, attach_baselines, bench_config

TINY = BenchConfig("tiny-untrained", "onnxruntime")


@pytest.fixture(scope="module")
def clip():
    return load_sample_clip(max_frames=40)


def test_gemm_peak_is_positive():
    p = gemm_gflops(threads=1, sizes=(64, 128), repeats=2)
    assert p.gflops > 0 and p.size in (64, 128) and p.gflops == max(p.by_size.values())


def test_peak_for_picks_the_same_thread_count():
    peaks = {1: GemmPeak(1, 10.0, 64, {64: 10.0}), 2: GemmPeak(2, 18.0, 64, {64: 18.0})}
    assert peak_for(peaks, 1).gflops == 10.0 and peak_for(peaks, 2).gflops == 18.0
    assert peak_for(peaks, 4).gflops == 18.0 and peak_for(peaks, None).gflops == 10.0
    slow_all_core = {1: GemmPeak(1, 10.0, 64, {64: 10.0}), 2: GemmPeak(2, 4.0, 64, {64: 4.0})}
    assert peak_for(slow_all_core, 2).gflops == 10.0
    assert peak_for({}, 1) is None


def test_bench_config_lockstep_accounts_for_every_frame(clip):
    [r] = bench_config(TINY, [clip], n_frames=50, warmup=2)
    assert r.frames == 50 and r.dropped == 0 and r.errors == 0 and r.deadline_misses is not None
    assert r.samples["end_to_end"].size == 50 and r.latency["infer"].n == 50
    assert r.accuracy is not None and 0 <= r.accuracy <= 1
    assert r.weights == "untrained" and r.threads is not None and r.threads >= 1


def test_time_cap_stops_a_run_early(clip):
    [r] = bench_config(TINY, [clip], n_frames=100_000, warmup=1, max_seconds=0.2)
    assert 0 < r.frames < 100_000


def test_speedup_and_peak_fraction_are_attached(clip):
    [a] = bench_config(TINY, [clip], n_frames=10, warmup=1)
    [b] = bench_config(TINY, [clip], n_frames=10, warmup=1)
    b.backend = "torch"  # stand-in baseline row: the speed-up is a ratio of infer medians
    attach_baselines([a, b], {1: GemmPeak(1, 100.0, 64, {64: 100.0})})
    assert a.speedup_vs_torch == pytest.approx(b.stat("infer") / a.stat("infer"))
    assert a.peak_gflops == 100.0 and a.fraction_of_peak == pytest.approx(a.achieved_gflops / 100.0)


def test_streams_and_batch(clip):
    res = run_streams(TINY, clip, n_streams=2, n_frames=5, warmup=1)
    assert [s.stream for s in res.streams] == [0, 1]
    assert all(s.frames + s.dropped == 5 for s in res.streams)
    shared = run_streams(TINY, clip, n_streams=2, n_frames=3, shared_engine=True, warmup=1)
    assert shared.shared_engine and len(shared.streams) == 2
    b = bench_batch(TINY, clip, batch=4, n_batches=3)
    assert b.batch == 4 and b.batches == 3 and b.images_per_s > 0


def test_find_max_streams_is_bounded(clip):
    best, runs = find_max_streams(TINY, clip, n_frames=3, max_streams=3, max_seconds=10.0)
    assert 0 <= best <= 3 and 1 <= len(runs) <= 3
    assert runs[0].n_streams == 1 and all(r.n_streams <= 3 for r in runs)
    ok = [r.n_streams for r in runs if r.ok]
    assert best == (max(ok) if ok else 0)


def test_find_max_streams_bisects(monkeypatch, clip):
    import rtecho.bench.multi as multi

    tried = []

    def fake(config, clip, n, *args, **kw):  # N <= 5 streams keep up, more do not
        tried.append(n)
        return multi.StreamsResult("m", "b", "fp32", 1, n, 30.0, False, "c", [_stream(miss=int(n > 5))])

    monkeypatch.setattr(multi, "run_streams", fake)
    best, runs = multi.find_max_streams(TINY, clip, max_streams=64)
    assert best == 5 and tried == [1, 2, 4, 8, 6, 5]


def _stream(miss: int):
    from rtecho.bench.multi import StreamStats
    from rtecho.pipeline.timing import StageStats

    st = StageStats.of([1.0])
    return StreamStats(0, 1, 0, miss, st, st)


def test_plan_skips_missing_precisions_with_a_reason():
    configs, skipped = plan_configs(["tiny-untrained"], ["onnxruntime"], ["fp32", "int8", "bf16"])
    assert [c.precision for c in configs] == ["fp32"]
    reasons = {s["precision"]: s["reason"] for s in skipped}
    assert "tiny-untrained.int8.onnx" in reasons["int8"] and "does not support bf16" in reasons["bf16"]


def test_acceptance_uses_the_worst_clip(clip):
    other = load_clip("synthetic:n=10,size=64x64", name="synthetic")
    results = bench_config(TINY, [clip, other], n_frames=10, warmup=1)
    [row] = acceptance(results)
    assert row["e2e_p99_ms"] == pytest.approx(max(r.stat("end_to_end", "p99") for r in results), abs=1e-3)
    assert row["limit_ms"] == 13.0 and row["ok"] == (row["e2e_p99_ms"] < 13.0)


def test_accuracy_counts_each_clip_frame_once(clip):
    from rtecho.bench.replay import ReplaySource
    from rtecho.bench.runner import Collector

    col = Collector(ReplaySource(clip.frames, clip.fps), deadline=float("inf"), lockstep=False)
    n = clip.n_frames
    truth = list(clip.labels)
    wrong = "OTHER" if truth[0] != "OTHER" else "A2C"
    for i in range(n + 10):  # first pass all right, except frame 0; the looped frames 0..9 all wrong
        label = truth[i % n] if 0 < i < n else wrong
        col.indices.append(i)
        col.labels.append(label)
    exact, coarse_ok = col.accuracy(clip)
    assert exact == pytest.approx((n - 1) / n) and coarse_ok >= exact


def test_screen_rows_run_the_ultrasound_stage_paced():
    from rtecho.bench.clips import simulator_screen_clip
    from rtecho.bench.plan import screen_acceptance
    from rtecho.bench.report import format_screens
    from rtecho.bench.runner import bench_screens

    clip = simulator_screen_clip((120, 160), n_frames=4)
    [row] = bench_screens(BenchConfig("tiny-untrained", "onnxruntime"), [clip], n_frames=10, warmup=2)
    assert row.mode == "paced" and row.pace_fps == 30.0 and row.settings["ultrasound"] is True
    assert row.frames + row.dropped == 10 and row.settings["screen"] == "160x120"
    assert {"wait", "preprocess", "infer", "end_to_end"} <= set(row.latency)
    table = format_screens([row])
    assert "wait p50/p99" in table and "screen 160x120 (sim)" in table
    [a] = screen_acceptance([row])
    assert a["limit_ms"] == 13.0 and a["ok"] == (
        a["e2e_p99_ms"] < 13.0 and a["late"] == 0 and a["dropped"] == 0
    )


def test_variant_check_flags_an_offered_variant_slower_than_fp32():
    from rtecho.bench.plan import format_variant_check, variant_check
    from rtecho.pipeline.timing import StageStats

    def row(backend, precision, infer_ms, not_offered=None):
        return BenchResult(
            "m",
            backend,
            precision,
            (8, 8),
            None,
            None,
            "trained",
            1,
            "clip",
            "lockstep",
            None,
            10,
            0,
            0,
            None,
            1.0,
            {"infer": StageStats.of([infer_ms] * 3)},
            not_offered=not_offered,
        )

    rows = [
        row("openvino", "fp32", 2.0),
        row("openvino", "int8", 3.0),  # offered and slower: the check fails
        row("onnxruntime", "fp32", 1.0),
        row("onnxruntime", "int8", 2.0, not_offered="s8 activations"),  # declared: fine
    ]
    got = {(v["backend"], v["precision"]): v for v in variant_check(rows)}
    assert not got["openvino", "int8"]["ok"] and got["openvino", "int8"]["speedup"] == pytest.approx(
        2 / 3, abs=1e-3
    )
    assert got["onnxruntime", "int8"]["ok"] and not got["onnxruntime", "int8"]["offered"]
    text = format_variant_check(list(got.values()))
    assert "SLOWER than fp32 but offered" in text and "not offered" in text


def test_variant_check_takes_the_alternated_engine_calls_when_given():
    from rtecho.bench.plan import variant_check, variant_pairs
    from rtecho.pipeline.timing import StageStats

    def row(precision, infer_ms):
        return BenchResult(
            "m", "openvino", precision, (8, 8), None, None, "trained", 1, "clip", "lockstep", None,
            10, 0, 0, None, 1.0, {"infer": StageStats.of([infer_ms] * 3)},
        )  # fmt: skip

    rows = [row("fp32", 2.0), row("int8", 2.2)]  # two stream runs: the variant looks 10% slower
    assert variant_pairs(rows) == [("m", "openvino", "int8", 1)]
    (stream,) = variant_check(rows)
    assert not stream["ok"] and stream["method"] == "stream runs"
    (alt,) = variant_check(rows, {("m", "openvino", "int8", 1): (2.0, 1.6)})  # called in turn: faster
    assert alt["ok"] and alt["speedup"] == pytest.approx(1.25) and alt["method"] == "alternated"


def test_alternated_infer_times_both_engines():
    from rtecho.bench.runner import BenchConfig, alternated_infer

    cfg = BenchConfig("tiny-untrained", "onnxruntime")
    a, b = alternated_infer(cfg, cfg, np.zeros((120, 160, 3), np.uint8), rounds=10, warmup=2)
    assert a > 0 and b > 0
