"""One model on one backend/precision through the full stream processor, on one or more clips.

Method (see also :mod:`rtecho.bench`): the engine is opened once per configuration and warmed up
with ``warmup`` real frames through the same :class:`~rtecho.pipeline.stages.FramePipeline` the
worker uses (allocation, graph specialisation, caches); then each clip is replayed through a
:class:`~rtecho.pipeline.StreamProcessor` (reader thread -> bounded queue -> worker) and every
frame's stage timings (``perf_counter``) are kept. Release modes: ``lockstep`` (default: the next
frame arrives when the previous result is out, so latency is measured without queueing at the
highest rate the machine sustains) or ``paced`` at ``pace_fps`` (``--realtime``: the clip's own
fps, ``latest`` drop policy, a deadline miss is a result later than one frame period after arrival).
A run stops after ``n_frames`` frames or ``max_seconds``, whichever comes first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtecho.bench.clips import Clip
from rtecho.bench.replay import ReplaySource
from rtecho.errors import EngineError
from rtecho.pipeline import StreamProcessor
from rtecho.pipeline.timing import StageStats
from rtecho.runtime import get_backend, load_engine
from rtecho.runtime.base import Engine
from rtecho.types import Prediction
from rtecho.views import coarse

SAMPLED_STAGES = ("decode", "wait", "preprocess", "infer", "postprocess", "end_to_end")
MODES = ("lockstep", "paced")


@dataclass(frozen=True)
class BenchConfig:
    """What to run: a model (name or ONNX path), a backend, a precision, and an optional thread count."""

    model: str
    backend: str
    precision: str = "fp32"
    threads: int | None = None

    def engine(self) -> Engine:
        """An unopened engine, with the options the backend asks the bench for (``Engine.bench_options``:
        the torch baseline is allowed random weights, timing only)."""
        opts: dict[str, Any] = dict(get_backend(self.backend).engine_class().bench_options)
        if self.threads:
            opts["threads"] = self.threads
        return load_engine(self.model, backend=self.backend, precision=self.precision, warn=False, **opts)


@dataclass
class BenchResult:
    """Timings and accounting of one configuration on one clip (times in ms)."""

    model: str
    backend: str
    precision: str
    input_size_hw: tuple[int, int]
    params: int | None
    flops: int | None
    weights: str  # trained | untrained | random
    threads: int | None
    clip: str
    mode: str
    pace_fps: float | None
    frames: int
    dropped: int
    errors: int
    deadline_misses: int | None
    wall_s: float
    latency: dict[str, StageStats]
    settings: dict[str, Any] = field(default_factory=dict)
    accuracy: float | None = None
    accuracy_coarse: float | None = None
    speedup_vs_torch: float | None = None
    speedup_vs_torch_e2e: float | None = None
    peak_gflops: float | None = None
    not_offered: str | None = None  # why the backend does not offer this precision (Engine.not_offered)
    samples: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def stat(self, stage: str, q: str = "p50") -> float:
        s = self.latency.get(stage)
        return float(getattr(s, q)) if s and s.n else float("nan")

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def achieved_gflops(self) -> float | None:
        """Card FLOPs / infer p50 (GFLOP/s)."""
        p50 = self.stat("infer")
        return self.flops / (p50 * 1e-3) / 1e9 if self.flops and p50 > 0 else None

    @property
    def fraction_of_peak(self) -> float | None:
        g = self.achieved_gflops
        return g / self.peak_gflops if g is not None and self.peak_gflops else None

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None, nd: int = 4) -> float | None:
            return None if v is None or not np.isfinite(v) else round(float(v), nd)

        return {
            "model": self.model,
            "backend": self.backend,
            "precision": self.precision,
            "input_size_hw": list(self.input_size_hw),
            "params": self.params,
            "flops": self.flops,
            "weights": self.weights,
            "threads": self.threads,
            "clip": self.clip,
            "mode": self.mode,
            "pace_fps": self.pace_fps,
            "frames": self.frames,
            "dropped": self.dropped,
            "errors": self.errors,
            "deadline_misses": self.deadline_misses,
            "wall_s": r(self.wall_s),
            "fps": r(self.fps, 2),
            "latency_ms": {k: v.to_dict() for k, v in self.latency.items()},
            "accuracy": r(self.accuracy),
            "accuracy_coarse": r(self.accuracy_coarse),
            "speedup_vs_torch": r(self.speedup_vs_torch, 3),
            "speedup_vs_torch_e2e": r(self.speedup_vs_torch_e2e, 3),
            "achieved_gflops": r(self.achieved_gflops, 3),
            "peak_gflops": r(self.peak_gflops, 2),
            "fraction_of_peak": r(self.fraction_of_peak),
            "offered": self.not_offered is None,
            "not_offered": self.not_offered,
            "settings": {
                k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in self.settings.items()
            },
        }


class Collector:
    """The processor callback: keeps every frame's stage timings and label; in lockstep, releases
    the next frame; stops the source once the time budget is spent."""

    def __init__(self, source: ReplaySource, deadline: float, lockstep: bool, min_frames: int = 0) -> None:
        self.source, self.deadline, self.lockstep = source, deadline, lockstep
        self.min_frames = min_frames
        self.values: dict[str, list[float]] = {s: [] for s in SAMPLED_STAGES}
        self.indices: list[int] = []
        self.labels: list[str | None] = []
        self._lock = threading.Lock()

    def __call__(self, pred: Prediction) -> None:
        with self._lock:
            if pred.ok:
                for s in SAMPLED_STAGES:
                    if s in pred.timings_ms:
                        self.values[s].append(pred.timings_ms[s])
                self.indices.append(pred.frame_index)
                self.labels.append(pred.label)
        if time.perf_counter() > self.deadline and len(self.indices) >= self.min_frames:
            self.source.close()
        elif self.lockstep:
            self.source.done()

    def samples(self) -> dict[str, np.ndarray]:
        return {s: np.asarray(v, np.float64) for s, v in self.values.items() if v}

    def accuracy(self, clip: Clip) -> tuple[float | None, float | None]:
        """Per-frame accuracy against the clip's labels (exact view, and coarse view), each clip frame
        counted once (its first prediction: a looped replay does not weight the first frames twice)."""
        if clip.labels is None or not self.indices:
            return None, None
        first: dict[int, str | None] = {}
        for i, label in zip(self.indices, self.labels, strict=True):
            first.setdefault(i % clip.n_frames, label)
        pairs = [(p, clip.labels[i]) for i, p in first.items()]
        exact = np.mean([p == t for p, t in pairs])
        coarse_ok = np.mean([p is not None and coarse(p) == coarse(t) for p, t in pairs])
        return float(exact), float(coarse_ok)


def weights_kind(engine: Engine) -> str:
    """``trained``, ``untrained`` (exported without training data) or ``random`` (torch without weights).

    A card counts as trained only when it also names its training data: ``rtecho export`` without a
    checkpoint writes ``trained: true`` with empty ``training_data``.
    """
    if str(engine.info.settings.get("weights", "")).startswith("random"):
        return "random"
    card = engine.card
    return "trained" if card.trained and card.training_data else "untrained"


def engine_threads(settings: dict[str, Any]) -> int | None:
    """The inference thread count an engine reports (ORT intra-op, OpenVINO, torch)."""
    for key in ("intra_op_threads", "threads"):
        v = settings.get(key)
        if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
            return int(v)
    return None


def warm_up(proc: StreamProcessor, clip: Clip, n: int) -> None:
    """Run ``n`` real frames synchronously through the worker's pipeline (not timed)."""
    pipeline = proc.pipeline
    if pipeline is None:
        raise RuntimeError("warm_up() needs an entered StreamProcessor")
    for i in range(n):
        pipeline(clip.frames[i % clip.n_frames])


