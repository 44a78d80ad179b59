"""The per-frame stages: preprocess -> infer -> postprocess -> overlay, each timed.

``wait`` is timed too: from the frame's arrival to the start of its preprocessing (time in the
queue and the thread hand-off), so that ``end_to_end`` = ``wait`` + the stages.

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
from rtecho.types import Frame, ModelCard, Prediction, ViewChange

Annotate = Callable[[np.ndarray, Prediction], np.ndarray]


@dataclass(frozen=True, eq=False)
class Prepared:
    """What a mode-aware preprocessor gives: the network input (None: do not classify) and the mode."""

    x: np.ndarray | None
    mode: str = "bmode"


@dataclass(frozen=True, eq=False)
class Postprocessed:
    """Probabilities and arg-max (None for a frame that was not classified); ``smoothed`` says whether
    the smoothed fields come from a smoother (else the raw result is reported as smoothed)."""

    probabilities: np.ndarray | None
    index: int | None
    smoothed_label: str | None = None
    smoothed_probabilities: np.ndarray | None = None
    accepted: bool = True
    view_change: ViewChange | None = None
    smoothed: bool = False


class Postprocessor:
    """logits (K,) -> softmax probabilities and the arg-max class."""

    def __init__(self, card: ModelCard) -> None:
        self.labels = card.labels

    def __call__(self, logits: np.ndarray) -> Postprocessed:
        probs = softmax(logits.astype(np.float32))
        return Postprocessed(probs, int(np.argmax(probs)))

    def step(self, logits: np.ndarray | None, frame: Frame, mode: str) -> Postprocessed:
        """One frame of a stream (``logits`` None when the mode gate skipped inference)."""
        if logits is None:
            return Postprocessed(None, None, accepted=False)
        return self(logits)


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
        # a mode-aware preprocessor (rtecho.ultrasound.UltrasoundPreprocessor) may bring its postprocessor
        self.postprocess = (
            postprocessor or getattr(self.preprocess, "postprocessor", None) or Postprocessor(engine.card)
        )
        self.overlay = overlay
        self.model = engine.card.name
        self.backend = f"{engine.backend}/{engine.precision}"

    def idle(self, stop: Callable[[], bool] | None = None) -> bool:
        """Run a stage's deferred work (``idle(stop)`` of the preprocessor: the ultrasound stage's
        sector re-estimate, in steps) until ``stop()`` says a frame is waiting; True when there was some."""
        idle = getattr(self.preprocess, "idle", None)
        return bool(idle(stop)) if idle is not None else False

    def reset(self) -> None:
        """A new stream: forget the per-stream state of the stages that keep some."""
        for stage in {id(s): s for s in (self.preprocess, self.postprocess)}.values():
            reset = getattr(stage, "reset", None)
            if reset is not None:
                reset()

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
            prep = self.preprocess(frame.image)
            x, mode = (prep.x, prep.mode) if isinstance(prep, Prepared) else (prep, "bmode")
            t1 = clock()
            logits = self.engine.infer(x)[0] if x is not None else None
            t2 = clock()
        except (FrameError, EngineError) as exc:
            return self.error_result(frame.index, frame.timestamp, str(exc)), None
        step = getattr(self.postprocess, "step", None)
        if step is not None:
            post = step(logits, frame, mode)
        else:
            post = (
                self.postprocess(logits) if logits is not None else Postprocessed(None, None, accepted=False)
            )
        t3 = clock()
        timings = {
            "decode": frame.decode_ms,
            "wait": max(0.0, (t0 - frame.arrival) * 1e3),
            "preprocess": (t1 - t0) * 1e3,
            "infer": (t2 - t1) * 1e3,
            "postprocess": (t3 - t2) * 1e3,
        }
        transport = self.engine.transport_ms() if x is not None else None
        if transport is not None:  # a remote engine: the wire is its own stage, the rest stays infer
            timings["transport"] = transport
            timings["infer"] = max(0.0, timings["infer"] - transport)
        pred = self._prediction(frame, post, timings, (t3 - frame.arrival) * 1e3, mode)
        if self.overlay is None:
            return pred, None
        annotated = self.overlay(frame.image, pred)
        t4 = clock()
        timings["overlay"] = (t4 - t3) * 1e3
        return self._prediction(frame, post, timings, (t4 - frame.arrival) * 1e3, mode), annotated

    def _prediction(
        self, frame: Frame, post: Postprocessed, timings: dict, e2e_ms: float, mode: str = "bmode"
    ) -> Prediction:
        label = self.card.labels[post.index] if post.index is not None else None
        smoothed = post.smoothed
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
            smoothed_label=post.smoothed_label if smoothed else label,
            smoothed_probabilities=post.smoothed_probabilities if smoothed else post.probabilities,
            accepted=post.accepted,
            mode=mode,
            view_change=post.view_change,
        )
