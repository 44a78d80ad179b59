"""The frame pipeline: a checked sequence of stages that turns one Frame into one Prediction, each stage timed.

:class:`FramePipeline` runs its stages (:class:`~rtecho.pipeline.contract.Stage`) in order on one
:class:`~rtecho.pipeline.contract.FrameRecord` per frame, skips a stage whose condition says so, and
builds the :class:`~rtecho.types.Prediction` once: before the first stage that reads it (the overlay
draws it) or at the end. Stage times add up in their timing group (``preprocess``, ``infer``,
``postprocess``, ``overlay``); ``wait`` is from the frame's arrival to the first stage (time in the
queue and the thread hand-off), so that ``end_to_end`` = ``wait`` + the stages. A frame that cannot
be processed (bad shape, engine failure) gives an error Prediction instead of an exception, so one
bad frame never ends a stream.

The generic stages live here too: :class:`Preprocess` (the card's preprocessing), :class:`Classify`
(one engine), :class:`Softmax` and :class:`OverlayStage`. :func:`~rtecho.pipeline.compose.build_pipeline`
composes them (and the ultrasound ones) from options::

    from rtecho.pipeline.compose import build_pipeline
    pipe = build_pipeline(engine, ultrasound=True)
    print(pipe.describe())   # sector(image -> screen, sector) -> mode(screen, sector -> mode) -> ...
    prediction, annotated = pipe(frame)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rtecho.errors import EngineError, FrameError
from rtecho.pipeline.contract import (
    PREDICTION_FIELDS,
    RECORD_FIELDS,
    RUNNER_FIELDS,
    TIMING_GROUPS,
    FrameRecord,
    NoConfig,
    Stage,
    config_for,
)
from rtecho.runtime.base import Engine
from rtecho.runtime.preprocess import Preprocessor, softmax
from rtecho.types import STAGES, Frame, ModelCard, Prediction

Annotate = Callable[[np.ndarray, Prediction], np.ndarray]

#: Timing groups every Prediction reports (0.0 when no stage of the group ran), as before stages were split.
CORE_GROUPS: tuple[str, ...] = ("preprocess", "infer", "postprocess")


class FramePipeline:
    """Runs ``stages`` on each frame; ``card`` is the main classifier's (labels of every Prediction).

    The wiring is checked here: names unique, every input given by the runner (``frame``, ``image``,
    ``prediction``) or by an earlier stage, timing groups known, no stage after the prediction is
    built changing what it is made from. Not thread-safe: stages keep per-stream state.

    >>> from rtecho.types import ModelCard
    >>> card = ModelCard("m", "x", ("A2C", "A4C"), (16, 16))
    >>> FramePipeline([Preprocess(card)], card=card).describe()
    'preprocess(image -> x)'
    """

    def __init__(
        self, stages: Sequence[Stage], *, card: ModelCard, model: str | None = None, backend: str = ""
    ) -> None:
        self.stages: tuple[Stage, ...] = tuple(stages)
        self.card = card
        self.model = card.name if model is None else model
        self.backend = backend
        self.live = False  # set by reset(): the stream in progress is live
        self._extra, self._predict_at = _check_wiring(self.stages)
        self._starts = _early_starts(self.stages)
        self._groups = tuple(g for g in STAGES if g in CORE_GROUPS or any(s.timing == g for s in self.stages))
        self._before = tuple(  # groups reported with the prediction when it is built before the end
            g
            for g in self._groups
            if g in CORE_GROUPS or any(s.timing == g for s in self.stages[: self._predict_at])
        )

    @classmethod
    def for_engine(cls, engine: Engine, stages: Sequence[Stage]) -> FramePipeline:
        """``stages`` with the card, model name and backend of the main ``engine``."""
        return cls(
            stages, card=engine.card, model=engine.card.name, backend=f"{engine.backend}/{engine.precision}"
        )

    def describe(self) -> str:
        """The composition, one ``name(inputs -> outputs)`` per stage."""
        return " -> ".join(repr(s) for s in self.stages)

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine the stages run, each once."""
        return tuple({id(e): e for s in self.stages for e in s.engines}.values())

    def open(self) -> FramePipeline:
        """Open every engine (reference-counted: an engine opened elsewhere too stays open)."""
        for e in self.engines:
            e.open()
        return self

    def close(self) -> None:
        for e in self.engines:
            e.close()

    def __enter__(self) -> FramePipeline:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self, live: bool = False) -> None:
        """A new stream: every stage forgets its per-stream state. ``live``: frames come in real time
        (a paced file, a live source), so :attr:`FrameRecord.live <rtecho.pipeline.contract.FrameRecord>`
        tells stages that time between frames is idle time and a frame's latency counts."""
        self.live = live
        for s in self.stages:
            s.reset()

    def idle(self, stop: Callable[[], bool] | None = None) -> bool:
        """Run the stages' deferred work until ``stop()`` says a frame is waiting; True when there was
        some. Last stage first: a later stage's work is short and for the next frame (the mode gate's
        layout tests), an earlier one's may be long and resumable (the sector re-estimate, in steps).
        A stage whose idle work changed what it gives the next frame offers a
        :meth:`~rtecho.pipeline.contract.Stage.preview`; the stages after it :meth:`warm` up on it."""
        did = False
        for i in range(len(self.stages) - 1, -1, -1):
            if stop is not None and stop():
                break
            if self.stages[i].idle(stop):
                did = True
                rec = self.stages[i].preview()
                if rec is not None:  # a new sector: the later stages warm their masks for the next frame
                    for later in self.stages[i + 1 :]:
                        if stop is not None and stop():
                            break
                        later.warm(rec)
        return did

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
        try:
            rec = self.run(frame)
        except (FrameError, EngineError) as exc:
            return self.error_result(frame.index, frame.timestamp, str(exc)), None
        if rec.prediction is None:
            rec.prediction = self._prediction(rec)
        return rec.prediction, rec.annotated

    def run(self, frame: Frame) -> FrameRecord:
        """The stages on one frame: the full record, its ``prediction`` built only if a stage read it
        (raises FrameError/EngineError where :meth:`__call__` gives an error result)."""
        clock = time.perf_counter
        t0 = t = clock()
        rec = FrameRecord(frame, frame.image, self.live)
        for name in self._extra:
            setattr(rec, name, None)
        groups = dict.fromkeys(self._groups, 0.0)
        stage_ms = rec.stage_ms
        starts = self._starts
        if -1 in starts:  # stages that start from the runner's fields only
            t = _start_early(starts[-1], rec, groups, t)
        for i, stage in enumerate(self.stages):
            if i == self._predict_at:
                self._timings(rec, groups, self._before, t0, t)
                rec.prediction = self._prediction(rec)
            if stage.when(rec):
                stage(rec)
            now = clock()
            ms = (now - t) * 1e3
            stage_ms[stage.name] = stage_ms.get(stage.name, 0.0) + ms  # + an early start's hand-off
            groups[stage.timing] += ms
            t = now
            if i in starts:  # stages that start after this one (on their threads)
                t = _start_early(starts[i], rec, groups, t)
        # a prediction built already holds this dict: filled in with the stages after it (not out yet)
        self._timings(rec, groups, self._groups, t0, t)
        return rec

    @staticmethod
    def _timings(rec: FrameRecord, groups: dict, names: tuple[str, ...], t0: float, t: float) -> None:
        frame, out = rec.frame, rec.timings_ms
        out.clear()
        out["decode"] = frame.decode_ms
        out["wait"] = max(0.0, (t0 - frame.arrival) * 1e3)
        for g in names:
            out[g] = groups[g]
        if rec.transport_ms is not None:  # a remote engine: the wire is its own stage, the rest stays infer
            out["transport"] = rec.transport_ms
            out["infer"] = max(0.0, out["infer"] - rec.transport_ms)
        if "overlay" in out:  # the order of the keys as before (overlay, then end_to_end)
            out["overlay"] = out.pop("overlay")
        out["end_to_end"] = (t - frame.arrival) * 1e3

    def _prediction(self, rec: FrameRecord) -> Prediction:
        label = self.card.labels[rec.index] if rec.index is not None else None
        return Prediction(
            frame_index=rec.frame.index,
            timestamp=rec.frame.timestamp,
            label=label,
            index=rec.index,
            probabilities=rec.probabilities,
            labels=self.card.labels,
            timings_ms=rec.timings_ms,
            model=self.model,
            backend=self.backend,
            smoothed_label=rec.smoothed_label if rec.smoothed else label,
            smoothed_probabilities=rec.smoothed_probabilities if rec.smoothed else rec.probabilities,
            accepted=rec.accepted,
            mode=rec.mode,
            view_change=rec.view_change,
            **self._cardiac(rec),
        )

    @staticmethod
    def _cardiac(rec: FrameRecord) -> dict[str, Any]:
        """The cardiac stages' fields of the Prediction (rtecho.pipeline.cardiac), when they ran."""
        d = rec.__dict__
        if "lv" not in d and "lv_mask" not in d:
            return {}
        return {"lv": d.get("lv"), "lv_mask": d.get("lv_mask"), "beats": d.get("beats") or ()}


