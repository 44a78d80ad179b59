"""The cardiac stages: ``segment`` (the LV segmenter, a second engine) -> ``beats`` (LV shape, beats, EF).

- ``segment`` (:class:`SegmentStage`): the LV mask of the frame by the segmenter engine
  (:class:`~rtecho.cardiac.segment.LVSegmenter`'s logic: crop to the imaging sector, blank outside it,
  the card's preprocessing, per-pixel logits, the largest part, back to the source size). With the
  ultrasound stages on it reuses the frame's sector from the ``sector`` stage. It runs only when the
  view is apical (the smoothed view with the ultrasound stages, else the classified one) and in
  ``views`` (default A4C, A2C), or on every frame when the user names the clip's view (``view="A4C"``:
  ``rtecho run --ef-view A4C``).
- ``beats`` (:class:`BeatsStage`): per-frame LV area, long axis and volumes
  (:func:`~rtecho.cardiac.measure_lv`), then :class:`~rtecho.cardiac.BeatTracker` (ED/ES, EF per beat,
  running EF, heart rate; paused on non-apical views and reset on a change of view, as the tracker does).
  It runs on every frame (a frame with no LV or a non-apical view is the tracker's to count), and gives
  ``lv`` (a JSON-ready dict: area, length, confidence, ef, heart_rate, units) and ``beats`` (the
  :class:`~rtecho.cardiac.BeatEvent` s confirmed at this frame), which reach the Prediction (so the
  callback, the JSONL sink and the overlay see them) with the mask (``Prediction.lv_mask``).

Built by :func:`~rtecho.pipeline.compose.build_pipeline` with ``ef=True`` (the shipped segmenter
unless ``engines={"segment": engine}``)::

    pipe = build_pipeline(engine, ultrasound=True, ef=True, overlay=default_overlay())
    pipe = build_pipeline(engine, ultrasound=True, engines={"segment": seg}, segment={"view": "A4C"})
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from rtecho.cardiac.beats import BeatTracker
from rtecho.cardiac.events import TrackerConfig
from rtecho.cardiac.lv import measure_lv
from rtecho.cardiac.segment import LVSegmenter
from rtecho.errors import FrameError
from rtecho.pipeline.contract import FrameRecord, Stage, config_for
from rtecho.runtime.base import Engine
from rtecho.types import ModelCard

#: The shipped segmenters in order of preference (docs/lvseg.md: held-out simulator Dice, latency).
PREFERRED_SEGMENTERS = ("lvseg_lite", "lvseg_aspp")


def default_segmenter_path(flag: str = "--segmenter") -> str:
    """The shipped LV segmenter (``engines/lvseg_*.onnx``, fp32): ``lvseg_lite`` first (the higher
    held-out simulator Dice at ED and ES, worst frames included, at half ``lvseg_aspp``'s latency: see
    docs/lvseg.md), then ``lvseg_aspp``, then the others by name."""
    from rtecho.errors import EngineError
    from rtecho.runtime.model_file import engine_dirs

    def rank(p):
        return (
            PREFERRED_SEGMENTERS.index(p.stem)
            if p.stem in PREFERRED_SEGMENTERS
            else len(PREFERRED_SEGMENTERS),
            p.name,
        )

    found = sorted(
        (p for d in engine_dirs() for p in d.glob("lvseg_*.onnx") if p.stem.count(".") == 0), key=rank
    )
    if not found:
        raise EngineError(f"no LV segmenter found (engines/lvseg_*.onnx); pass one with {flag}")
    return str(found[0])


_VIEW_US = ("smoothed", "smoothed_label")  # the smoothed view: read with the ultrasound stages


def _view(rec: FrameRecord, labels: tuple[str, ...]) -> str | None:
    """The frame's view: the smoothed one with the ultrasound stages, else the classified one."""
    if rec.smoothed:
        return rec.smoothed_label
    return labels[rec.index] if rec.accepted and rec.index is not None else None


@dataclass(frozen=True)
class SegmentConfig:
    """``views``: segment when the frame's view is one of these; ``view``: the user says the clip is this
    view (segment every frame, the beat tracker takes it as the view); ``sector``: crop to the sector."""

    views: tuple[str, ...] = ("A4C", "A2C")
    view: str | None = None
    sector: bool = True
    always: bool = False  # segment every frame whatever the view (the beat tracker still gates on it)
    concurrent: bool | None = None  # beside the classifier on a worker thread (None: with 2+ cores)


