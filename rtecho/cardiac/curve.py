"""Conditioning of the LV area curve before beat detection: single-frame outliers, smoothing, extremes.

A segmenter's mask wobbles at the boundary (a few percent of the area from frame to frame) and now and
then misses a frame (part of the cavity lost, or the atrium joined). Three numpy-only steps, each over a
window of time (so the frame rate and dropped frames only change how many samples fall inside):

- :func:`outlier`: a Hampel-style test. A frame is an outlier when its area is more than ``rel`` of
  the median away from the median of the frames within ``+-half_s`` (itself included; at least three
  frames, else nothing is rejected). At 20 frames/s and ``half_s = 0.06`` that is the median of 3: one
  bad frame cannot move it, two in a row can.
- :func:`triangle`: the tracker smooths the inliers by a centred triangle-weighted mean over
  ``+-h`` (``h = min(smooth_s, smooth_rr x RR)``: narrower for a fast heart, whose extremes are narrow;
  the period from the ED-ED intervals, or before the first one from :func:`period`);
- :func:`local_fit`: the value at the extreme by a local least-squares polynomial (degree 2) over
  ``+-half_s`` instead of the window mean. A mean over a window around a maximum is lower than the
  maximum (and a minimum's higher), which biases EF low by a few points; a parabola through the
  window follows the curvature, so its value at the extreme keeps the peak while still averaging the
  noise of ``n`` frames (variance about ``2.25 / n`` of one frame's for 5 frames, against ``1 / n``).

>>> t = np.linspace(-0.1, 0.1, 9)
>>> v = 100 - 2000 * t**2          # a maximum of 100 at t = 0
>>> round(float(np.mean(v)), 1), round(local_fit(t, v, 0.0), 1)
(91.7, 100.0)
>>> outlier(70.0, [100.0, 98.0, 70.0, 99.0], 0.15), outlier(97.0, [100.0, 98.0, 97.0, 99.0], 0.15)
(True, False)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtecho.cardiac.lv import LVShape

__all__ = ["AreaCurve", "local_fit", "outlier", "period", "triangle"]


def outlier(value: float, window: Sequence[float], rel: float) -> bool:
    """True when ``value`` is more than ``rel`` of the median of ``window`` (which holds it) away from it."""
    if rel <= 0 or len(window) < 3:
        return False
    med = float(np.median(window))
    return med > 0 and abs(value - med) > rel * med


def local_fit(
    t: Sequence[float] | np.ndarray,
    v: Sequence[float] | np.ndarray,
    t0: float,
    deg: int = 2,
    extreme: int = 0,
) -> float:
    """Value at ``t0`` of the least-squares polynomial of degree ``deg`` through ``(t, v)`` (NaNs left
    out); ``extreme`` 1 (-1): its largest (smallest) value between the first and last ``t`` instead.
    With fewer than ``deg + 2`` finite points (or ``deg = 0``) the mean, NaN when none."""
    tt = np.asarray(t, np.float64)
    vv = np.asarray(v, np.float64)
    ok = np.isfinite(vv) & np.isfinite(tt)
    tt, vv = tt[ok], vv[ok]
    if vv.size == 0:
        return math.nan
    if deg <= 0 or vv.size < deg + 2:
        return float(vv.mean())
    x = tt - t0
    scale = float(np.max(np.abs(x))) or 1.0  # conditioning: fit in units of the window
    # least squares on the Vandermonde matrix (what polyfit does, without its ~0.1 ms of overhead a call)
    coef = np.linalg.lstsq((x / scale)[:, None] ** np.arange(deg + 1), vv, rcond=None)[0]
    if extreme == 0:
        return float(coef[0])
    grid = np.linspace(float(x.min()), float(x.max()), 33) / scale
    return float(extreme * np.max(extreme * np.polynomial.polynomial.polyval(grid, coef)))


def triangle(dt: Sequence[float] | np.ndarray, h: float) -> np.ndarray:
    """Weights ``1 - |dt| / (h + 1 ms)`` of a centred triangle kernel of half-width ``h`` (s)."""
    return 1.0 - np.abs(np.asarray(dt, np.float64)) / (h + 1e-3)


def period(
    t: Sequence[float] | np.ndarray, v: Sequence[float] | np.ndarray, lo: float, hi: float, min_r: float = 0.5
) -> float | None:
    """The period (s) of ``v(t)`` by autocorrelation: ``v`` resampled to its median frame interval, the lag
    in ``[lo, hi]`` (and at most 2/3 of the data) with the highest normalised autocorrelation, if that
    is an interior peak above ``min_r``; else None.

    >>> t = np.arange(0, 2, 1 / 30)
    >>> round(period(t, np.cos(2 * np.pi * t / 0.8), 0.3, 2.0), 2)
    0.8
    """
    tt = np.asarray(t, np.float64)
    if tt.size < 12:
        return None
    hi = min(hi, (tt[-1] - tt[0]) / 1.5)
    dt = float(np.median(np.diff(tt)))
    if hi <= lo or dt <= 0:
        return None
    a = np.interp(np.arange(tt[0], tt[-1], dt), tt, np.asarray(v, np.float64))
    a = a - a.mean()
    lags = np.arange(int(np.ceil(lo / dt)), int(hi / dt) + 1)
    if lags.size < 3 or not np.any(a):
        return None
    r = np.array([a[:-k] @ a[k:] / math.sqrt((a[:-k] @ a[:-k]) * (a[k:] @ a[k:]) + 1e-12) for k in lags])
    i = int(np.argmax(r))
    return float(lags[i] * dt) if r[i] > min_r and 0 < i < lags.size - 1 else None


# ---- the tracker's samples and the conditioning of its area curve ----------------------------------
TIME_EPS = 1e-6  # s: frame times are i / fps in floating point; a window of k / fps keeps its k frames


@dataclass
class Sample:
    index: int
    t: float
    area: float
    shape: LVShape
    conf: float | None
    view: str | None
    smooth: float = math.nan
    missing_before: bool = False
    v_al: float = math.nan  # this frame's volumes
    v_disc: float = math.nan
    outlier: bool | None = None  # None: not judged yet


@dataclass
class CurveState:
    samples: deque = field(default_factory=deque)
    pending: deque = field(default_factory=deque)
    mode: str | None = None
    ext: Sample | None = None
    first: Sample | None = None
    ed: Sample | None = None
    ed_paired: bool = False
    last_ed_t: float | None = None
    rr: deque = field(default_factory=lambda: deque(maxlen=5))
    max_ed_length: float = 0.0
    missing_since: float | None = None
    view: str | None = None
    rr_guess: tuple[float, float | None] | None = None  # (when, period) from the autocorrelation


class AreaCurve:
    """The curve half of :class:`~rtecho.cardiac.BeatTracker` (``self._s`` its state, ``self.config``
    its :class:`~rtecho.cardiac.TrackerConfig`): neighbours in time, outliers, smoothing, the ES frame,
    the volumes at an extreme."""

    _s: CurveState
    config: Any

    def _near(self, smp: Sample, half_s: float) -> list[Sample]:
        """The samples (smoothed or pending) within ``+-half_s`` of ``smp``, in time order, with it."""
        s = self._s
        near: list[Sample] = []
        for x in reversed(s.samples):  # newest first: stop at the first one too old
            if smp.t - x.t > half_s + TIME_EPS:
                break
            if x.t - smp.t <= half_s + TIME_EPS:
                near.append(x)
        near = [*near[::-1], *(x for x in s.pending if abs(x.t - smp.t) <= half_s + TIME_EPS)]
        before = [x for x in near if x.t < smp.t]
        return [*before, smp, *(x for x in near if x.t > smp.t)]

    def _is_outlier(self, x: Sample) -> bool:
        if x.outlier is None:
            near = self._near(x, self.config.outlier_s)
            x.outlier = outlier(x.area, [y.area for y in near], self.config.outlier_rel)
        return x.outlier

    def _smooth(self, smp: Sample) -> None:
        """The triangle-weighted mean area over ``+-smooth_s`` (weight ``1 - |dt| / (smooth_s + 1 ms)``) of
        the frames that are not outliers (:func:`curve.outlier`)."""
        smp.smooth = self._tri_mean(smp, self._half())

    def _half(self) -> float:
        """The smoothing half-width: ``smooth_s``, or ``smooth_rr`` of the median ED-ED interval when
        that is shorter (a fast heart's extremes are narrow: a wide window would move them)."""
        cfg = self.config
        if cfg.smooth_rr <= 0:
            return cfg.smooth_s
        rr = float(np.median(self._s.rr)) if self._s.rr else self._rr_guess()
        return cfg.smooth_s if rr is None else min(cfg.smooth_s, cfg.smooth_rr * rr)

    def _rr_guess(self) -> float | None:
        """Before the first ED-ED interval: the period of the inlier areas seen so far (:func:`curve.period`)."""
        s, cfg = self._s, self.config
        pts = [x for x in [*s.samples, *s.pending] if x.outlier is not True]
        if len(pts) < 12:
            return None
        now = pts[-1].t
        if s.rr_guess is None or now - s.rr_guess[0] >= 0.05:  # recomputed every 50 ms of stream
            t, a = [x.t for x in pts], [x.area for x in pts]
            s.rr_guess = (now, period(t, a, 60.0 / cfg.max_bpm, 60.0 / cfg.min_bpm))
        return s.rr_guess[1]

    def _tri_mean(self, smp: Sample, h: float) -> float:
        near = self._near(smp, h) if h > 0 else [smp]
        good = [x for x in near if not self._is_outlier(x)] or near
        w = triangle([x.t - smp.t for x in good], h)
        return float(np.dot(w, [x.area for x in good]) / w.sum())

    def _es_frame(self, x: Sample) -> Sample:
        """ES at the end of the minimum's plateau: the last sample after the detected minimum ``x`` (before
        the curve leaves it) whose smoothed area is within ``es_plateau_k`` noise deviations of it. The
        refill after ES is fast, so the smoothing shifts the minimum early; the frames that the noise
        cannot tell from it run up to the refill. The noise deviation of the smoothed curve is the
        robust spread (1.4826 MAD) of the inlier areas around it over the window times the triangle
        kernel's factor ``sqrt(sum w^2) / sum w``."""
        k = self.config.es_plateau_k
        samples = list(self._s.samples)
        if k <= 0 or len(samples) < 8:
            return x
        res = np.array([y.area - y.smooth for y in samples if not self._is_outlier(y)])
        if res.size < 8:
            return x
        h = self._half()
        w = triangle([y.t - x.t for y in self._near(x, h)], h)
        sigma = 1.4826 * float(np.median(np.abs(res - np.median(res)))) * float(np.sqrt(w @ w) / w.sum())
        out = x
        for y in samples:
            if y.t <= x.t:
                continue
            if y.smooth - x.smooth > k * sigma:
                break
            out = y
        return out

    def _volumes(self, at: Sample, sign: int = 0) -> tuple[float, float]:
        """Area-length and disc volumes at an extreme: a local quadratic fit (:func:`curve.local_fit`) over
        ``+-extreme_s`` of the inlier frames' volumes, evaluated at the extreme's time."""
        cfg = self.config
        near = [x for x in self._near(at, cfg.extreme_s) if not self._is_outlier(x)] or [at]
        ts = [x.t for x in near]
        return (
            local_fit(ts, [x.v_al for x in near], at.t, cfg.extreme_deg, sign if cfg.extreme_vertex else 0),
            local_fit(ts, [x.v_disc for x in near], at.t, cfg.extreme_deg, sign if cfg.extreme_vertex else 0),
        )