def run_clip(
    proc: StreamProcessor,
    clip: Clip,
    n_frames: int,
    mode: str = "lockstep",
    pace_fps: float | None = None,
    max_seconds: float = 5.0,
    min_frames: int = 0,
) -> tuple[Collector, Any]:
    """Replay ``clip`` through an open processor; returns the collector and the stream summary.

    The run ends after ``n_frames`` frames, or at the first result after ``max_seconds`` once
    ``min_frames`` results are in (a labelled clip is covered once, so accuracy sees every view)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    lockstep = mode == "lockstep"
    source = ReplaySource(
        clip.frames,
        clip.fps,
        n_frames=n_frames,
        pace_fps=None if lockstep else (pace_fps or clip.fps),
        lockstep=lockstep,
        live=not lockstep,
    )
    collector = Collector(source, time.perf_counter() + max_seconds, lockstep, min_frames)
    proc.callback = collector
    proc.policy = "block" if lockstep else "latest"
    summary = proc.run(source)
    return collector, summary


def bench_config(
    config: BenchConfig,
    clips: Sequence[Clip],
    n_frames: int = 300,
    warmup: int = 20,
    mode: str = "lockstep",
    pace_fps: float | None = None,
    max_seconds: float = 5.0,
) -> list[BenchResult]:
    """Open ``config``'s engine once and run it over every clip; one result per clip.

    >>> from rtecho.bench.clips import load_sample_clip
    >>> [r] = bench_config(BenchConfig("tiny-untrained", "onnxruntime"), [load_sample_clip(8)], n_frames=8)
    >>> r.frames, r.stat("end_to_end") > 0
    (8, True)
    """
    engine = config.engine()
    results = []
    with StreamProcessor(engine) as proc:
        settings = dict(engine.info.settings)
        for clip in clips:
            warm_up(proc, clip, warmup)
            cover = clip.n_frames if clip.labels is not None and weights_kind(engine) != "random" else 0
            collector, summary = run_clip(
                proc, clip, n_frames, mode, pace_fps, max_seconds, min(cover, n_frames)
            )
            if summary.processed == 0:
                raise EngineError(
                    f"{config.model} on {config.backend}/{config.precision}: no frame processed "
                    f"({summary.errors} errors{'; ' + summary.stream_error if summary.stream_error else ''})"
                )
            # random weights (the torch timing baseline): an accuracy would mean nothing
            acc, acc_coarse = collector.accuracy(clip) if cover else (None, None)
            pace = None if mode == "lockstep" else (pace_fps or clip.fps)
            results.append(_result(engine, settings, clip, mode, pace, summary, collector, acc, acc_coarse))
    return results


def attach_baselines(results: list[BenchResult], peaks: dict | None = None) -> None:
    """Fill speed-up over torch eager (same model, threads and clip; else same model and threads) and
    the GEMM peak at the engine's thread count."""
    from rtecho.bench.peak import peak_for
    from rtecho.bench.plan import baseline_backend

    baseline = baseline_backend()
    torch_rows = [r for r in results if r.backend == baseline]
    for r in results:
        base = [t for t in torch_rows if t.model == r.model and t.threads == r.threads and t.clip == r.clip]
        base = base or [t for t in torch_rows if t.model == r.model and t.threads == r.threads]
        base = base or [t for t in torch_rows if t.model == r.model]
        if base:
            r.speedup_vs_torch = base[0].stat("infer") / r.stat("infer")
            r.speedup_vs_torch_e2e = base[0].stat("end_to_end") / r.stat("end_to_end")
        p = peak_for(peaks or {}, r.threads)
        r.peak_gflops = p.gflops if p else None


