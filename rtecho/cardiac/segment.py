"""An LV segmenter engine on full source frames: sector crop in, a mask at the source resolution out.

Per frame: the imaging sector is tracked (:class:`~rtecho.ultrasound.sector.SectorDetector`), the frame
is cropped to the sector's bounding box with the outside blanked and preprocessed by the card
(:class:`~rtecho.runtime.preprocess.Preprocessor`, as the classifier's ultrasound stage does); the
engine's per-pixel logits ``(1, K, h, w)`` give the LV probability (softmax over ``K >= 2`` labels,
the label named ``LV`` or else the last one; a sigmoid when ``K = 1``), which is resized back to the
crop (the same antialiased bilinear resampling), thresholded at 0.5, blanked outside the sector and
pasted into a source-size mask. The largest connected part (at the network's resolution) is kept. ``confidence`` is the mean LV
probability inside the mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rtecho.cardiac.lv import largest_component
from rtecho.errors import EngineError

DEFAULT_GLOB = "lvseg_*.onnx"


@dataclass(frozen=True)
class LVMask:
    """One frame's LV: ``mask`` bool (H, W) at the source size, ``confidence`` in [0, 1] (NaN: no LV)."""

    mask: np.ndarray
    confidence: float
    roi: tuple[int, int, int, int]


def lv_channel(labels: tuple[str, ...]) -> int:
    """Index of the LV label: the one named ``LV`` (any case), else the last."""
    for i, name in enumerate(labels):
        if name.strip().lower() in ("lv", "left ventricle", "lv_cavity"):
            return i
    return len(labels) - 1


def _probability(out: np.ndarray, channel: int) -> np.ndarray:
    if out.ndim != 4 or out.shape[0] != 1:
        raise EngineError(f"a segmenter gives (1, K, h, w) logits, got shape {out.shape}")
    if out.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-out[0, 0]))
    z = out[0] - out[0].max(axis=0, keepdims=True)
    e = np.exp(z)
    return e[channel] / e.sum(axis=0)


class LVSegmenter:
    """``segment(image) -> LVMask`` over an opened engine whose card's task is ``segmentation``.

    ``ultrasound=False`` feeds the whole frame (no sector detection): for frames already cropped.
    """

    def __init__(self, engine: Any, ultrasound: bool = True) -> None:
        from rtecho.runtime.preprocess import Preprocessor

        card = engine.card
        if getattr(card, "task", "segmentation") != "segmentation":
            raise EngineError(f"model {card.name!r} is a {card.task} model; rtecho ef needs an LV segmenter")
        self.engine = engine
        self.card = card
        self.pre = Preprocessor(card)
        self.channel = lv_channel(tuple(card.labels))
        self.detector = None
        if ultrasound:
            from rtecho.ultrasound.sector import SectorDetector

            self.detector = SectorDetector()
        self.sector = None

    def _infer(self, x: np.ndarray) -> np.ndarray:
        # Engine.infer checks for (N, K) classifier logits; segmentation logits are (N, K, h, w)
        run = getattr(self.engine, "infer_map", None) or self.engine._infer
        return np.asarray(run(x), np.float32)

    def segment(self, image: np.ndarray) -> LVMask:
        if self.detector is not None:
            self.sector = self.detector.update(image)
        return self.segment_in(image, self.sector)

    def segment_in(self, image: np.ndarray, sector: Any = None, *, check: bool = True) -> LVMask:
        """The LV of ``image`` inside ``sector`` (a :class:`~rtecho.ultrasound.Sector`, e.g. the stream's
        sector stage's; None: the whole frame). ``check=False``: ``image`` was checked already (a Frame's)."""
        from rtecho.runtime.preprocess import resize

        h, w = image.shape[:2]
        roi, keep = (0, 0, h, w), None
        if sector is not None:
            roi = sector.scaled_bbox((h, w))
            top, left, hh, ww = roi
            keep = sector.region((h, w))[top : top + hh, left : left + ww]
        if check:
            x = self.pre(image, roi=roi if sector is not None else None, keep=keep)
        else:
            x = self.pre.apply(image, roi=roi if sector is not None else None, keep=keep)
        prob = _probability(self._infer(x), self.channel).astype(np.float32)
        lv = prob > 0.5
        if lv.any():  # the largest part, found at the network's resolution (cheap), then mapped back
            prob = np.where(largest_component(lv), prob, np.minimum(prob, 0.5 - 1e-3)).astype(np.float32)
        top, left, hh, ww = roi
        p = resize(prob, (hh, ww))
        m = p > 0.5
        if keep is not None:
            m &= keep
        full = np.zeros((h, w), bool)
        full[top : top + hh, left : left + ww] = m
        conf = float(p[m].mean()) if m.any() else float("nan")
        return LVMask(full, conf, roi)
