"""The per-frame stages: preprocess -> infer -> postprocess -> overlay, each timed.

Each stage is a small callable that says what it takes and gives; :class:`FramePipeline` wires
them and turns one :class:`~rtecho.types.Frame` into one :class:`~rtecho.types.Prediction`. A
frame that cannot be processed (bad shape, engine failure) gives an error Prediction instead of
an exception, so one bad frame never ends a stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rtecho.errors import EngineError, FrameError
from rtecho.runtime.base import Engine
from rtecho.runtime.preprocess import Preprocessor, softmax
from rtecho.types import Frame, ModelCard, Prediction

Annotate = Callable[[np.ndarray, Prediction], np.ndarray]


@dataclass(frozen=True)
class Postprocessed:
    probabilities: np.ndarray
    index: int


class Postprocessor:
    """logits (K,) -> softmax probabilities and the arg-max class."""

    def __init__(self, card: ModelCard) -> None:
        self.labels = card.labels

    def __call__(self, logits: np.ndarray) -> Postprocessed:
        probs = softmax(logits.astype(np.float32))
        return Postprocessed(probs, int(np.argmax(probs)))


class FramePipeline:
    """Runs the stages on one frame; thread-safe as long as the engine is."""

    def __init__(
        self,
        engine: Engine,
        preprocessor: Callable[[np.ndarray], np.ndarray] | None = None,
        postprocessor: Postprocessor | None = None,
        overlay: Annotate | None = None,
    ) -> None:
        self.engine = engine
        self.card = engine.card
        self.preprocess = preprocessor or Preprocessor(engine.card)
        self.postprocess = postprocessor or Postprocessor(engine.card)
        self.overlay = overlay
        self.model = engine.card.name
        self.backend = f"{engine.backend}/{engine.precision}"

    def error_result(self, frame_index: int, timestamp: float, message: str) -> Prediction:
        return Prediction(
            frame_index=frame_index,
            timestamp=timestamp,
            label=None,
            index=None,
            probabilities=None,
            labels=self.card.labels,
            timings_ms={},
            model=self.model,
            backend=self.backend,
            accepted=False,
            error=message,
        )

    def __call__(self, frame: Frame) -> tuple[Prediction, np.ndarray | None]:
        """Process one frame; returns the prediction and the annotated image (None without overlay)."""
        clock = time.perf_counter
        t0 = clock()
        try:
            x = self.preprocess(frame.image)
            t1 = clock()
            logits = self.engine.infer(x)[0]
            t2 = clock()
        except (FrameError, EngineError) as exc:
            return self.error_result(frame.index, frame.timestamp, str(exc)), None
        post = self.postprocess(logits)
        t3 = clock()
        timings = {
            "decode": frame.decode_ms,
            "preprocess": (t1 - t0) * 1e3,
            "infer": (t2 - t1) * 1e3,
            "postprocess": (t3 - t2) * 1e3,
        }
        pred = self._prediction(frame, post, timings, (t3 - frame.arrival) * 1e3)
        if self.overlay is None:
            return pred, None
        annotated = self.overlay(frame.image, pred)
        t4 = clock()
        timings["overlay"] = (t4 - t3) * 1e3
        return self._prediction(frame, post, timings, (t4 - frame.arrival) * 1e3), annotated

    def _prediction(self, frame: Frame, post: Postprocessed, timings: dict, e2e_ms: float) -> Prediction:
        label = self.card.labels[post.index]
        return Prediction(
            frame_index=frame.index,
            timestamp=frame.timestamp,
            label=label,
            index=post.index,
            probabilities=post.probabilities,
            labels=self.card.labels,
            timings_ms={**timings, "end_to_end": e2e_ms},
            model=self.model,
            backend=self.backend,
            smoothed_label=label,
            smoothed_probabilities=post.probabilities,
        )