class SegmentStage(Stage):
    """The LV segmenter on the frame's sector crop. With the ultrasound stages and two or more cores
    (``concurrent``), its engine runs beside the classifier's: right after the classifier's
    preprocessing (the crop is shared then) the stage makes its own input on the calling thread and
    hands the inference to a worker thread of its own, while the classifier runs on the calling
    thread; both engines release the GIL, so the two inferences run on two cores. The mask is made
    from the logits here. Whether the frame needs the segmenter is known only after the classifier
    (the smoothed view), so the start is a guess from the previous frame (it was segmented, or the
    user named the view); a frame the guess missed is segmented here, a guess the frame does not need
    is discarded. The result is the same either way (the same function of the same frame);
    ``stage_ms["segment"]`` is the time the stage adds to the frame (input, hand-off, wait, mask),
    ``stage_ms["segment_worker"]`` the engine's own time on its thread. ``start_inputs``: the fields
    after which to start (:func:`make_segment` gives the ultrasound pipeline's; None: no early start).
    """

    name, outputs, timing = "segment", ("lv_mask", "lv_part", "lv_confidence", "lv_view"), "infer"

    def __init__(
        self,
        engine: Engine,
        card: ModelCard,
        config: SegmentConfig | dict | None = None,
        *,
        ultrasound: bool = False,
        start_inputs: tuple[str, ...] | None = None,
    ) -> None:
        self.config = config_for(SegmentConfig, config, self.name)
        self.engine, self.engines = engine, (engine,)
        self.labels = card.labels
        self.own_sector = self.config.sector and not ultrasound  # no sector stage: track it here
        self.seg = LVSegmenter(engine, ultrasound=self.own_sector)
        self.use_sector = self.config.sector and ultrasound
        self.inputs = ("image", "index", "accepted") + _VIEW_US * ultrasound + ("sector",) * self.use_sector
        concurrent = self.config.concurrent
        if concurrent is None:
            concurrent = (os.cpu_count() or 1) >= 2
        self._pool: Any = None
        self._job: tuple[Any, ...] | None = None  # (the record it is for, its future, roi, keep)
        self._guess = False  # the last frame was segmented: start the next one early
        if concurrent and self.use_sector and start_inputs is not None:
            self.start_inputs = start_inputs  # build_pipeline's: after the classifier's preprocessing

    def when(self, rec: FrameRecord) -> bool:
        if self.config.view is not None or self.config.always:
            return True
        return _view(rec, self.labels) in self.config.views

    def _input(self, rec: FrameRecord) -> tuple[Any, Any, Any]:
        # the frame's de-interleaved planes when a stage made them (the ultrasound stages' screen, optional:
        # not an input, so pipelines without it still build); the same numbers either way
        screen = rec.screen
        planes = screen.planes_if_computed() if screen is not None else None
        shared = screen.shared if screen is not None else None  # the classifier's reduced crop
        return self.seg.input_for(rec.image, rec.sector, check=False, planes=planes, shared=shared)

    def _timed_infer(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        return self.seg._infer(x), (time.perf_counter() - t0) * 1e3

    def start(self, rec: FrameRecord) -> None:
        self._settle()
        guess, self._guess = self._guess or self.config.view is not None or self.config.always, False
        if not guess:
            return
        try:  # the input here: numpy work would only wait for the GIL on the worker
            x, roi, keep = self._input(rec)
        except (FrameError, ValueError):  # not the guess's to report: __call__ redoes it when apical
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="rtecho-segment")
            weakref.finalize(self, self._pool.shutdown, wait=False)
        self._job = (rec, self._pool.submit(self._timed_infer, x), roi, keep)

    def _settle(self) -> None:
        """Wait for an early start this frame did not collect (discarded: the frame was not segmented)."""
        if self._job is not None:
            fut = self._job[1]
            self._job = None
            with contextlib.suppress(Exception):  # a discarded guess: its error belongs to no frame
                fut.result()

    def __call__(self, rec: FrameRecord) -> None:
        self._guess = True
        if self.use_sector:
            job, self._job = self._job, None
            if job is not None and job[0] is rec:
                logits, ms = job[1].result()  # re-raises the worker's EngineError for this frame
                rec.stage_ms["segment_worker"] = ms
                lvm = self.seg.mask_from(logits, rec.image.shape[:2], job[2], job[3])
            else:
                if job is not None:  # not this frame's (cannot happen through the runner): discard
                    self._job = job
                    self._settle()
                x, roi, keep = self._input(rec)
                lvm = self.seg.mask_from(self.seg._infer(x), rec.image.shape[:2], roi, keep)
        else:
            if self.own_sector:
                self.seg.sector = self.seg.detector.update(rec.image)
            lvm = self.seg.segment_in(rec.image, self.seg.sector, check=False)
        rec.lv_mask, rec.lv_confidence = lvm.mask, lvm.confidence
        rec.lv_part = (lvm.part, lvm.origin)  # the window the beats stage measures (same numbers, less work)
        rec.lv_view = self.config.view  # the user's; else the beats stage reads the frame's view

    def idle(self, stop: Any = None) -> bool:
        busy = self._job is not None
        self._settle()  # a discarded early start: done before the next frame's
        return busy

    def reset(self) -> None:
        self._settle()
        self._guess = False
        if self.seg.detector is not None:
            self.seg.detector.reset()
        self.seg.sector = None


