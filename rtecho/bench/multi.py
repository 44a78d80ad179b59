"""Several concurrent live streams on one machine, and offline batch throughput.

``run_streams``: N streams, each its own :class:`~rtecho.pipeline.StreamProcessor` (reader thread,
worker thread, consumer thread) fed by a :class:`ReplaySource` paced at ``fps`` (live, ``latest``
drop policy), starts staggered by one period / N as unsynchronised scanners would be. Engines: one
per stream (default) or one shared by all (``shared_engine``; ONNX Runtime sessions are
thread-safe, OpenVINO serialises on its infer request). A deadline miss is a result later than one
frame period after the frame's arrival; a dropped frame (stale, replaced by a newer one) is a miss
too for :func:`find_max_streams`.

``bench_batch``: ``engine.infer`` on batches of N preprocessed clip frames, back to back (no stream
processor): images per second = N / batch latency p50.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtecho.bench.clips import Clip
from rtecho.bench.runner import BenchConfig, Collector, engine_threads, warm_up
from rtecho.pipeline import StreamProcessor
from rtecho.pipeline.timing import StageStats
from rtecho.runtime.preprocess import Preprocessor


@dataclass
class StreamStats:
    """One stream of a multi-stream run (times in ms)."""

    stream: int
    frames: int
    dropped: int
    deadline_misses: int
    e2e: StageStats
    infer: StageStats

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "frames": self.frames,
            "dropped": self.dropped,
            "deadline_misses": self.deadline_misses,
            "end_to_end_ms": self.e2e.to_dict(),
            "infer_ms": self.infer.to_dict(),
        }


@dataclass
class StreamsResult:
    """N concurrent streams of one configuration."""

    model: str
    backend: str
    precision: str
    threads: int | None
    n_streams: int
    fps: float
    shared_engine: bool
    clip: str
    streams: list[StreamStats] = field(default_factory=list)

    @property
    def deadline_misses(self) -> int:
        return sum(s.deadline_misses for s in self.streams)

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.streams)

    @property
    def ok(self) -> bool:
        """Every frame of every stream processed within one frame period."""
        return self.deadline_misses == 0 and self.dropped == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "precision": self.precision,
            "threads": self.threads,
            "n_streams": self.n_streams,
            "fps": self.fps,
            "shared_engine": self.shared_engine,
            "clip": self.clip,
            "deadline_misses": self.deadline_misses,
            "dropped": self.dropped,
            "ok": self.ok,
            "streams": [s.to_dict() for s in self.streams],
        }


def run_streams(
    config: BenchConfig,
    clip: Clip,
    n_streams: int,
    n_frames: int = 90,
    fps: float = 30.0,
    shared_engine: bool = False,
    warmup: int = 10,
) -> StreamsResult:
    """Run ``n_streams`` concurrent live streams of ``n_frames`` frames each at ``fps``."""
    if n_streams < 1:
        raise ValueError(f"n_streams must be >= 1, got {n_streams}")
    shared = config.engine() if shared_engine else None
    engines = [shared] * n_streams if shared is not None else [config.engine() for _ in range(n_streams)]
    procs = [StreamProcessor(e) for e in engines]
    for p in procs:
        p.__enter__()
    try:
        for p in procs:
            warm_up(p, clip, warmup)
        outcomes: list[tuple[Collector, Any] | BaseException | None] = [None] * n_streams
        start = time.perf_counter() + 0.05

        def one(i: int) -> None:
            from rtecho.bench.runner import run_clip

            delay = start + i / (fps * n_streams) - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                outcomes[i] = run_clip(
                    procs[i], clip, n_frames, "paced", fps, max_seconds=n_frames / fps + 30
                )
            except BaseException as exc:  # noqa: BLE001 - re-raised below in the caller's thread
                outcomes[i] = exc

        threads = [
            threading.Thread(target=one, args=(i,), name=f"rtecho-bench-stream{i}") for i in range(n_streams)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        info = engines[0].info
    finally:
        for p in procs:
            p.__exit__(None, None, None)
    result = StreamsResult(
        model=info.name,
        backend=info.backend,
        precision=info.precision,
        threads=engine_threads(dict(info.settings)),
        n_streams=n_streams,
        fps=fps,
        shared_engine=shared_engine,
        clip=clip.name,
    )
    for i, out in enumerate(outcomes):
        if isinstance(out, BaseException):
            raise out
        assert out is not None
        collector, summary = out
        samples = collector.samples()
        result.streams.append(
            StreamStats(
                stream=i,
                frames=summary.processed,
                dropped=summary.dropped,
                deadline_misses=int(summary.deadline_misses or 0),
                e2e=StageStats.of(samples.get("end_to_end", [])),
                infer=StageStats.of(samples.get("infer", [])),
            )
        )
    return result


def find_max_streams(
    config: BenchConfig,
    clip: Clip,
    n_frames: int = 90,
    fps: float = 30.0,
    max_streams: int = 64,
    max_seconds: float = 90.0,
    shared_engine: bool = False,
    progress: Callable[[StreamsResult], None] | None = None,
) -> tuple[int, list[StreamsResult]]:
    """The largest N whose run has zero deadline misses and zero drops (0 if one stream misses).

    Search: N = 1, 2, 4, ... until a run fails (or ``max_streams``), then bisection between the last
    good and the first bad N. Bounded by ``max_streams`` and by ``max_seconds`` in total (the answer
    is then a lower bound). Returns the answer and every run made, in order.
    """
    t_end = time.perf_counter() + max_seconds
    runs: list[StreamsResult] = []
    good, bad = 0, max_streams + 1

    def attempt(n: int) -> bool:
        res = run_streams(config, clip, n, n_frames, fps, shared_engine)
        runs.append(res)
        if progress is not None:
            progress(res)
        return res.ok

    def time_left() -> bool:
        return time.perf_counter() + 1.5 * n_frames / fps < t_end

    n = 1
    while n < bad and time_left():
        if attempt(n):
            good = n
            n = min(2 * n, max_streams) if n < max_streams else bad
        else:
            bad = n
    while bad - good > 1 and time_left():
        mid = (good + bad) // 2
        if attempt(mid):
            good = mid
        else:
            bad = mid
    return good, runs


@dataclass
class BatchResult:
    """Offline throughput of one configuration at one batch size."""

    model: str
    backend: str
    precision: str
    threads: int | None
    batch: int
    batches: int
    latency: StageStats

    @property
    def images_per_s(self) -> float:
        return self.batch / (self.latency.p50 * 1e-3) if self.latency.p50 > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "precision": self.precision,
            "threads": self.threads,
            "batch": self.batch,
            "batches": self.batches,
            "batch_latency_ms": self.latency.to_dict(),
            "images_per_s": round(self.images_per_s, 2),
        }


def bench_batch(
    config: BenchConfig,
    clip: Clip,
    batch: int,
    n_batches: int = 30,
    warmup: int = 3,
    max_seconds: float = 5.0,
) -> BatchResult:
    """Time ``engine.infer`` on batches of ``batch`` preprocessed clip frames (ms per batch)."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    engine = config.engine()
    with engine:
        pre = Preprocessor(engine.card)
        x = np.concatenate([pre(clip.frames[i % clip.n_frames].image) for i in range(batch)])
        for _ in range(warmup):
            engine.infer(x)
        times, t_end = [], time.perf_counter() + max_seconds
        for _ in range(n_batches):
            t = time.perf_counter()
            engine.infer(x)
            times.append((time.perf_counter() - t) * 1e3)
            if time.perf_counter() > t_end:
                break
        info = engine.info
    return BatchResult(
        model=info.name,
        backend=info.backend,
        precision=info.precision,
        threads=engine_threads(dict(info.settings)),
        batch=batch,
        batches=len(times),
        latency=StageStats.of(times),
    )
