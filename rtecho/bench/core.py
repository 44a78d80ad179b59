"""Benchmark runs: one model on one backend through the full stream processor.

Method: the clip is decoded once (the decode time of every frame is kept); the engine is warmed up;
then the frames are replayed through :class:`~rtecho.pipeline.StreamProcessor` paced at the
clip's fps (as a scanner delivers them: no queue builds up unless the model is too slow), for
``frames`` frames. Every stage is timed with ``perf_counter``; we report medians and tail
percentiles, never means alone.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtecho.bench.replay import ReplaySource
from rtecho.pipeline import StreamProcessor, StreamSummary
from rtecho.runtime import load_engine
from rtecho.types import Frame


@dataclass
class BenchResult:
    model: str
    backend: str
    precision: str
    input_size_hw: tuple[int, int]
    params: int | None
    flops: int | None
    trained: bool
    clip: str
    summary: StreamSummary
    settings: dict[str, Any] = field(default_factory=dict)

    def stat(self, stage: str, q: str) -> float:
        s = self.summary.latency.get(stage)
        return getattr(s, q) if s else float("nan")

    @property
    def overhead_ms(self) -> float:
        """End-to-end p50 minus infer p50: what rtecho adds around the model."""
        return self.stat("end_to_end", "p50") - self.stat("infer", "p50")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "precision": self.precision,
            "input_size_hw": list(self.input_size_hw),
            "params": self.params,
            "flops": self.flops,
            "trained": self.trained,
            "clip": self.clip,
            "overhead_ms": round(self.overhead_ms, 4),
            "settings": self.settings,
            **self.summary.to_dict(),
        }


def load_clip(path_or_uri: str, max_frames: int | None = None) -> tuple[list[Frame], float, str]:
    """Decode a clip into memory; returns (frames, fps, label for tables)."""
    from rtecho.io import open_source

    with open_source(path_or_uri) as src:
        frames = []
        for f in src:
            frames.append(f)
            if max_frames and len(frames) >= max_frames:
                break
        fps = src.info.fps or 30.0
    return frames, fps, Path(str(path_or_uri)).name


def pydicom_a4c() -> str:
    """Path of pydicom's real 30-frame A4C cine loop (YBR_FULL_422 JPEG baseline)."""
    from rtecho._lazy import require

    examples = require("pydicom.examples", "dicom", "the bundled real A4C cine")
    return str(examples.get_path("ybr_color"))


def bench_model(
    model: str,
    frames: list[Frame],
    fps: float,
    clip: str,
    backend: str | None = None,
    precision: str = "fp32",
    n_frames: int = 300,
    warmup: int = 30,
    pace: bool = True,
    **options: Any,
) -> BenchResult:
    """Run ``model`` over ``n_frames`` replayed frames and return the stage statistics."""
    engine = load_engine(model, backend=backend, precision=precision, **options)
    loops = max(1, -(-n_frames // len(frames)))
    with StreamProcessor(engine, policy="latest" if pace else "block") as proc:
        x = np.zeros((1, *engine.input_shape), np.float32)
        for _ in range(warmup):
            engine.infer(x)
        summary = proc.run(ReplaySource(frames, fps, loops=loops, pace=pace, live=pace))
        info = engine.info
    card = engine.card
    return BenchResult(
        model=card.name,
        backend=info.backend,
        precision=info.precision,
        input_size_hw=card.input_size_hw,
        params=card.params,
        flops=card.flops,
        trained=card.trained,
        clip=clip,
        summary=summary,
        settings=dict(info.settings),
    )


def environment() -> dict[str, Any]:
    """The machine and library versions a result was measured on."""
    import importlib.metadata as md

    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for pkg in ("numpy", "onnxruntime", "openvino", "tensorrt", "torch", "av", "pydicom"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    from rtecho._version import __version__

    return {
        "rtecho": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "versions": versions,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def format_table(results: list[BenchResult]) -> str:
    """The latency table (ms) printed by ``make bench``."""
    head = (
        f"{'model':<16}{'backend':<18}{'input':>8}{'params':>9}{'MFLOPs':>8}"
        f"{'pre p50':>8}{'inf p50':>8}{'inf p99':>8}{'e2e p50':>8}{'e2e p99':>8}{'ovh':>7}{'fps':>7}{'drop':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        name = r.model + ("*" if not r.trained else "")
        lines.append(
            f"{name:<16}{r.backend + '/' + r.precision:<18}{'x'.join(map(str, r.input_size_hw)):>8}"
            f"{_k(r.params):>9}{(r.flops or 0) / 1e6:>8.1f}"
            f"{r.stat('preprocess', 'p50'):>8.3f}{r.stat('infer', 'p50'):>8.3f}{r.stat('infer', 'p99'):>8.3f}"
            f"{r.stat('end_to_end', 'p50'):>8.3f}{r.stat('end_to_end', 'p99'):>8.3f}{r.overhead_ms:>7.3f}"
            f"{r.summary.fps:>7.1f}{r.summary.dropped:>5}"
        )
    if any(not r.trained for r in results):
        lines.append("* untrained (random weights): timing only, labels meaningless")
    return "\n".join(lines)


def _k(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"
