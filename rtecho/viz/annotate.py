"""Annotators draw a :class:`~rtecho.types.Prediction` onto a frame (supervision style).

Every annotator has ``annotate(image, prediction, *, fps=None, inplace=False)``, takes HxW gray or
HxWx3 RGB uint8 and returns HxWx3 RGB uint8. The input is left untouched unless ``inplace=True``
(and it is RGB already). Text uses the built-in bitmap font, scaled with the image height.

>>> import numpy as np
>>> from rtecho.types import Prediction
>>> p = Prediction(frame_index=0, timestamp=0.0, label="A4C", index=1,
...                probabilities=np.array([0.1, 0.9], np.float32), labels=("A2C", "A4C"),
...                timings_ms={"infer": 1.2, "end_to_end": 2.0})
>>> out = default_overlay().annotate(np.zeros((112, 112), np.uint8), p, fps=30.0)
>>> out.shape, out.dtype.name
((112, 112, 3), 'uint8')
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Literal

import numpy as np

from rtecho.errors import FrameError
from rtecho.types import Prediction, check_image
from rtecho.viz.font import CELL_H, CELL_W, GLYPH_H, auto_scale, draw_text, fit_text, text_size

Corner = Literal["top_left", "top_right", "bottom_left", "bottom_right"]
Color = tuple[int, int, int]
CORNERS: tuple[str, ...] = ("top_left", "top_right", "bottom_left", "bottom_right")

WHITE: Color = (255, 255, 255)
GRAY: Color = (170, 170, 170)
GREEN: Color = (70, 220, 110)
AMBER: Color = (255, 190, 40)
RED: Color = (255, 70, 60)
BAR_TRACK: Color = (70, 70, 70)

#: Short names of the timed stages, as the latency panel shows them.
STAGE_SHORT: dict[str, str] = {
    "decode": "dec",
    "preprocess": "pre",
    "infer": "inf",
    "postprocess": "post",
    "overlay": "ovl",
    "end_to_end": "e2e",
}


def as_canvas(image: np.ndarray, inplace: bool = False) -> np.ndarray:
    """An HxWx3 RGB uint8 array to draw on: a copy, or ``image`` itself when ``inplace`` and RGB."""
    image = check_image(image, "image to annotate")
    if image.ndim == 2:
        return np.stack((image, image, image), axis=2)
    if inplace:
        if not image.flags.writeable:
            raise FrameError("cannot annotate a read-only image in place; pass inplace=False")
        return image
    return image.copy()


def _check_corner(corner: str) -> str:
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {CORNERS}, got {corner!r}")
    return corner


def _place(canvas: np.ndarray, box_hw: tuple[int, int], corner: str, margin: int) -> tuple[int, int]:
    """Top-left (y, x) of a box of ``box_hw`` in ``corner`` of the canvas, ``margin`` px from the edges."""
    h, w = canvas.shape[:2]
    y = margin if corner.startswith("top") else h - margin - box_hw[0]
    x = margin if corner.endswith("left") else w - margin - box_hw[1]
    return max(y, 0), max(x, 0)


class Layout:
    """Panels already drawn on one canvas; a later panel that would overlap one moves off it.

    Panels in a top corner move down, panels in a bottom corner move up. :class:`Overlay` shares
    one layout between its annotators, so the first annotator keeps its place.
    """

    def __init__(self) -> None:
        self.boxes: list[tuple[int, int, int, int]] = []

    @staticmethod
    def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    def place(self, canvas: np.ndarray, box_hw: tuple[int, int], corner: str, margin: int) -> tuple[int, int]:
        """Top-left (y, x) for a new panel of ``box_hw`` in ``corner``, clear of earlier panels."""
        y, x = _place(canvas, box_hw, corner, margin)
        down = corner.startswith("top")
        for _ in range(len(self.boxes)):
            hit = next((b for b in self.boxes if self._overlap((y, x, *box_hw), b)), None)
            if hit is None:
                break
            y = hit[0] + hit[2] + margin if down else hit[0] - margin - box_hw[0]
        self.boxes.append((y, x, box_hw[0], box_hw[1]))
        return y, x


def _position(
    canvas: np.ndarray, box_hw: tuple[int, int], corner: str, margin: int, layout: Layout | None
) -> tuple[int, int]:
    if layout is None:
        return _place(canvas, box_hw, corner, margin)
    return layout.place(canvas, box_hw, corner, margin)


def darken(canvas: np.ndarray, y0: int, x0: int, h: int, w: int, opacity: float) -> None:
    """Blend the box (y0, x0, h, w) towards black in place: ``pixel * (1 - opacity)``."""
    if opacity <= 0:
        return
    region = canvas[max(y0, 0) : max(y0 + h, 0), max(x0, 0) : max(x0 + w, 0)]
    if region.size == 0:
        return
    if opacity >= 1:
        region[...] = 0
        return
    keep = int(round(256 * (1.0 - opacity)))
    region[...] = (region.astype(np.uint16) * keep) >> 8


class Annotator:
    """Base class: subclasses implement :meth:`draw` on an RGB canvas; :meth:`annotate` does the rest."""

    def annotate(
        self,
        image: np.ndarray,
        prediction: Prediction,
        *,
        fps: float | None = None,
        inplace: bool = False,
    ) -> np.ndarray:
        """Return ``image`` (gray or RGB uint8) as RGB uint8 with ``prediction`` drawn on it."""
        canvas = as_canvas(image, inplace)
        self.draw(canvas, prediction, fps=fps)
        return canvas

    def __call__(self, image: np.ndarray, prediction: Prediction, *, fps: float | None = None) -> np.ndarray:
        """Same as :meth:`annotate`: an annotator is an ``(image, prediction) -> image`` callable."""
        return self.annotate(image, prediction, fps=fps)

    def draw(
        self,
        canvas: np.ndarray,
        prediction: Prediction,
        fps: float | None = None,
        layout: Layout | None = None,
    ) -> None:
        """Draw onto ``canvas`` (HxWx3 uint8) in place, clear of the panels in ``layout`` when given."""
        raise NotImplementedError


class _PanelAnnotator(Annotator):
    """Draws lines of text in a dark box in one corner of the image."""

    def __init__(self, corner: Corner, scale: int | None, opacity: float) -> None:
        self.corner = _check_corner(corner)
        if scale is not None and (int(scale) != scale or scale < 1):
            raise ValueError(f"scale must be a positive integer or None, got {scale}")
        self.scale = scale
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"opacity must be in [0, 1], got {opacity}")
        self.opacity = opacity

    def _scale(self, canvas: np.ndarray) -> int:
        return self.scale if self.scale is not None else auto_scale(canvas.shape[0])

    def _max_chars(self, canvas: np.ndarray, width_frac: float = 1.0) -> int:
        """How many characters fit on one panel line within ``width_frac`` of the image width."""
        s = self._scale(canvas)
        room = int(canvas.shape[1] * width_frac) - 4 * s - 4 * s + s  # margins, padding
        return max(room // (CELL_W * s), 1)

    def _panel(
        self,
        canvas: np.ndarray,
        lines: Sequence[tuple[str, Color]],
        layout: Layout | None,
        cache: bool = True,
    ) -> None:
        if not lines:
            return
        s = self._scale(canvas)
        margin, pad, step = 2 * s, 2 * s, (CELL_H + 1) * s
        max_chars = self._max_chars(canvas)
        lines = [(fit_text(t, max_chars), c) for t, c in lines]
        text_w = max(text_size(t, s)[1] for t, _ in lines)
        box_hw = (2 * pad + (len(lines) - 1) * step + GLYPH_H * s, 2 * pad + text_w)
        y, x = _position(canvas, box_hw, self.corner, margin, layout)
        darken(canvas, y, x, box_hw[0], box_hw[1], self.opacity)
        right = self.corner.endswith("right")
        for i, (text, color) in enumerate(lines):
            dx = text_w - text_size(text, s)[1] if right else 0
            draw_text(canvas, text, (y + pad + i * step, x + pad + dx), color, s, cache=cache)


def _label_confidence(prediction: Prediction, smoothed: bool) -> tuple[str, float]:
    """The label to show and its probability (smoothed when asked for and available)."""
    if smoothed and prediction.smoothed_label is not None:
        label = prediction.smoothed_label
        probs = prediction.smoothed_probabilities
        if probs is not None and label in prediction.labels:
            return label, float(probs[prediction.labels.index(label)])
        return label, prediction.confidence if label == prediction.label else float("nan")
    return str(prediction.label), prediction.confidence


def _pct(p: float) -> str:
    return "--%" if not np.isfinite(p) else f"{100 * p:.0f}%"


class LabelAnnotator(_PanelAnnotator):
    """The view label and its confidence; "unknown", the scan mode or the error when relevant.

    ``smoothed=True`` shows the smoothed label when the prediction has one (and the raw label
    below it when they differ).

    >>> import numpy as np
    >>> from rtecho.types import Prediction
    >>> p = Prediction(0, 0.0, None, None, None, ("A2C", "A4C"), {}, error="decode failed")
    >>> LabelAnnotator().annotate(np.zeros((64, 96), np.uint8), p).shape
    (64, 96, 3)
    """

    def __init__(
        self,
        corner: Corner = "top_left",
        scale: int | None = None,
        opacity: float = 0.75,
        smoothed: bool = True,
        color: Color = WHITE,
    ) -> None:
        super().__init__(corner, scale, opacity)
        self.smoothed = smoothed
        self.color = color

    def lines(self, prediction: Prediction, wrap: int = 1000) -> list[tuple[str, Color]]:
        """The text lines and their colours for ``prediction``; error text wraps at ``wrap`` characters."""
        if prediction.error is not None:
            msg = textwrap.wrap(prediction.error, width=max(wrap, 4), max_lines=3, placeholder="..")
            return [("ERROR", RED)] + [(m, RED) for m in msg]
        if (
            prediction.label is None
        ):  # a mode that is not classified (spectral Doppler, M-mode, frozen, blank)
            return [(f"{prediction.mode.upper()}: no view", AMBER)]
        label, conf = _label_confidence(prediction, self.smoothed)
        raw = f"{prediction.label} {_pct(prediction.confidence)}"
        if not prediction.accepted:
            out = [("unknown", AMBER), (f"({raw})", GRAY)]
        else:
            out = [(f"{label} {_pct(conf)}" if np.isfinite(conf) else label, self.color)]
            if label != prediction.label:
                out.append((f"raw {raw}", GRAY))
        if prediction.mode != "bmode":  # colour Doppler over B-mode keeps its view, marked
            out.append((prediction.mode.replace("_", " "), AMBER))
        if prediction.view_change is not None:
            vc = prediction.view_change
            out.append((f"view change {vc.from_label or '-'} > {vc.to_label}", GREEN))
        return out

    def draw(
        self,
        canvas: np.ndarray,
        prediction: Prediction,
        fps: float | None = None,
        layout: Layout | None = None,
    ) -> None:
        self._panel(canvas, self.lines(prediction, wrap=self._max_chars(canvas, 0.6)), layout)


class LatencyAnnotator(_PanelAnnotator):
    """Stage latencies in ms (infer and end-to-end by default) and the stream fps when given."""

    def __init__(
        self,
        corner: Corner = "top_right",
        scale: int | None = None,
        opacity: float = 0.75,
        stages: Sequence[str] = ("infer", "end_to_end"),
        color: Color = WHITE,
    ) -> None:
        super().__init__(corner, scale, opacity)
        unknown = [s for s in stages if s not in STAGE_SHORT]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; known: {tuple(STAGE_SHORT)}")
        self.stages = tuple(stages)
        self.color = color

    @staticmethod
    def _ms(value: float | None) -> str:
        if value is None or not np.isfinite(value):
            return "--"
        return f"{value:.1f}ms" if value < 100 else f"{value:.0f}ms"

    def lines(self, prediction: Prediction, fps: float | None = None) -> list[tuple[str, Color]]:
        """The text lines and their colours for ``prediction`` and ``fps``."""
        out = [
            (f"{STAGE_SHORT[s]} {self._ms(prediction.timings_ms.get(s))}", self.color) for s in self.stages
        ]
        if fps is not None:
            out.append((f"{fps:.1f}fps" if np.isfinite(fps) else "-- fps", self.color))
        return out

    def draw(
        self,
        canvas: np.ndarray,
        prediction: Prediction,
        fps: float | None = None,
        layout: Layout | None = None,
    ) -> None:
        self._panel(canvas, self.lines(prediction, fps), layout, cache=False)


class ProbabilityBarAnnotator(_PanelAnnotator):
    """Horizontal bars of the ``top_k`` class probabilities, each with its label and percentage.

    Nothing is drawn for error results. ``smoothed=True`` uses the smoothed probabilities when
    the prediction has them.
    """

    def __init__(
        self,
        top_k: int = 3,
        corner: Corner = "bottom_left",
        scale: int | None = None,
        opacity: float = 0.75,
        width_frac: float = 0.45,
        smoothed: bool = False,
        color: Color = GREEN,
        other_color: Color = GRAY,
    ) -> None:
        super().__init__(corner, scale, opacity)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not 0.0 < width_frac <= 1.0:
            raise ValueError(f"width_frac must be in (0, 1], got {width_frac}")
        self.top_k = int(top_k)
        self.width_frac = width_frac
        self.smoothed = smoothed
        self.color = color
        self.other_color = other_color

    def draw(
        self,
        canvas: np.ndarray,
        prediction: Prediction,
        fps: float | None = None,
        layout: Layout | None = None,
    ) -> None:
        probs = prediction.probabilities
        if self.smoothed and prediction.smoothed_probabilities is not None:
            probs = prediction.smoothed_probabilities
        if probs is None or prediction.error is not None or len(probs) == 0:
            return
        probs = np.nan_to_num(np.asarray(probs, np.float64), nan=0.0).clip(0.0, 1.0)
        k = min(self.top_k, len(probs))
        order = np.argsort(-probs, kind="stable")[:k]
        s = self._scale(canvas)
        hgt, wid = canvas.shape[:2]
        margin, pad, gap, step = 2 * s, 2 * s, 2 * s, (CELL_H + 1) * s
        n_name = max(len(prediction.labels[i]) for i in order)
        name_w, pct_w = text_size("W" * n_name, s)[1], text_size("100%", s)[1]
        fixed = 2 * pad + name_w + pct_w + 2 * gap
        room = wid - 2 * margin - fixed
        if room < 4 * s:  # too narrow for bars: fall back to names and percentages
            room = 0
        bar_w = min(max(int(wid * self.width_frac) - fixed, 16 * s), room)
        box_hw = (2 * pad + (k - 1) * step + GLYPH_H * s, fixed + bar_w)
        y, x = _position(canvas, box_hw, self.corner, margin, layout)
        darken(canvas, y, x, box_hw[0], box_hw[1], self.opacity)
        bar_x = x + pad + name_w + gap
        for row, i in enumerate(order):
            ty = y + pad + row * step
            color = self.color if row == 0 else self.other_color
            draw_text(canvas, prediction.labels[i], (ty, x + pad), WHITE, s)
            if bar_w > 0:
                canvas[ty : ty + GLYPH_H * s, bar_x : bar_x + bar_w] = BAR_TRACK
                fill = int(round(bar_w * probs[i]))
                canvas[ty : ty + GLYPH_H * s, bar_x : bar_x + fill] = color
            pct = _pct(float(probs[i]))
            draw_text(canvas, pct, (ty, bar_x + bar_w + gap + pct_w - text_size(pct, s)[1]), WHITE, s)


class Overlay(Annotator):
    """Several annotators applied in order on one copy of the image; later panels move off earlier ones.

    >>> overlay = Overlay(LabelAnnotator(), LatencyAnnotator())
    >>> len(overlay.annotators)
    2
    """

    def __init__(self, *annotators: Annotator) -> None:
        for a in annotators:
            if not isinstance(a, Annotator):
                raise TypeError(f"Overlay takes Annotator instances, got {type(a).__name__}")
        self.annotators: tuple[Annotator, ...] = annotators

    def draw(
        self,
        canvas: np.ndarray,
        prediction: Prediction,
        fps: float | None = None,
        layout: Layout | None = None,
    ) -> None:
        layout = layout if layout is not None else Layout()
        for a in self.annotators:
            a.draw(canvas, prediction, fps=fps, layout=layout)


def default_overlay(scale: int | None = None, top_k: int = 3) -> Overlay:
    """Label (top left), latency (top right) and top-k probability bars (bottom left)."""
    return Overlay(
        LabelAnnotator(scale=scale),
        ProbabilityBarAnnotator(top_k=top_k, scale=scale),
        LatencyAnnotator(scale=scale),
    )
