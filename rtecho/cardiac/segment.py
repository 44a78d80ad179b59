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

from typing import Any

import numpy as np

from rtecho.cardiac.lv import largest_component
from rtecho.errors import EngineError

DEFAULT_GLOB = "lvseg_*.onnx"


class LVMask:
    """One frame's LV: ``mask`` bool (H, W) at the source size (made when first read), ``confidence`` in
    [0, 1] (NaN: no LV), ``roi`` the crop; ``part`` the mask's window (bool, all of its True pixels) at
    ``origin`` = (top, left) of the source frame, which is all that measuring it needs."""

    __slots__ = ("_mask", "confidence", "origin", "part", "roi", "shape_hw")

    def __init__(
        self,
        mask: np.ndarray | None,
        confidence: float,
        roi: tuple[int, int, int, int],
        part: np.ndarray | None = None,
        origin: tuple[int, int] = (0, 0),
        shape_hw: tuple[int, int] | None = None,
    ) -> None:
        if mask is None and (part is None or shape_hw is None):
            raise ValueError("an LVMask needs its mask, or its part with the frame's shape_hw")
        self._mask = mask
        self.confidence, self.roi = confidence, roi
        self.part = mask if part is None else part
        self.origin = origin
        self.shape_hw = tuple(mask.shape) if mask is not None else shape_hw

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            full = np.zeros(self.shape_hw, bool)
            top, left = self.origin
            full[top : top + self.part.shape[0], left : left + self.part.shape[1]] = self.part
            self._mask = full
        return self._mask


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

    def segment_in(
        self,
        image: np.ndarray,
        sector: Any = None,
        *,
        check: bool = True,
        planes: np.ndarray | None = None,
        shared: dict | None = None,
    ) -> LVMask:
        """The LV of ``image`` inside ``sector`` (a :class:`~rtecho.ultrasound.Sector`, e.g. the stream's
        sector stage's; None: the whole frame). ``check=False``: ``image`` was checked already (a Frame's);
        ``planes``: its channels as 3xHxW, when the caller has them (the stream's ScreenFrame); ``shared``:
        the frame's dict of preprocessing shared with the classifier (its ``ScreenFrame.shared``)."""
        x, roi, keep = self.input_for(image, sector, check=check, planes=planes, shared=shared)
        return self.mask_from(self._infer(x), image.shape[:2], roi, keep)

    def input_for(
        self,
        image: np.ndarray,
        sector: Any = None,
        *,
        check: bool = True,
        planes: np.ndarray | None = None,
        shared: dict | None = None,
    ) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray | None]:
        """The first half of :meth:`segment_in`: the engine's input ``x`` for ``image`` in ``sector``,
        with the crop ``roi`` and the sector's ``keep`` mask in it (for :meth:`mask_from`)."""
        h, w = image.shape[:2]
        roi, keep = (0, 0, h, w), None
        if sector is not None:
            roi, keep = sector.crop_keep((h, w))
        if check:
            x = self.pre(image, roi=roi if sector is not None else None, keep=keep)
        else:
            x = self.pre.apply(
                image, roi=roi if sector is not None else None, keep=keep, planes=planes, shared=shared
            )
        return x, roi, keep

    def mask_from(
        self,
        logits: np.ndarray,
        shape_hw: tuple[int, int],
        roi: tuple[int, int, int, int],
        keep: np.ndarray | None,
    ) -> LVMask:
        """The second half of :meth:`segment_in`: the LV of a frame of ``shape_hw`` from the engine's
        ``logits`` for the crop ``roi`` (and ``keep``) of :meth:`input_for`."""
        from rtecho.runtime.masks import resize_window, window_of

        h, w = shape_hw
        prob = _probability(np.asarray(logits, np.float32), self.channel).astype(np.float32)
        top, left, hh, ww = roi
        lv = prob > 0.5
        if not lv.any():
            return LVMask(None, float("nan"), roi, np.zeros((0, 0), bool), (top, left), (h, w))
        # the largest part, found at the network's resolution (cheap); the other pixels below 0.5
        lv = largest_component(lv)
        prob = np.where(lv, prob, np.minimum(prob, 0.5 - 1e-3)).astype(np.float32)
        # back to the crop only where the part reaches: resize taps are convex weights, so outside that
        # window every value mixes inputs < 0.5 and stays < 0.5 (the same pixels as the whole resize)
        rows, cols = np.flatnonzero(lv.any(axis=1)), np.flatnonzero(lv.any(axis=0))
        r = window_of(prob.shape[0], hh, int(rows[0]), int(rows[-1]))
        c = window_of(prob.shape[1], ww, int(cols[0]), int(cols[-1]))
        p = resize_window(prob, (hh, ww), r, c)
        m = p > 0.5
        if keep is not None:
            m &= keep[r[0] : r[1], c[0] : c[1]]
        conf = float(p[m].mean()) if m.any() else float("nan")
        return LVMask(None, conf, roi, m, (top + r[0], left + c[0]), (h, w))
