"""Per-stage latency statistics in fixed memory, and the summary of a stream run.

A stream may run for hours, so no per-frame value is kept: each stage's timings go into a
:class:`LatencyHistogram`, log-bucketed with exact counts. Its count, minimum, maximum and mean
are exact; a percentile is exact up to the bucket width: buckets ``[lo r^k, lo r^(k+1))`` with
``r = 1.01`` and each value estimated by its bucket's geometric centre, so an order statistic in
``[LOW_MS, HIGH_MS]`` is off by at most ``sqrt(r) - 1`` (0.5 %) relative, and the percentile,
interpolated between two order statistics as ``numpy.percentile`` does, by no more. Values below
``LOW_MS`` (a stage that took under a microsecond, or did not run: 0) share one bucket, estimated
within ``LOW_MS`` absolute. Memory: about 2,300 counters per stage, whatever the stream's length.

>>> h = LatencyHistogram()
>>> for ms in (1.0, 2.0, 3.0, 4.0):
...     h.add(ms)
>>> s = h.stats()
>>> s.n, s.max, s.mean, round(s.p50, 1)
(4, 4.0, 2.5, 2.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rtecho.types import STAGES, Prediction

#: Bucket ratio (relative width) of the latency histogram, and its exact range (milliseconds).
RATIO = 1.01
LOW_MS = 1e-3
HIGH_MS = 1e7


@dataclass(frozen=True)
class StageStats:
    """Latency of one stage over a run, in milliseconds."""

    n: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values_ms: Iterable[float]) -> StageStats:
        """Exact statistics of a finite sample (a benchmark's frames)."""
        v = np.asarray(list(values_ms), np.float64)
        if v.size == 0:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
        p50, p95, p99 = np.percentile(v, [50, 95, 99])
        return cls(int(v.size), float(p50), float(p95), float(p99), float(v.max()), float(v.mean()))

    def to_dict(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 4) for k in ("p50", "p95", "p99", "max", "mean")} | {"n": self.n}


class LatencyHistogram:
    """Timings (ms) of one stage in a fixed-size log-bucketed histogram; see the module docstring.

    Bucket 0 holds values below ``LOW_MS``; bucket ``k >= 1`` holds ``[LOW_MS r^(k-1), LOW_MS r^k)``;
    values above ``HIGH_MS`` go to the last bucket (the exact maximum still bounds them).
    """

    _SCALE = 1.0 / math.log(RATIO)
    _SIZE = int(math.ceil(math.log(HIGH_MS / LOW_MS) * _SCALE)) + 2

    __slots__ = ("_counts", "max", "min", "n", "_sum", "_carry")

    def __init__(self) -> None:
        self._counts = [0] * self._SIZE
        self.n = 0
        self.min = math.inf
        self.max = -math.inf
        self._sum = 0.0
        self._carry = 0.0  # Neumaier compensation: the mean is the exact mean, rounded once

    def add(self, ms: float) -> None:
        if ms != ms:
            raise ValueError("a latency of NaN ms")
        k = 0 if ms < LOW_MS else min(int(math.log(ms / LOW_MS) * self._SCALE) + 1, self._SIZE - 1)
        self._counts[k] += 1
        self.n += 1
        if ms < self.min:
            self.min = ms
        if ms > self.max:
            self.max = ms
        t = self._sum + ms
        if abs(self._sum) >= ms:
            self._carry += (self._sum - t) + ms
        else:
            self._carry += (ms - t) + self._sum
        self._sum = t

    @property
    def mean(self) -> float:
        return (self._sum + self._carry) / self.n if self.n else float("nan")

    def _estimate(self, k: int) -> float:
        """The value that stands for bucket ``k``, clamped to the exact range seen."""
        centre = LOW_MS / 2 if k == 0 else LOW_MS * RATIO ** (k - 0.5)
        return min(max(centre, self.min), self.max)

    def percentiles(self, qs: Iterable[float]) -> list[float]:
        """Percentiles ``qs`` (0-100), as ``numpy.percentile`` (linear) would give up to the bucket width."""
        qs = list(qs)
        if not self.n:
            return [float("nan")] * len(qs)
        ranks = []  # 0-based order statistics needed: floor and ceil of q/100 * (n - 1)
        for q in qs:
            pos = q / 100.0 * (self.n - 1)
            ranks += [math.floor(pos), math.ceil(pos)]
        value: dict[int, float] = {}
        cum, want = 0, sorted(set(ranks))
        for k, c in enumerate(self._counts):
            if not c:
                continue
            cum += c
            while want and want[0] < cum:
                value[want.pop(0)] = self._estimate(k)
            if not want:
                break
        out = []
        for q in qs:
            pos = q / 100.0 * (self.n - 1)
            lo, hi = value[math.floor(pos)], value[math.ceil(pos)]
            out.append(lo + (hi - lo) * (pos - math.floor(pos)))
        return out

    def stats(self) -> StageStats:
        if not self.n:
            return StageStats.of(())
        p50, p95, p99 = self.percentiles((50, 95, 99))
        return StageStats(self.n, p50, p95, p99, self.max, self.mean)


class LatencyRecorder:
    """Collects the per-stage timings of every successful prediction, in fixed memory."""

    def __init__(self) -> None:
        self._hists: dict[str, LatencyHistogram] = {}

    def add(self, prediction: Prediction) -> None:
        if prediction.ok:
            for stage, ms in prediction.timings_ms.items():
                h = self._hists.get(stage)
                if h is None:
                    h = self._hists[stage] = LatencyHistogram()
                h.add(ms)

    def stats(self) -> dict[str, StageStats]:
        """Statistics per stage that has timings, in the order of ``STAGES`` (others after)."""
        order = [s for s in STAGES if s in self._hists] + [s for s in self._hists if s not in STAGES]
        return {s: self._hists[s].stats() for s in order}


@dataclass(frozen=True)
class StreamSummary:
    """What a stream run did: every frame read is processed, dropped or an error."""

    frames_read: int
    processed: int
    dropped: int
    errors: int
    wall_s: float
    latency: Mapping[str, StageStats] = field(default_factory=dict)
    stream_error: str | None = None
    model: str = ""
    backend: str = ""
    deadline_misses: int | None = None

    @property
    def fps(self) -> float:
        """Processed frames per wall-clock second."""
        return self.processed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def accounted(self) -> bool:
        return self.processed + self.dropped + self.errors == self.frames_read

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "backend": self.backend,
            "frames_read": self.frames_read,
            "processed": self.processed,
            "dropped": self.dropped,
            "errors": self.errors,
            "wall_s": round(self.wall_s, 4),
            "fps": round(self.fps, 3),
            "deadline_misses": self.deadline_misses,
            "stream_error": self.stream_error,
            "latency_ms": {k: v.to_dict() for k, v in self.latency.items()},
        }

    def table(self) -> str:
        """A plain-text latency table (ms) per stage plus the frame accounting."""
        lines = [f"{'stage':<12}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}"]
        for stage in STAGES:
            s = self.latency.get(stage)
            if s and s.n:
                lines.append(f"{stage:<12}{s.p50:>9.3f}{s.p95:>9.3f}{s.p99:>9.3f}{s.max:>9.3f}")
        lines.append(
            f"frames read {self.frames_read}, processed {self.processed}, dropped {self.dropped}, "
            f"errors {self.errors}; {self.fps:.1f} fps over {self.wall_s:.2f} s"
        )
        if self.stream_error:
            lines.append(f"stream error: {self.stream_error}")
        return "\n".join(lines)
