"""How the ultrasound stages plug into the frame pipeline.

:class:`UltrasoundPreprocessor` (sector crop/blank + mode gate, then the card's preprocessing)
returns a :class:`~rtecho.pipeline.stages.Prepared`; frames in a mode that is not classified skip
inference. :class:`UltrasoundPostprocessor` applies the card's calibration (temperature, unknown
rejection) and the temporal smoother, and emits :class:`~rtecho.types.ViewChange` events in
``Prediction.view_change`` (so they reach the callback, the JSONL sink and the overlay). The
preprocessor carries its postprocessor, so one argument wires both::

    from rtecho.pipeline import StreamProcessor
    from rtecho.ultrasound.stage import UltrasoundPreprocessor

    pre = UltrasoundPreprocessor.for_engine(engine)
    with StreamProcessor(engine, preprocessor=pre, callback=on_result) as proc:
        proc.run(source)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rtecho.pipeline.stages import Postprocessed, Prepared
from rtecho.runtime.preprocess import LUMA, Preprocessor
from rtecho.types import CLASSIFIED_MODES, Frame, ModelCard
from rtecho.ultrasound._screen import ScreenFrame
from rtecho.ultrasound.calibration import Calibration
from rtecho.ultrasound.mode import ModeGate
from rtecho.ultrasound.sector import Sector, SectorDetector
from rtecho.ultrasound.smoothing import TemporalSmoother


class UltrasoundPostprocessor:
    """Calibrated probabilities, rejection as unknown, smoothing with hysteresis, view-change events.

    ``calibration`` defaults to the card's ``extra["calibration"]`` (identity when absent). Frames
    whose top class is in ``hold_labels`` (default ``OTHER``: off-axis or searching) leave the
    smoother as it is, like rejected frames: searching between views raises no view change.
    """

    def __init__(
        self,
        card: ModelCard,
        calibration: Calibration | None = None,
        tau_s: float = 0.08,
        min_stable_s: float = 0.15,
        margin: float = 0.0,
        min_prob: float = 0.5,
        grace_s: float = 0.1,
        hold_labels: tuple[str, ...] = ("OTHER",),
    ) -> None:
        self.labels = card.labels
        self.hold = np.array([lab in hold_labels for lab in card.labels])
        self.calibration = calibration or Calibration.from_card(card) or Calibration()
        self.smoother = TemporalSmoother(
            card.labels,
            tau_s=tau_s,
            min_stable_s=min_stable_s,
            margin=margin,
            min_prob=min_prob,
            grace_s=grace_s,
        )

    def __call__(self, logits: np.ndarray) -> Postprocessed:
        """Calibrated probabilities and rejection of one logit vector (no smoothing)."""
        probs, accepted = self.calibration.apply(logits)
        return Postprocessed(probs, int(np.argmax(probs)), accepted=accepted)

    def step(self, logits: np.ndarray | None, frame: Frame, mode: str) -> Postprocessed:
        """One frame of the stream: rejected and not-classified frames leave the smoother as it is."""
        if logits is None:
            held = self.smoother.hold(frame.timestamp)
            return Postprocessed(None, None, held.label, held.probabilities, accepted=False, smoothed=True)
        probs, accepted = self.calibration.apply(logits)
        sm = (
            self.smoother.update(probs, frame.timestamp, frame.index)
            if accepted and not self.hold[int(np.argmax(probs))]
            else self.smoother.hold(frame.timestamp)
        )
        return Postprocessed(
            probs, int(np.argmax(probs)), sm.label, sm.probabilities, accepted, sm.change, smoothed=True
        )

    def reset(self) -> None:
        self.smoother.reset()


class UltrasoundPreprocessor:
    """Sector detection, crop and blank, mode gating, then the card's preprocessing.

    ``__call__(image) -> Prepared``; ``sector`` and ``last_mode`` hold the latest results. The
    default detector defers its window re-estimate to :meth:`idle` (see
    :class:`~rtecho.ultrasound.sector.SectorDetector`), which the stream processor calls between frames.
    """

    def __init__(
        self,
        card: ModelCard,
        detector: SectorDetector | None = None,
        gate: ModeGate | None = None,
        postprocessor: Any = None,
        crop: bool = True,
        blank: bool = True,
    ) -> None:
        self.base = Preprocessor(card)
        self.detector = detector or SectorDetector(defer=True)
        self.gate = gate or ModeGate()
        self.postprocessor = postprocessor
        self.crop, self.blank = crop, blank
        self.sector: Sector | None = None
        self.last_mode: str | None = None

    @classmethod
    def for_engine(cls, engine: Any, **post_kw: Any) -> UltrasoundPreprocessor:
        """Preprocessor + :class:`UltrasoundPostprocessor` (``post_kw``) for ``engine.card``."""
        return cls(engine.card, postprocessor=UltrasoundPostprocessor(engine.card, **post_kw))

    def __call__(self, image: np.ndarray) -> Prepared:
        # One ScreenFrame: the tracker and the gate share its downsampled copy (one pass over the
        # pixels); crop and blank are folded into the card's preprocessing (the same values as
        # ``base(sector.apply(image))``: crop to the bounding box, outside pixels count as 0).
        frame = ScreenFrame(image)
        self.sector = self.detector.update(frame)
        self.last_mode = self.gate(frame, self.sector).mode
        if self.last_mode not in CLASSIFIED_MODES:
            return Prepared(None, self.last_mode)
        image = frame.image
        roi = self.sector.scaled_bbox(image.shape[:2]) if self.crop else None
        keep = None
        if self.blank:
            keep = self.sector.region(image.shape[:2])
            if roi is not None:
                top, left, hh, ww = roi
                keep = keep[top : top + hh, left : left + ww]
        planes = frame.planes() if image.ndim == 3 else None  # de-interleaved once, for the gate already
        return Prepared(self.base(image, roi=roi, keep=keep, planes=planes), self.last_mode)

    def idle(self, stop: Callable[[], bool] | None = None) -> bool:
        """Deferred work (the sector's window re-estimate), run by the stream processor when its worker
        has no frame to process, until ``stop()`` says one is waiting; True when there was some."""
        return self.detector.idle(stop) if hasattr(self.detector, "idle") else False

    def reset(self) -> None:
        """Forget the stream state (sector window, previous frames, smoother)."""
        self.detector.reset()
        self.gate.reset()
        if hasattr(self.postprocessor, "reset"):
            self.postprocessor.reset()


def simulator_logits(
    engine: Any,
    rng: np.random.Generator,
    n_per_view: int,
    size_hw: tuple[int, int] = (128, 128),
    shift: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, K) and labels (N,) of simulator stills of every label of ``engine``, each through the
    stream's ultrasound preprocessing (sector, crop, blank, card preprocessing); frames the mode gate
    does not classify are no calibration sample. ``shift`` (an augmentation such as
    :class:`rtecho.train.transfer.TransferAugment`) is applied to each grey still first, so that the
    set is as far from the training images as real frames are. Needs the simulator (``rtecho[synth]``)."""
    from rtecho.synth import render_view

    pre = UltrasoundPreprocessor(engine.card)
    zs, ys = [], []
    with engine:
        for k, view in enumerate(engine.card.labels):
            for _ in range(n_per_view):
                pre.reset()
                image = render_view(view, rng, size_hw=size_hw)
                if shift is not None:
                    image = shift(
                        image if image.ndim == 2 else np.rint(image[..., :3] @ LUMA).astype(np.uint8), rng
                    )
                prep = pre(image)
                if prep.x is not None:
                    zs.append(engine.infer(prep.x)[0])
                    ys.append(k)
    return np.array(zs, np.float64), np.array(ys)
