"""The ultrasound stages: sector -> mode -> prepare -> (classify) -> calibrate -> smooth.

Each wraps one of :mod:`rtecho.ultrasound`'s algorithms and keeps its per-stream state:

- ``sector`` (:class:`~rtecho.ultrasound.SectorDetector`): the frame's :class:`ScreenFrame` (its
  downsamples, computed once and shared by the stages after it) and the imaging sector; its window
  re-estimate is deferred to :meth:`SectorStage.idle`, which the stream processor calls between frames;
  on a live stream the first estimate too (and one after a geometry change): that frame gets a
  provisional box (:func:`~rtecho.ultrasound.sector.quick_sector`, a few ms instead of tens);
- ``mode`` (:class:`~rtecho.ultrasound.ModeGate`): the scan mode;
- ``prepare``: crop to the sector's box, blank outside it and the card's preprocessing, only for
  frames in a classified mode (:data:`~rtecho.types.CLASSIFIED_MODES`): other frames skip inference;
- ``calibrate`` (:class:`~rtecho.ultrasound.Calibration`, default the card's): calibrated
  probabilities and rejection as unknown;
- ``smooth`` (:class:`~rtecho.ultrasound.TemporalSmoother`): smoothed view with hysteresis and
  :class:`~rtecho.types.ViewChange` events (in ``Prediction.view_change``, so they reach the callback,
  the JSONL sink and the overlay). Rejected and not-classified frames leave it as it is.

Built by :func:`~rtecho.pipeline.compose.build_pipeline` with ``ultrasound=True``; each stage's config
section goes by its name::

    from rtecho.pipeline import StreamProcessor, build_pipeline

    pipe = build_pipeline(engine, ultrasound=True, smooth={"tau_s": 0.1})
    with StreamProcessor(engine, pipeline=pipe, callback=on_result) as proc:
        proc.run(source)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtecho.pipeline.contract import FrameRecord, Stage, config_for
from rtecho.runtime.preprocess import LUMA, Preprocessor
from rtecho.types import CLASSIFIED_MODES, Frame, ModelCard
from rtecho.ultrasound._screen import ScreenFrame
from rtecho.ultrasound.calibration import Calibration
from rtecho.ultrasound.mode import ModeGate
from rtecho.ultrasound.sector import SectorDetector
from rtecho.ultrasound.smoothing import TemporalSmoother


@dataclass(frozen=True)
class SectorConfig:
    """:class:`~rtecho.ultrasound.SectorDetector`'s options; the stage defers its window re-estimate."""

    window: int = 8
    every: int | None = None
    change_threshold: float = 0.3
    threshold: float = 1.0
    target: int = 192
    defer: bool = True


class SectorStage(Stage):
    name, inputs, outputs, timing = "sector", ("image",), ("screen", "sector"), "preprocess"

    def __init__(self, config: SectorConfig | dict | None = None) -> None:
        self.config = config_for(SectorConfig, config, self.name)
        self.detector = SectorDetector(**asdict(self.config))
        self.reset()

    def __call__(self, rec: FrameRecord) -> None:
        rec.screen = ScreenFrame(rec.image, check=False)  # a Frame's image: checked already
        rec.sector = self.detector.update(rec.screen, quick=rec.live)
        self._last = rec

    def idle(self, stop: Callable[[], bool] | None = None) -> bool:
        return self.detector.idle(stop)

    def preview(self) -> FrameRecord | None:
        """The last frame with the sector an idle re-estimate just gave (once per new sector)."""
        last, sector = self._last, self.detector.sector
        if last is None or sector is None or sector is last.sector or self.detector.provisional:
            return None
        if sector is self._previewed:
            return None
        self._previewed = sector
        return FrameRecord(last.frame, last.image, last.live, last.screen, sector, last.mode)

    def reset(self) -> None:
        self.detector.reset()
        self._last: FrameRecord | None = None
        self._previewed = None


@dataclass(frozen=True)
class ModeConfig:
    """:class:`~rtecho.ultrasound.ModeGate`'s options (``model``: None for the shipped gate model)."""

    threshold: float = 2.0
    blank_fraction: float = 0.02
    frozen_diff: float = 0.05
    frozen_frames: int = 3
    chroma: float = 40.0
    color_fraction: float = 0.002
    target: int = 160
    model: str | Path | None = None