def _start_early(stages: tuple[Stage, ...], rec: FrameRecord, groups: dict[str, float], t: float) -> float:
    """Call each stage's :meth:`~rtecho.pipeline.contract.Stage.start`, timing its hand-off into the
    stage's time and timing group as the runner times a stage; the clock after them."""
    for early in stages:
        early.start(rec)
        now = time.perf_counter()
        ms = (now - t) * 1e3
        rec.stage_ms[early.name] = ms
        groups[early.timing] += ms
        t = now
    return t


def _early_starts(stages: tuple[Stage, ...]) -> dict[int, tuple[Stage, ...]]:
    """{index of a stage (-1: before the first): the stages that :meth:`~rtecho.pipeline.contract.Stage.start`
    right after it}: a stage with ``start_inputs`` starts after the last earlier stage giving one of them,
    when other stages run between that one and it (else there is nothing to overlap: no early start)."""
    out: dict[int, list[Stage]] = {}
    for j, s in enumerate(stages):
        if s.start_inputs is None:
            continue
        at = -1
        for f in s.start_inputs:
            if f in RUNNER_FIELDS:
                continue
            giver = [i for i in range(j) if f in stages[i].outputs]
            if not giver:
                raise ValueError(f"stage {s.name!r} starts early from {f!r}, which no earlier stage gives")
            at = max(at, giver[-1])
        if at < j - 1:
            out.setdefault(at, []).append(s)
    return {i: tuple(v) for i, v in out.items()}


