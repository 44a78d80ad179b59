"""EchoNet-Dynamic style LV tracings: a long axis and 20 chords across it, to and from masks.

A tracing is an array ``(n + 1, 4)`` of lines ``X1, Y1, X2, Y2`` (pixels, as in ``VolumeTracings.csv``):
row 0 the long axis (apex to the mid-point of the mitral annulus), rows 1..n the chords perpendicular
to it at ``k / (n + 1)`` of its length, ``(X1, Y1)`` on one wall and ``(X2, Y2)`` on the other.

- :func:`mask_from_tracing` fills the polygon of the chord ends, ``X1[1:]`` then ``X2[1:]`` reversed,
  vertices rounded to whole pixels, a pixel in when its centre is inside by the even-odd crossing test:
  the construction of ``echonet/datasets/echo.py`` (``skimage.draw.polygon``), without scikit-image.
- :func:`tracing_volume` is the method of discs over the chords as EchoNet-derived code computes it:
  ``V = sum_k pi (d_k / 2)^2 L / (n + 1)``, ``L`` the long-axis length, ``d_k`` the chord lengths.
- :func:`tracing_from_mask` draws such a tracing from a binary mask (the simulator export).

>>> import numpy as np
>>> yy, xx = np.mgrid[:112, :112]
>>> m = ((xx - 56) / 15.0) ** 2 + ((yy - 50) / 35.0) ** 2 <= 1
>>> tr = tracing_from_mask(m)
>>> tr.shape, round(float(np.hypot(*(tr[0, 2:] - tr[0, :2]))))
((21, 4), 71)
>>> back = mask_from_tracing(tr, m.shape)
>>> round(float((back & m).sum() / m.sum()), 2)
0.93
"""

from __future__ import annotations

import math

import numpy as np

from rtecho.cardiac.lv import measure_lv
from rtecho.errors import FrameError

N_CHORDS = 20


def _check(tracing: np.ndarray) -> np.ndarray:
    t = np.asarray(tracing, np.float64)
    if t.ndim != 2 or t.shape[1] != 4 or t.shape[0] < 3 or not np.isfinite(t).all():
        raise FrameError(f"a tracing must be (n + 1, 4) finite X1,Y1,X2,Y2 lines, got shape {t.shape}")
    return t


def polygon_mask(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre (r, c) lies inside the polygon (even-odd rule, ``skimage.draw.polygon``'s test)."""
    r = np.asarray(rows, np.float64)
    c = np.asarray(cols, np.float64)
    h, w = int(shape[0]), int(shape[1])
    out = np.zeros((h, w), bool)
    r0, r1 = max(0, int(math.floor(r.min()))), min(h - 1, int(math.ceil(r.max())))
    c0, c1 = max(0, int(math.floor(c.min()))), min(w - 1, int(math.ceil(c.max())))
    if r0 > r1 or c0 > c1:
        return out
    yy, xx = np.mgrid[r0 : r1 + 1, c0 : c1 + 1].astype(np.float64)
    inside = np.zeros(yy.shape, bool)
    j = len(r) - 1
    for i in range(len(r)):
        yi, xi, yj, xj = r[i], c[i], r[j], c[j]
        if yi != yj:
            cross = ((yi <= yy) & (yy < yj)) | ((yj <= yy) & (yy < yi))
            x_at = (xj - xi) * (yy - yi) / (yj - yi) + xi
            inside ^= cross & (xx < x_at)
        j = i
    out[r0 : r1 + 1, c0 : c1 + 1] = inside
    return out


def mask_from_tracing(tracing: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) LV mask of a tracing, built as EchoNet-Dynamic builds its training masks."""
    t = _check(tracing)
    x = np.concatenate([t[1:, 0], t[1:, 2][::-1]])
    y = np.concatenate([t[1:, 1], t[1:, 3][::-1]])
    return polygon_mask(np.rint(y), np.rint(x), shape)


def tracing_volume(tracing: np.ndarray) -> float:
    """Method-of-discs volume (px³) of a tracing: ``sum pi (d_k / 2)^2 L / (n + 1)``."""
    t = _check(tracing)
    length = float(np.hypot(t[0, 2] - t[0, 0], t[0, 3] - t[0, 1]))
    d = np.hypot(t[1:, 2] - t[1:, 0], t[1:, 3] - t[1:, 1])
    return float(np.sum(math.pi * (d / 2.0) ** 2) * length / (len(d) + 1))


def tracing_from_mask(mask: np.ndarray, n: int = N_CHORDS, step: float = 0.1) -> np.ndarray:
    """A ``(n + 1, 4)`` tracing of a binary mask: its long axis (apex first) and ``n`` perpendicular chords.

    Chord ``k`` crosses the axis at ``k / (n + 1)`` of its length; its ends are where a line through that
    point, perpendicular to the axis, leaves the mask (nearest-pixel sampling every ``step`` px).
    """
    m = np.asarray(mask, bool)
    shape = measure_lv(m)
    if shape.empty:
        raise FrameError("no LV in the mask: nothing to trace")
    (ax, ay), (bx, by) = shape.apex_xy, shape.base_xy
    length = math.hypot(bx - ax, by - ay)
    ux, uy = (bx - ax) / length, (by - ay) / length
    nx, ny = -uy, ux
    h, w = m.shape
    reach = np.arange(0.0, float(h + w), step)
    rows = [[ax, ay, bx, by]]
    for k in range(1, n + 1):
        px, py = ax + (bx - ax) * k / (n + 1), ay + (by - ay) * k / (n + 1)
        ends = []
        for sgn in (1.0, -1.0):
            xs, ys = px + sgn * reach * nx, py + sgn * reach * ny
            ix, iy = np.rint(xs).astype(int), np.rint(ys).astype(int)
            ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
            inside = np.zeros(reach.size, bool)
            inside[ok] = m[iy[ok], ix[ok]]
            out = np.flatnonzero(~inside)
            last = (out[0] - 1) if out.size else reach.size - 1
            last = max(int(last), 0)
            ends.append((float(xs[last]), float(ys[last])))
        (x1, y1), (x2, y2) = ends
        rows.append([x1, y1, x2, y2])
    return np.asarray(rows, np.float64)