class ModeStage(Stage):
    """The mode gate on every frame. On a live stream the gate's layout tests (trace screen, colour;
    :meth:`ModeGate.layout <rtecho.ultrasound.ModeGate.layout>`, 1-3 ms) of a frame run in the idle
    time after it and decide the next frame, when that frame's sector has about the same bounding box
    (IoU >= 0.8: a re-estimate of the same fan; a switch to a trace screen moves the image and that
    frame is tested at once); the blank and frozen tests run on every frame itself. Offline (no idle
    time) every frame is tested in full."""

    name, inputs, outputs, timing = "mode", ("screen", "sector"), ("mode",), "preprocess"

    def __init__(self, config: ModeConfig | dict | None = None) -> None:
        self.config = config_for(ModeConfig, config, self.name)
        self.gate = ModeGate(**asdict(self.config))
        self.reset()

    def __call__(self, rec: FrameRecord) -> None:
        result = self.gate.still(rec.screen, rec.sector)
        ahead, self._ahead, self._job = self._ahead, None, None
        if result is None:
            if ahead is not None and _same_place(ahead[0], rec.sector):
                result = ahead[1]
            else:
                result = self.gate.layout(rec.screen, rec.sector)
            if rec.live:
                self._job = (rec.screen, rec.sector)
        rec.mode = result.mode

    def idle(self, stop: Callable[[], bool] | None = None) -> bool:
        if self._job is None:
            return False
        screen, sector = self._job
        self._job, self._ahead = None, (sector, self.gate.layout(screen, sector))
        return True

    def warm(self, rec: FrameRecord) -> None:
        """A new sector (in idle): its mask on the gate's grid, and the layout tests of the last frame
        in it, so that the next frame in that sector needs neither."""
        if rec.screen is None or not rec.live:
            return
        self.gate.region_of(rec.screen, rec.sector)
        self._job, self._ahead = None, (rec.sector, self.gate.layout(rec.screen, rec.sector))

    def reset(self) -> None:
        self.gate.reset()
        self._job: tuple | None = None  # the last live frame, for its layout tests in idle time
        self._ahead: tuple | None = None  # (sector, the layout result on the frame before this one)


def _same_place(a: Any, b: Any) -> bool:
    """Two sectors of one stream with about the same bounding box (IoU >= 0.8), or both None."""
    if a is None or b is None:
        return a is b
    if a == b:
        return True
    (t0, l0, h0, w0), (t1, l1, h1, w1) = a.bbox, b.bbox
    ih = max(0, min(t0 + h0, t1 + h1) - max(t0, t1))
    iw = max(0, min(l0 + w0, l1 + w1) - max(l0, l1))
    inter = ih * iw
    return a.size_hw == b.size_hw and inter >= 0.8 * (h0 * w0 + h1 * w1 - inter)


@dataclass(frozen=True)
class PrepareConfig:
    """Crop to the sector's bounding box; blank (count as black) the pixels outside the sector."""

    crop: bool = True
    blank: bool = True


class PrepareStage(Stage):
    """Crop and blank folded into the card's preprocessing: the same values as
    ``Preprocessor(card)(sector.apply(image))`` (crop to the bounding box, outside pixels count as 0)."""

    name, inputs, outputs, timing = "prepare", ("screen", "sector", "mode"), ("x",), "preprocess"

    def __init__(self, card: ModelCard, config: PrepareConfig | dict | None = None) -> None:
        self.config = config_for(PrepareConfig, config, self.name)
        self.base = Preprocessor(card)

    def when(self, rec: FrameRecord) -> bool:
        return rec.mode in CLASSIFIED_MODES

    def warm(self, rec: FrameRecord) -> None:
        """A new sector (in idle): the crop, mask, block blanking and resize taps of the last frame in
        it, computed once here instead of in the next frame (the result is not kept)."""
        if rec.screen is not None and rec.mode in CLASSIFIED_MODES:
            self(
                FrameRecord(
                    rec.frame,
                    rec.image,
                    rec.live,
                    screen=ScreenFrame(rec.image, check=False),
                    sector=rec.sector,
                )
            )

    def __call__(self, rec: FrameRecord) -> None:
        frame = rec.screen
        image = frame.image
        roi, keep = rec.sector.crop_keep(image.shape[:2], self.config.crop, self.config.blank)
        planes = frame.planes_if_computed()  # de-interleaved for the sector already, or not needed
        rec.x = self.base.apply(image, roi=roi, keep=keep, planes=planes, shared=frame.shared)