def _check_wiring(stages: tuple[Stage, ...]) -> tuple[tuple[str, ...], int]:
    """(the fields the stages add to the record, the index of the first stage reading ``prediction``)."""
    given = set(RUNNER_FIELDS)
    names: set[str] = set()
    predict_at = next((i for i, s in enumerate(stages) if "prediction" in s.inputs), len(stages))
    for i, s in enumerate(stages):
        if not s.name or s.name in names:
            raise ValueError(f"stage {s!r}: {'a name is needed' if not s.name else 'the name is taken'}")
        names.add(s.name)
        if s.timing not in TIMING_GROUPS:
            raise ValueError(f"stage {s.name!r}: timing {s.timing!r} is not one of {TIMING_GROUPS}")
        missing = [f for f in s.inputs if f not in given]
        if missing:
            raise ValueError(f"stage {s.name!r} reads {missing}, which no earlier stage gives")
        owned = sorted(RUNNER_FIELDS & set(s.outputs) - {"annotated"})
        if owned:
            raise ValueError(f"stage {s.name!r} cannot give {owned}: the runner sets them")
        late = sorted(PREDICTION_FIELDS & set(s.outputs)) if i >= predict_at else []
        if late:
            raise ValueError(f"stage {s.name!r} gives {late} after the prediction is built (it reads none)")
        given.update(s.outputs)
    extra = tuple(sorted({f for s in stages for f in s.outputs} - RECORD_FIELDS))
    return extra, predict_at


# -- the generic stages ----------------------------------------------------------------------------


class Preprocess(Stage):
    """The card's preprocessing (colour -> channels, resize, normalise) of the whole frame."""

    name, inputs, outputs, timing = "preprocess", ("image",), ("x",), "preprocess"

    def __init__(self, card: ModelCard, config: Any = None) -> None:
        self.config = config_for(NoConfig, config, self.name)
        self.base = Preprocessor(card)

    def __call__(self, rec: FrameRecord) -> None:
        rec.x = self.base.apply(rec.image)


class Classify(Stage):
    """``engine`` on the classifier input: logits (skipped when there is no input, e.g. a gated mode)."""

    name, inputs, outputs, timing = "classify", ("x",), ("logits", "transport_ms"), "infer"

    def __init__(self, engine: Engine, config: Any = None) -> None:
        self.config = config_for(NoConfig, config, self.name)
        self.engine = engine
        self.engines = (engine,)

    def when(self, rec: FrameRecord) -> bool:
        return rec.x is not None

    def __call__(self, rec: FrameRecord) -> None:
        rec.logits = self.engine.infer(rec.x)[0]
        wire = self.engine.transport_ms()
        if wire is not None:
            rec.transport_ms = (rec.transport_ms or 0.0) + wire


class Softmax(Stage):
    """logits (K,) -> softmax probabilities and the arg-max class (every classified frame accepted)."""

    name, inputs, outputs = "softmax", ("logits",), ("probabilities", "index", "accepted")

    def __init__(self, config: Any = None) -> None:
        self.config = config_for(NoConfig, config, self.name)

    def when(self, rec: FrameRecord) -> bool:
        return rec.logits is not None

    def __call__(self, rec: FrameRecord) -> None:
        rec.probabilities = softmax(rec.logits.astype(np.float32))
        rec.index = int(np.argmax(rec.probabilities))
        rec.accepted = True


class OverlayStage(Stage):
    """Draws the prediction on the frame (``annotate(image, prediction)``, e.g. :func:`rtecho.viz.default_overlay`)."""

    name, inputs, outputs, timing = "overlay", ("image", "prediction"), ("annotated",), "overlay"

    def __init__(self, annotate: Annotate, config: Any = None) -> None:
        self.config = config_for(NoConfig, config, self.name)
        self.annotate = annotate

    def __call__(self, rec: FrameRecord) -> None:
        assert rec.prediction is not None
        rec.annotated = self.annotate(rec.image, rec.prediction)
