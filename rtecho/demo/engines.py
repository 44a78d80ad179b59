"""Engines for the demo: one opened engine and StreamProcessor per (model, backend), and model cards.

Nothing here imports gradio; the app calls these from its event handlers.

>>> cache = EngineCache()
>>> proc = cache.processor("tiny-untrained")  # doctest: +SKIP
>>> proc.process(image).label  # doctest: +SKIP
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rtecho.errors import RtechoError
from rtecho.pipeline import LatencyRecorder, StreamProcessor
from rtecho.runtime import (
    Engine,
    available_backends,
    default_backend,
    list_models,
    load_card,
    load_engine,
    resolve_model,
)
from rtecho.types import ModelCard

#: Shown with every model card and under the title of the app.
DISCLAIMER = (
    "**Not for clinical use.** The shipped weights are demonstration weights trained on simulated "
    "echocardiograms (rtecho's phantom simulator), not on patient data; do not use them to diagnose."
)
UNTRAINED_NOTE = (
    "**This model is UNTRAINED** (random weights, for smoke tests): its labels mean nothing. "
    "Trained models appear here once they are exported to `engines/`."
)


def model_choices(extra: str | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs for a model selector: every model in ``engines/`` (and ``extra``, a path)."""
    out: list[tuple[str, str]] = []
    for path in list_models():
        try:
            card = load_card(path, verify=False)
        except RtechoError:
            card = None
        if card is not None and card.task != "classification":
            continue  # segmenters are not view classifiers
        trained = card.trained if card is not None else True
        out.append((path.stem if trained else f"{path.stem} (untrained)", path.stem))
    if extra is not None and extra not in {value for _, value in out}:
        out.append((Path(extra).stem, extra))
    return out


def backend_choices() -> list[str]:
    """Installed inference backends, preferred first."""
    return available_backends()


class EngineCache:
    """Opened engines and synchronous StreamProcessors, one per (model, backend), shared by sessions.

    ``processor(model, backend)`` loads and opens the engine on first use only; ``engine(...)`` gives
    the same engine for file runs. ``latency(model, backend)`` records the live frames' timings.
    Thread-safe; ``close()`` releases everything.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[Engine, StreamProcessor, LatencyRecorder]] = {}

    @staticmethod
    def key(model: str, backend: str | None) -> tuple[str, str]:
        return (str(model), backend or default_backend())

    def _entry(self, model: str, backend: str | None) -> tuple[Engine, StreamProcessor, LatencyRecorder]:
        key = self.key(model, backend)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                engine = load_engine(key[0], backend=key[1])
                proc = StreamProcessor(
                    engine, pipeline=demo_pipeline(engine)
                ).__enter__()  # closed in close()
                entry = (engine, proc, LatencyRecorder())
                self._entries[key] = entry
            return entry

    def engine(self, model: str, backend: str | None = None) -> Engine:
        """The opened engine of ``model`` on ``backend`` (loaded once)."""
        return self._entry(model, backend)[0]

    def processor(self, model: str, backend: str | None = None) -> StreamProcessor:
        """The synchronous processor (no overlay, no sinks) of ``model`` on ``backend`` (built once)."""
        return self._entry(model, backend)[1]

    def recorder(self, model: str, backend: str | None = None) -> LatencyRecorder:
        """Latencies of the live frames processed with ``model`` on ``backend``."""
        return self._entry(model, backend)[2]

    def loaded(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._entries)

    def close(self) -> None:
        """Close every processor (and with it its engine)."""
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        for _, proc, _ in entries:
            proc.__exit__(None, None, None)


def cardiac_ok(engine: Engine) -> bool:
    """Whether the demo runs the cardiac stages with this classifier: a trained model that knows an
    apical view (A4C or A2C), and a shipped LV segmenter."""
    card = engine.card
    if not (card.trained and card.task == "classification" and {"A4C", "A2C"} & set(card.labels)):
        return False
    from rtecho.errors import EngineError
    from rtecho.pipeline.cardiac import default_segmenter_path

    try:
        default_segmenter_path()
    except EngineError:
        return False
    return True


def demo_pipeline(engine: Engine, overlay: Any = None) -> Any:
    """The demo's stages: the classifier, and on apical views the LV contour, beats and EF
    (``build_pipeline(engine, ef=True)``) when :func:`cardiac_ok`; None (the plain pipeline) otherwise
    and without an overlay; the plain pipeline with ``overlay`` otherwise."""
    from rtecho.pipeline import build_pipeline

    if cardiac_ok(engine):
        return build_pipeline(engine, ef=True, overlay=overlay)
    return None if overlay is None else build_pipeline(engine, overlay=overlay)


def _fmt_metric(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "n/a"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_fmt_metric(v)}" for k, v in value.items())
    return str(value)


def card_for(model: str) -> ModelCard:
    """The model card of a model name or path (the sha256 is checked when the engine loads)."""
    return load_card(resolve_model(model), verify=False)


def card_markdown(card: ModelCard, backend: str = "", live_latency: LatencyRecorder | None = None) -> str:
    """The model card as Markdown: labels, training data, metrics, measured latency and the disclaimer."""
    lines = [f"### {card.name}", ""]
    if not card.trained:
        lines += [f"> {UNTRAINED_NOTE}", ""]
    lines += [f"> {DISCLAIMER}", ""]
    if card.description:
        lines += [card.description, ""]
    rows = [
        ("architecture", card.architecture),
        ("trained", "yes" if card.trained else "**no (random weights)**"),
        ("input", f"{card.input_size_hw[0]}x{card.input_size_hw[1]} (HxW), {card.channels} channel(s)"),
        ("parameters", f"{card.params:,}" if card.params is not None else "n/a"),
        ("FLOPs", f"{card.flops / 1e6:.1f} M" if card.flops is not None else "n/a"),
        ("training data", card.training_data or "not stated"),
        ("ONNX sha256", f"`{card.onnx_sha256[:16]}...`" if card.onnx_sha256 else "n/a"),
        ("rtecho version", card.rtecho_version or "n/a"),
    ]
    lines += ["| field | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
    lines += [f"**Labels ({len(card.labels)}):** " + ", ".join(f"`{lab}`" for lab in card.labels), ""]
    lines.append("**Metrics (from the card):**")
    if card.metrics:
        lines += ["", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt_metric(v)} |" for k, v in card.metrics.items()]
    else:
        lines.append(" none recorded" + (" (untrained model)" if not card.trained else ""))
    lines.append("")
    lines.append(f"**Latency measured in this app{f' on {backend}' if backend else ''}:**")
    stats = live_latency.stats() if live_latency is not None else {}
    if stats:
        lines += ["", "| stage | n | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
        for stage, s in stats.items():
            if s.max == 0.0:  # a stage that did not run (decode of pushed frames)
                continue
            lines.append(f"| {stage} | {s.n} | {s.p50:.2f} | {s.p95:.2f} | {s.max:.2f} |")
    else:
        lines.append(" no frames yet (stream the webcam, or press *Measure latency*)")
    return "\n".join(lines)