def bench_screens(
    config: BenchConfig, clips: Sequence[Clip], n_frames: int = 120, warmup: int = 20
) -> list[BenchResult]:
    """Full-resolution screen rows: ``config`` with the ultrasound stage (sector tracking, mode gate,
    crop; :mod:`rtecho.pipeline.ultrasound`) on each clip, paced at the clip's fps
    with the ``latest`` policy, as a scanner delivers its screens. Each clip is a new stream: the
    stage starts without a sector, so the first frame's estimate is timed too.
    """
    from rtecho.pipeline import build_pipeline

    engine = config.engine()
    results = []
    with StreamProcessor(engine, pipeline=build_pipeline(engine, ultrasound=True)) as proc:
        settings = dict(engine.info.settings) | {"ultrasound": True}
        for clip in clips:
            warm_up(proc, clip, warmup)
            collector, summary = run_clip(proc, clip, n_frames, "paced", clip.fps, max_seconds=1e9)
            if summary.processed == 0:
                raise EngineError(
                    f"{config.model} on {config.backend}/{config.precision}: no screen processed"
                )
            row = _result(engine, settings, clip, "paced", clip.fps, summary, collector)
            row.settings["screen"] = "x".join(map(str, clip.size_hw[::-1]))
            results.append(row)
    return results


def _result(
    engine: Engine,
    settings: dict[str, Any],
    clip: Clip,
    mode: str,
    pace_fps: float | None,
    summary: Any,
    collector: Collector,
    accuracy: float | None = None,
    accuracy_coarse: float | None = None,
) -> BenchResult:
    samples = collector.samples()
    card = engine.card
    return BenchResult(
        model=card.name,
        backend=engine.backend,
        precision=engine.precision,
        input_size_hw=card.input_size_hw,
        params=card.params,
        flops=card.flops,
        weights=weights_kind(engine),
        threads=engine_threads(settings),
        clip=clip.name,
        mode=mode,
        pace_fps=pace_fps,
        frames=summary.processed,
        dropped=summary.dropped,
        errors=summary.errors,
        deadline_misses=summary.deadline_misses,
        wall_s=summary.wall_s,
        latency={s: StageStats.of(v) for s, v in samples.items()},
        settings=dict(settings),
        accuracy=accuracy,
        accuracy_coarse=accuracy_coarse,
        not_offered=type(engine).not_offered(card, engine.precision),
        samples=samples,
    )


def alternated_infer(
    base: BenchConfig, variant: BenchConfig, image: np.ndarray, rounds: int = 200, warmup: int = 20
) -> tuple[float, float]:
    """(base, variant) engine-call p50 in ms, the two engines called in turn ``rounds`` times on the
    same input (``image`` through the base card's preprocessing), so that both see the same machine
    load: the variant check's measure (two separate stream runs a minute apart differ by more than a
    variant's gain on a shared machine)."""
    from rtecho.runtime.preprocess import Preprocessor

    with base.engine() as a, variant.engine() as b:
        x = Preprocessor(a.card)(image)
        for _ in range(warmup):
            a.infer(x)
            b.infer(x)
        ta, tb = [], []
        clock = time.perf_counter
        for i in range(rounds):
            first, second = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
            for eng, out in (first, second):
                t0 = clock()
                eng.infer(x)
                out.append(clock() - t0)
    return 1e3 * float(np.median(ta)), 1e3 * float(np.median(tb))
