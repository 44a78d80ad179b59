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
from collections.abc import Sequence

import numpy as np

__all__ = ["local_fit", "outlier", "period", "triangle"]


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
    coef = np.polynomial.polynomial.polyfit(x / scale, vv, deg)
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
