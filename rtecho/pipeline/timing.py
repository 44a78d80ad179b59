"""Per-stage latency records and their summary (medians and tail percentiles, never means alone)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rtecho.types import STAGES, Prediction


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
        v = np.asarray(list(values_ms), np.float64)
        if v.size == 0:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
        p50, p95, p99 = np.percentile(v, [50, 95, 99])
        return cls(int(v.size), float(p50), float(p95), float(p99), float(v.max()), float(v.mean()))

    def to_dict(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 4) for k in ("p50", "p95", "p99", "max", "mean")} | {"n": self.n}


class LatencyRecorder:
    """Collects the per-stage timings of every successful prediction."""

    def __init__(self) -> None:
        self._values: dict[str, list[float]] = {s: [] for s in STAGES}

    def add(self, prediction: Prediction) -> None:
        if prediction.ok:
            for stage, ms in prediction.timings_ms.items():
                self._values[stage].append(ms)

    def values(self, stage: str) -> np.ndarray:
        return np.asarray(self._values[stage], np.float64)

    def stats(self) -> dict[str, StageStats]:
        return {s: StageStats.of(v) for s, v in self._values.items() if v}


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