def still_input(pre: Preprocessor, image: np.ndarray) -> np.ndarray:
    """The network input (1, C, H, W) the ultrasound stages give ``image`` as the first frame of a
    stream (a file's, not a live one): the sector found on that frame alone with the sector stage's
    default options, the frame cropped to its box and blanked outside it, then ``pre``. Training uses
    it so that networks also see stills framed as the live path frames a scanner's screen (``rtecho
    train --sector-crop``). The mode gate is not consulted."""
    sector = SectorDetector(**asdict(SectorConfig())).update(ScreenFrame(image))
    roi, keep = sector.crop_keep(image.shape[:2])
    return pre(image, roi=roi, keep=keep)


@dataclass(frozen=True)
class CalibrateConfig:
    """``calibration``: None for the card's (``extra["calibration"]``; identity when it has none)."""

    calibration: Calibration | None = None


class CalibrateStage(Stage):
    name, inputs, outputs = "calibrate", ("logits",), ("probabilities", "index", "accepted")

    def __init__(self, card: ModelCard, config: CalibrateConfig | dict | None = None) -> None:
        self.config = config_for(CalibrateConfig, config, self.name)
        self.calibration = self.config.calibration or Calibration.from_card(card) or Calibration()

    def when(self, rec: FrameRecord) -> bool:
        return rec.logits is not None

    def __call__(self, rec: FrameRecord) -> None:
        rec.probabilities, rec.accepted = self.calibration.apply(rec.logits)
        rec.index = int(np.argmax(rec.probabilities))


@dataclass(frozen=True)
class SmoothConfig:
    """:class:`~rtecho.ultrasound.TemporalSmoother`'s options; frames whose top class is in
    ``hold_labels`` (``OTHER``: off-axis or searching) leave the smoother as it is, like rejected
    frames: searching between views raises no view change."""

    tau_s: float = 0.08
    min_stable_s: float = 0.15
    margin: float = 0.0
    min_prob: float = 0.5
    grace_s: float = 0.1
    hold_labels: tuple[str, ...] = ("OTHER",)


class SmoothStage(Stage):
    name = "smooth"
    inputs = ("probabilities", "index", "accepted")
    outputs = ("smoothed", "smoothed_label", "smoothed_probabilities", "view_change")

    def __init__(self, card: ModelCard, config: SmoothConfig | dict | None = None) -> None:
        self.config = config_for(SmoothConfig, config, self.name)
        options = asdict(self.config)
        held = options.pop("hold_labels")
        self.hold = np.array([lab in held for lab in card.labels])
        self.smoother = TemporalSmoother(card.labels, **options)

    def __call__(self, rec: FrameRecord) -> None:
        ts = rec.frame.timestamp
        if rec.probabilities is not None and rec.accepted and not self.hold[rec.index]:
            sm = self.smoother.update(rec.probabilities, ts, rec.frame.index)
        else:
            sm = self.smoother.hold(ts)
        rec.smoothed, rec.smoothed_label, rec.smoothed_probabilities = True, sm.label, sm.probabilities
        rec.view_change = sm.change

    def reset(self) -> None:
        self.smoother.reset()


def simulator_logits(
    engine: Any,
    rng: np.random.Generator,
    n_per_view: int,
    size_hw: tuple[int, int] = (128, 128),
    shift: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, K) and labels (N,) of simulator stills of every label of ``engine``, each through the
    stream's ultrasound stages (sector, mode gate, crop, blank, card preprocessing, the engine); frames
    the mode gate does not classify are no calibration sample. ``shift`` (an augmentation such as
    :class:`rtecho.train.transfer.TransferAugment`) is applied to each grey still first, so that the
    set is as far from the training images as real frames are. Needs the simulator (``rtecho[synth]``)."""
    from rtecho.pipeline.compose import build_pipeline
    from rtecho.synth import render_view

    zs, ys = [], []
    with build_pipeline(engine, ultrasound=True) as pipe:
        for k, view in enumerate(engine.card.labels):
            for _ in range(n_per_view):
                pipe.reset()
                image = render_view(view, rng, size_hw=size_hw)
                if shift is not None:
                    image = shift(
                        image if image.ndim == 2 else np.rint(image[..., :3] @ LUMA).astype(np.uint8), rng
                    )
                rec = pipe.run(Frame(image, index=0, timestamp=0.0))
                if rec.logits is not None:
                    zs.append(rec.logits)
                    ys.append(k)
    return np.array(zs, np.float64), np.array(ys)