@dataclass(frozen=True)
class BeatsConfig:
    """:class:`~rtecho.cardiac.BeatTracker`'s options (``tracker``: a TrackerConfig or a dict of its
    fields); ``spacing_mm``: the pixel size (default: the source's, e.g. DICOM; else pixels)."""

    tracker: TrackerConfig | dict | None = None
    spacing_mm: float | tuple[float, float] | None = None


class BeatsStage(Stage):
    name, outputs = "beats", ("lv", "beats")

    def __init__(
        self, card: ModelCard, config: BeatsConfig | dict | None = None, *, ultrasound: bool = False
    ) -> None:
        self.config = config_for(BeatsConfig, config, self.name)
        self.inputs = (
            "frame",
            "lv_mask",
            "lv_part",
            "lv_confidence",
            "lv_view",
            "index",
            "accepted",
        ) + _VIEW_US * ultrasound
        self.labels = card.labels
        t = self.config.tracker
        self.tracker_config = t if isinstance(t, TrackerConfig) else TrackerConfig(**(t or {}))
        self.tracker: BeatTracker | None = None
        self._last_t: float | None = None
        self.units = "px"

    def _tracker(self, rec: FrameRecord) -> BeatTracker:
        if self.tracker is None:
            mm = self.config.spacing_mm
            if mm is None and rec.frame.source is not None:
                mm = rec.frame.source.pixel_spacing_mm
            spacing = None
            if mm is not None:
                sy, sx = (mm, mm) if np.isscalar(mm) else mm  # type: ignore[misc]
                spacing = (float(sy) / 10.0, float(sx) / 10.0)
                self.units = "cm"
            self.tracker = BeatTracker(self.tracker_config, spacing)
        return self.tracker

    def __call__(self, rec: FrameRecord) -> None:
        tracker = self._tracker(rec)
        t = rec.frame.timestamp
        if self._last_t is not None and t <= self._last_t:  # a source without timestamps: keep order
            fps = rec.frame.source.fps if rec.frame.source is not None else None
            t = self._last_t + 1.0 / (fps or 30.0)
        self._last_t = t
        view = rec.lv_view or _view(rec, self.labels)
        if rec.lv_mask is None:  # not segmented (not apical): the tracker pauses / resets on the view
            shape = measure_lv(np.zeros((1, 1), bool))
            conf = None
        else:
            part = rec.lv_part  # the segment stage's window of the mask (None: another stage gave lv_mask)
            if part is not None:
                shape = measure_lv(part[0], tracker.spacing, origin=part[1])
            else:
                shape = measure_lv(rec.lv_mask, tracker.spacing)
            conf = None if shape.empty else rec.lv_confidence
        rec.beats = tuple(tracker.update(shape, None, rec.frame.index, t, view, conf))
        if rec.lv_mask is None:
            rec.lv = None
            return
        rec.lv = {
            "area": _num(shape.area),
            "length": _num(shape.length),
            "confidence": _num(conf),
            "ef": _num(tracker.running_ef),
            "heart_rate": _num(tracker.heart_rate),
            "units": self.units,
            "view": view,
        }

    def reset(self) -> None:
        self.tracker = None
        self._last_t = None


def _num(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def make_segment(ctx: Any, section: Any) -> SegmentStage | None:
    """The ``segment`` stage of :func:`~rtecho.pipeline.compose.build_pipeline`: with ``ef=True`` or a
    ``segment`` engine (the shipped segmenter when ``ef=True`` names none)."""
    engine = ctx.engines.get("segment")
    if engine is None and not ctx.ef:
        return None
    if engine is None:
        from rtecho.runtime import load_engine

        engine = load_engine(default_segmenter_path())
    # with the ultrasound stages the engine starts beside the classifier, once its input is made
    early = ("image", "sector", "x") if ctx.ultrasound else None
    return SegmentStage(engine, ctx.card, section, ultrasound=ctx.ultrasound, start_inputs=early)


def make_beats(ctx: Any, section: Any) -> BeatsStage | None:
    return (
        BeatsStage(ctx.card, section, ultrasound=ctx.ultrasound)
        if (ctx.ef or "segment" in ctx.engines)
        else None
    )
