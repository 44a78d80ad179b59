"""The cardiac overlay: the LV contour, a small area trace with ED/ES marks and the EF readout.

It draws what the cardiac stages (:mod:`rtecho.pipeline.cardiac`) put in the Prediction
(``lv_mask``, ``lv``, ``beats``) and nothing on a frame without them, so that the classifier's
overlay is unchanged where the LV was not segmented. :func:`with_cardiac` puts it around an overlay
(the contour under the panels, the trace in the bottom right corner, clear of them);
``build_pipeline(..., ef=True, overlay=...)`` does that.

>>> import numpy as np
>>> from rtecho.types import Prediction
>>> m = np.zeros((96, 96), bool); m[30:70, 40:60] = True
>>> p = Prediction(0, 0.0, "A4C", 0, np.array([1.0], np.float32), ("A4C",), {},
...                lv={"area": 800.0, "ef": 55.0, "heart_rate": 70.0}, lv_mask=m)
>>> out = with_cardiac(default_overlay())(np.zeros((96, 96), np.uint8), p)
>>> out[30, 50].tolist(), out.shape
([255, 220, 0], (96, 96, 3))
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from rtecho.cardiac.lv import outline
from rtecho.types import Prediction
from rtecho.viz.annotate import (
    AMBER,
    GRAY,
    GREEN,
    WHITE,
    Annotator,
    Layout,
    Overlay,
    _position,
    darken,
    default_overlay,
)
from rtecho.viz.font import CELL_H, GLYPH_H, auto_scale, draw_text, text_size

CONTOUR_RGB = (255, 220, 0)
ED_RGB = (255, 70, 60)
ES_RGB = (80, 160, 255)

__all__ = ["LVContourAnnotator", "LVTraceAnnotator", "default_overlay", "with_cardiac"]


class LVContourAnnotator(Annotator):
    """The boundary of ``prediction.lv_mask`` (2 px wide on frames of 300 px and more)."""

    def __init__(self, color: tuple[int, int, int] = CONTOUR_RGB) -> None:
        self.color = color

    def draw(
        self,
        canvas: np.ndarray,
        prediction: Prediction,
        fps: float | None = None,
        layout: Layout | None = None,
    ) -> None:
        m = prediction.lv_mask
        if m is None or m.shape != canvas.shape[:2] or not m.any():
            return
        canvas[outline(m)] = self.color


class LVTraceAnnotator(Annotator):
    """The EF readout (running EF, heart rate, last beat) over a trace of the LV area of the last
    ``seconds`` s with ED (red) and ES (blue) marks, in ``corner``. Keeps the trace between frames
    (one per stream: a frame earlier than the last one starts a new trace)."""

    def __init__(
        self,
        corner: str = "bottom_right",
        seconds: float = 4.0,
        opacity: float = 0.75,
        scale: int | None = None,
    ) -> None:
        self.corner, self.seconds, self.opacity, self.scale = corner, seconds, opacity, scale
        self.trace: deque[tuple[float, float]] = deque(maxlen=1024)
        self.marks: deque[tuple[float, float, str]] = deque(maxlen=64)
        self.last: Any = None
        self._t: float | None = None

    def _add(self, p: Prediction) -> None:
        t = p.timestamp
        if self._t is not None and t < self._t:
            self.trace.clear()
            self.marks.clear()
            self.last = None
        self._t = t
        if p.lv is not None and p.lv.get("area") is not None:
            self.trace.append((t, float(p.lv["area"])))
        for b in p.beats:
            self.marks.append((b.ed_time, b.eda, "ED"))
            self.marks.append((b.es_time, b.esa, "ES"))
            self.last = b
        while self.trace and t - self.trace[0][0] > self.seconds:
            self.trace.popleft()

    def lines(self, p: Prediction) -> list[tuple[str, tuple[int, int, int]]]:
        lv = p.lv or {}
        ef, hr = lv.get("ef"), lv.get("heart_rate")
        out = [
            (f"EF {ef:.0f}%" if ef is not None else "EF --", WHITE if ef is not None else GRAY),
            (f"HR {hr:.0f}/min" if hr is not None else "HR --", WHITE if hr is not None else GRAY),
        ]
        if self.last is not None:
            b = self.last
            val = f"{b.ef:.0f}%" if np.isfinite(b.ef) else "--"
            out.append(
                (
                    f"beat {val}" + (" " + ",".join(q.split("_")[0] for q in b.quality) if b.quality else ""),
                    GREEN if b.ok else AMBER,
                )
            )
        return out

    def draw(
        self,
        canvas: np.ndarray,
        prediction: Prediction,
        fps: float | None = None,
        layout: Layout | None = None,
    ) -> None:
        self._add(prediction)
        if prediction.lv is None and not self.trace:
            return
        h, w = canvas.shape[:2]
        s = self.scale or auto_scale(h)
        lines = self.lines(prediction)
        step, pad = (CELL_H + 1) * s, 2 * s
        text_w = max(text_size(t, s)[1] for t, _ in lines)
        gw = max(text_w, min(w // 3, 60 * s))
        gh = max(12, min(h // 6, 24 * s))
        box = (2 * pad + len(lines) * step + gh, 2 * pad + gw)
        if box[0] > h or box[1] > w:
            return
        y, x = _position(canvas, box, self.corner, 2 * s, layout)
        darken(canvas, y, x, box[0], box[1], self.opacity)
        for i, (text, color) in enumerate(lines):
            draw_text(canvas, text, (y + pad + i * step, x + pad), color, s)
        gy, gx = y + pad + len(lines) * step, x + pad
        self._graph(canvas, gy, gx, gh - GLYPH_H // 2, gw, prediction.timestamp)

    def _graph(self, canvas: np.ndarray, y: int, x: int, gh: int, gw: int, now: float) -> None:
        if len(self.trace) < 2 or gh < 4:
            return
        t = np.array([a for a, _ in self.trace])
        v = np.array([b for _, b in self.trace])
        lo, hi = float(v.min()), float(v.max())
        span = hi - lo if hi > lo else 1.0

        def px(ti: np.ndarray, vi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            cx = x + np.clip((ti - (now - self.seconds)) / self.seconds, 0, 1) * (gw - 1)
            cy = y + (1 - np.clip((vi - lo) / span, 0, 1)) * (gh - 1)
            return np.rint(cy).astype(int), np.rint(cx).astype(int)

        tt = np.linspace(t[0], t[-1], max(2, 2 * gw))  # a dense line: interpolate between samples
        cy, cx = px(tt, np.interp(tt, t, v))
        canvas[cy, cx] = CONTOUR_RGB
        for mt, mv, kind in self.marks:
            if mt < now - self.seconds:
                continue
            (my,), (mx,) = px(np.array([mt]), np.array([mv]))
            c = ED_RGB if kind == "ED" else ES_RGB
            canvas[max(y, my - 2) : my + 3, max(x, mx - 1) : mx + 2] = c


def with_cardiac(overlay: Any) -> Any:
    """``overlay`` (an :class:`Annotator` or an ``(image, prediction)`` callable) with the LV contour
    drawn under it and the EF readout and area trace added (bottom right)."""
    if isinstance(overlay, Annotator):
        return Overlay(LVContourAnnotator(), overlay, LVTraceAnnotator())
    contour_a, trace_a = LVContourAnnotator(), LVTraceAnnotator()

    def draw(image: np.ndarray, prediction: Prediction) -> np.ndarray:
        canvas = overlay(contour_a.annotate(image, prediction), prediction)
        trace_a.draw(canvas, prediction)
        return canvas

    return draw
