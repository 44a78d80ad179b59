"""Left-ventricle measurements from one binary cavity mask: area, long axis, disc diameters.

The long axis is the principal axis of the cavity pixels (the eigenvector of their coordinate
covariance with the larger eigenvalue); its length ``L`` is the extent of the pixels along that axis
plus one pixel (pixel centres span one pixel less than the cavity). The apex is the end of the axis
with the narrower cavity (the cut mitral plane is the wide end). Disc diameters come from ``n``
slabs of height ``h = L / n`` across the axis: the diameter of slab ``i`` is its pixel area over
``h`` (the mean chord of the slab), so ``sum(d_i) h`` equals the cavity area.

With a pixel spacing (cm per pixel, rows and columns) coordinates are scaled before all of this, so
areas are cm², lengths cm and volumes ml; without one they are pixels (EF is a ratio either way).

>>> import numpy as np
>>> yy, xx = np.mgrid[:64, :64]
>>> m = ((xx - 32) / 8.0) ** 2 + ((yy - 30) / 20.0) ** 2 <= 1
>>> s = measure_lv(m)
>>> round(s.area), round(s.length), len(s.diameters)
(497, 41, 20)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rtecho.errors import FrameError

N_DISCS = 20


@dataclass(frozen=True)
class LVShape:
    """One frame's cavity: ``area`` (px² or cm²), ``length`` (long axis, px or cm), ``diameters`` (n discs,
    apex to base), ``centroid_xy`` and ``apex_xy``/``base_xy`` in pixels, ``n_pixels`` (0: no LV)."""

    area: float
    length: float
    diameters: np.ndarray
    centroid_xy: tuple[float, float]
    apex_xy: tuple[float, float]
    base_xy: tuple[float, float]
    n_pixels: int

    @property
    def empty(self) -> bool:
        return self.n_pixels == 0


EMPTY = LVShape(
    0.0, 0.0, np.zeros(N_DISCS), (math.nan, math.nan), (math.nan, math.nan), (math.nan, math.nan), 0
)


def _spacing(spacing: float | tuple[float, float] | None) -> tuple[float, float]:
    if spacing is None:
        return 1.0, 1.0
    sy, sx = (spacing, spacing) if np.isscalar(spacing) else spacing  # type: ignore[misc]
    sy, sx = float(sy), float(sx)
    if not (sy > 0 and sx > 0 and math.isfinite(sy) and math.isfinite(sx)):
        raise FrameError(f"pixel spacing must be positive and finite, got {spacing!r}")
    return sy, sx


def largest_component(mask: np.ndarray, max_iter: int = 512) -> np.ndarray:
    """The largest 4-connected component of a boolean mask (label propagation over runs, numpy only).

    The mask's rows are cut into runs (maximal horizontal stretches of foreground), numbered in row-major
    order; two runs touch when a pixel of one is right above a pixel of the other. Every run starts with
    its own number as label; each step gives both ends of every touching pair the smaller of their
    labels, then jumps labels (``label = label[label]``: a label is a run of the same part whose own
    label is no larger), until nothing changes: each part is then labelled by its first run (a few
    steps on a segmenter's mask). The part with the most pixels wins (ties: the part whose first pixel
    comes first).

    >>> m = np.zeros((5, 7), bool); m[1:4, 1:3] = True; m[2, 5] = True
    >>> int(largest_component(m).sum())
    6
    """
    m = np.asarray(mask, bool)
    if not m.any():
        return m.copy()
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    sub = m[box]  # the work on the mask's bounding box only
    start = sub.copy()
    start[:, 1:] &= ~sub[:, :-1]  # the first pixel of each run
    n_runs = int(np.count_nonzero(start))
    run = np.cumsum(start.reshape(-1)).reshape(sub.shape) - 1  # each pixel's run (where sub)
    below = sub[:-1] & sub[1:]
    a, b = run[:-1][below], run[1:][below]
    if a.size:  # consecutive duplicates (the same two runs over several columns) once
        new_pair = np.ones(a.size, bool)
        new_pair[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        a, b = a[new_pair], b[new_pair]
    lab = np.arange(n_runs)
    for _ in range(max_iter if a.size else 0):
        low = np.minimum(lab[a], lab[b])
        new = lab.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        for _ in range(4):
            new = new[new]
        if np.array_equal(new, lab):
            break
        lab = new
    sizes = np.bincount(lab[run[sub]], minlength=n_runs)
    out = np.zeros_like(m)
    out[box] = sub & (lab[run] == int(np.argmax(sizes)))
    return out


def measure_lv(
    mask: np.ndarray,
    spacing: float | tuple[float, float] | None = None,
    n_discs: int = N_DISCS,
    keep_largest: bool = False,
    origin: tuple[int, int] = (0, 0),
) -> LVShape:
    """Area, long axis and ``n_discs`` disc diameters of the cavity ``mask`` (H, W; nonzero = LV).

    ``origin`` (top, left): ``mask`` is a window of a larger frame at that offset (a segmenter's
    :attr:`~rtecho.cardiac.segment.LVMask.part`); positions are the frame's, the results those of the
    whole frame's mask (the same pixel coordinates, so the same numbers)."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise FrameError(f"an LV mask must be 2-D (H, W), got shape {m.shape}")
    m = m.astype(bool, copy=False)
    if keep_largest:
        m = largest_component(m)
    ys, xs = np.nonzero(m)
    if origin != (0, 0):
        ys, xs = ys + origin[0], xs + origin[1]
    n = int(ys.size)
    if n < 3:
        return EMPTY
    sy, sx = _spacing(spacing)
    py, px = ys * sy, xs * sx
    cy, cx = float(py.mean()), float(px.mean())
    dy, dx = py - cy, px - cx
    # products summed by numpy, not BLAS dot products: OpenBLAS runs a dot of this many pixels on its
    # thread pool, whose threads then spin ~5 ms of CPU per call on the other core between frames
    sxx, sxy, syy = float(np.sum(dx * dx)), float(np.sum(dx * dy)), float(np.sum(dy * dy))
    cov = np.array([[sxx, sxy], [sxy, syy]]) / n
    w, v = np.linalg.eigh(cov)
    ux, uy = float(v[0, 1]), float(v[1, 1])  # long axis (largest eigenvalue)
    s = dx * ux + dy * uy
    pix_s = abs(ux) * sx + abs(uy) * sy  # one pixel's extent along the axis, for the end half-pixels
    lo, hi = float(s.min()) - 0.5 * pix_s, float(s.max()) + 0.5 * pix_s
    length = hi - lo
    h = length / n_discs
    slab = np.clip(((s - lo) / h).astype(np.int64), 0, n_discs - 1)
    cell = sy * sx
    areas = np.bincount(slab, minlength=n_discs) * cell
    diam = areas / h
    # apex = the narrow end: compare the cavity width in the end quarters
    q = max(1, n_discs // 4)
    if diam[:q].sum() > diam[-q:].sum():
        diam = diam[::-1]
        lo, hi, ux, uy = -hi, -lo, -ux, -uy
        s = -s
    apex = (cx + lo * ux, cy + lo * uy)
    base = (cx + hi * ux, cy + hi * uy)

    def to_px(p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] / sx, p[1] / sy)

    return LVShape(
        area=float(n * cell),
        length=float(length),
        diameters=diam.astype(np.float64),
        centroid_xy=to_px((cx, cy)),
        apex_xy=to_px(apex),
        base_xy=to_px(base),
        n_pixels=n,
    )


def contour(mask: np.ndarray) -> np.ndarray:
    """Boolean (H, W) of the mask's boundary pixels (inside pixels with an outside 4-neighbour)."""
    m = np.asarray(mask, bool)
    p = np.pad(m, 1)
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~inner


def outline(mask: np.ndarray, wide_from: int = 300) -> np.ndarray:
    """The boundary to draw: :func:`contour`, 2 px wide (grown down and right, never wrapping around
    the image's edges) on frames of ``wide_from`` px and more, so it stays visible when shown small."""
    edge = contour(mask)
    if max(edge.shape) >= wide_from:
        grown = edge.copy()
        grown[1:] |= edge[:-1]
        grown[:, 1:] |= edge[:, :-1]
        edge = grown
    return edge
