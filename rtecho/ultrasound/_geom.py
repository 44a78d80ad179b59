"""Small numpy image helpers for the ultrasound stage: gray/downsample, box blur, components, line fit."""

from __future__ import annotations

import numpy as np

from rtecho.runtime.preprocess import block_sums


def gray(image: np.ndarray) -> np.ndarray:
    """uint8 HxW or HxWx3 -> float32 HxW; colour pixels count with their brightest channel."""
    if image.ndim == 2:
        return image.astype(np.float32)
    return channel_max(image).astype(np.float32)


def channel_max(image: np.ndarray) -> np.ndarray:
    """Per-pixel max over the 3 channels (30x faster than ``image.max(axis=2)`` on HxWx3 uint8)."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def channel_min(image: np.ndarray) -> np.ndarray:
    """Per-pixel min over the 3 channels."""
    return np.minimum(np.minimum(image[..., 0], image[..., 1]), image[..., 2])


def block_factor(size_hw: tuple[int, int], target: int = 192) -> int:
    """Integer downsampling factor bringing the longer side to about ``target`` pixels."""
    return max(1, int(np.ceil(max(size_hw) / target)))


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean over f x f blocks (the image is cropped to a multiple of f); float32.

    Integer and boolean input is summed exactly in integers, rows of each block first (f adds of
    whole rows: one pass over the pixels), then columns; the sum times ``1 / f^2`` in float32 is
    the same number as the float path gives (both sums are exact)."""
    if f == 1:
        return a.astype(np.float32, copy=False)
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    if h == 0 or w == 0:
        return a.astype(np.float32)
    if a.ndim == 2 and (a.dtype == np.bool_ or np.issubdtype(a.dtype, np.integer) and a.dtype.itemsize == 1):
        return block_sums(a, f).astype(np.float32) * np.float32(1.0 / (f * f))
    # f*f strided adds: ~10x faster than reshape().mean() here, and exact for integer input
    acc = np.zeros((h // f, w // f, *a.shape[2:]), np.float32)
    for i in range(f):
        for j in range(f):
            acc += a[i:h:f, j:w:f]
    return acc * np.float32(1.0 / (f * f))


def box_blur(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window with edge replication, by cumulative sums (O(1) per pixel)."""
    if r <= 0:
        return a.astype(np.float32, copy=False)
    p = np.pad(a.astype(np.float64), r, mode="edge")
    c = np.cumsum(p, axis=0)
    c = np.concatenate([np.zeros((1, c.shape[1])), c], axis=0)
    rows = (c[2 * r + 1 :] - c[: -2 * r - 1]) / (2 * r + 1)
    c = np.cumsum(rows, axis=1)
    c = np.concatenate([np.zeros((c.shape[0], 1)), c], axis=1)
    return ((c[:, 2 * r + 1 :] - c[:, : -2 * r - 1]) / (2 * r + 1)).astype(np.float32)


def _row_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True: (row, start, end) arrays, end exclusive, in raster order."""
    h, w = mask.shape
    p = np.zeros((h, w + 2), np.int8)
    p[:, 1:-1] = mask
    d = np.diff(p, axis=1)
    ys, xs = np.nonzero(d == 1)
    _, xe = np.nonzero(d == -1)  # same order: row by row, left to right
    return ys, xs, xe


def _fill_runs(
    shape: tuple[int, int], ys: np.ndarray, xs: np.ndarray, xe: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """An int32 image holding ``values[k]`` on run k and 0 elsewhere (prefix sums of +v/-v at the run ends)."""
    h, w = shape
    acc = np.zeros(h * w + 1, np.int64)
    acc[ys * w + xs] += values  # starts are distinct, and so are ends (an end may be the next start)
    acc[ys * w + xe] -= values
    return np.cumsum(acc[:-1]).astype(np.int32).reshape(h, w)


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a boolean mask, by run-length union-find (vectorised).

    Runs are numbered in raster order; runs of neighbouring rows are joined when ``[s, e)`` and
    ``[ps, pe)`` touch (``s <= pe`` and ``ps <= e``); each tree is hooked under its smallest run
    (hook and compress until no join crosses two trees), so a component's label is the rank of its
    first run in raster order. Returns ``(labels, areas)``: an int32 label image (0 = background,
    1..n) and the area of each label (``areas[0]`` is 0).
    """
    h, w = mask.shape
    ys, xs, xe = _row_runs(mask)
    n = len(ys)
    if n == 0:
        return np.zeros(mask.shape, np.int32), np.zeros(1, np.int64)
    stride = w + 2
    # for run k in row y: the runs j of row y - 1 with pe_j >= s_k and ps_j <= e_k (keys row*stride + x)
    lo = np.searchsorted(ys * stride + xe, (ys - 1) * stride + xs, side="left")
    hi = np.searchsorted(ys * stride + xs, (ys - 1) * stride + xe, side="right")
    cnt = np.maximum(hi - lo, 0)
    cnt[ys == 0] = 0
    a = np.repeat(np.arange(n), cnt)
    b = np.repeat(lo, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    parent = np.arange(n)
    while len(a):
        pa, pb = parent[a], parent[b]
        cross = pa != pb
        if not cross.any():
            break
        np.minimum.at(parent, np.maximum(pa, pb)[cross], np.minimum(pa, pb)[cross])
        while True:  # pointer jumping: every run points at its tree's root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    _, compact = np.unique(parent, return_inverse=True)
    labels = _fill_runs(mask.shape, ys, xs, xe, compact.astype(np.int64) + 1)
    areas = np.bincount(labels.ravel(), minlength=int(compact.max()) + 2).astype(np.int64)
    areas[0] = 0
    return labels, areas


def fit_support_line(
    t: np.ndarray,
    v: np.ndarray,
    tol: float,
    rng: np.random.Generator,
    side: int,
    iters: int = 300,
    penalty: float = 3.0,
) -> tuple[float, float, np.ndarray] | None:
    """Robust fit of a supporting line ``v = a + b t`` with the points on one side of it.

    ``side=+1``: the points lie at or above the line (``v >= a + b t``), as the leftmost pixels of
    each row lie right of a fan's left edge; ``side=-1``: at or below. RANSAC over point pairs, each
    candidate scored by its inliers (within ``tol``) minus ``penalty`` times the points clearly on
    the wrong side (beyond ``2 tol``): a line through interior points (a dark gap inside the fan)
    leaves points outside and loses to the true edge even when that has fewer inliers. Then least
    squares on the inliers. Returns ``(a, b, inliers)`` or None with fewer than 4 points.
    """
    n = len(t)
    if n < 4:
        return None
    i = rng.integers(0, n, iters)
    j = rng.integers(0, n, iters)
    ok = t[i] != t[j]
    i, j = i[ok], j[ok]
    if len(i) == 0:
        return None
    b = (v[j] - v[i]) / (t[j] - t[i])
    a = v[i] - b * t[i]
    resid = side * (v[None, :] - (a[:, None] + b[:, None] * t[None, :]))
    score = (np.abs(resid) < tol).sum(axis=1) - penalty * (resid < -2 * tol).sum(axis=1)
    best = int(np.argmax(score))
    inl = np.abs(resid[best]) < tol
    if inl.sum() < 3:
        return None
    bb, aa = np.polyfit(t[inl], v[inl], 1)
    inl = np.abs(v - (aa + bb * t)) < tol
    return float(aa), float(bb), inl


def flat_traces(mask: np.ndarray, min_width: float = 0.3, max_spread: float = 2.0) -> np.ndarray:
    """Pixels of line-like screen furniture in ``mask``: wide, flat, thin traces (an ECG, a baseline)
    and narrow vertical bars (a grey or colour scale).

    A trace spans more than ``min_width`` of the width, is thin (area under 4 pixels per column) and
    the interquartile range of its per-column mean row is at most ``max_spread`` pixels (a fan's far
    arc is wide and thin too, but curved). A bar is at most 4 pixels wide and over 3 times as tall.
    """
    labels, areas = components(mask)
    out = np.zeros(mask.shape, bool)
    ws = mask.shape[1]
    ys, xs = np.nonzero(labels)
    if len(ys) == 0:
        return out
    lab = labels[ys, xs]
    n = len(areas)
    big = np.iinfo(np.int64).max
    x0, y0 = np.full(n, big), np.full(n, big)
    x1, y1 = np.full(n, -1), np.full(n, -1)
    np.minimum.at(x0, lab, xs)
    np.maximum.at(x1, lab, xs)
    np.minimum.at(y0, lab, ys)
    np.maximum.at(y1, lab, ys)
    bars = (areas > 0) & (x1 - x0 < 4) & (y1 - y0 + 1 > 3 * (x1 - x0 + 1)) & (y1 - y0 >= 6)
    n_cols = np.bincount(np.unique(lab.astype(np.int64) * ws + xs) // ws, minlength=n)
    wide = (areas > 0) & ~bars & (n_cols >= min_width * ws) & (areas <= 4 * n_cols)
    out[bars[labels]] = True
    if not wide.any():
        return out
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(n + 1))
    for k in np.flatnonzero(wide):  # few: wide, thin components
        idx = order[bounds[k] : bounds[k + 1]]
        cx, cy = xs[idx], ys[idx]
        cols = np.unique(cx)
        mean_y = np.bincount(cx, weights=cy, minlength=ws)[cols] / np.bincount(cx, minlength=ws)[cols]
        q1, q3 = np.percentile(mean_y, [25, 75])
        if q3 - q1 <= max_spread:
            out[cy, cx] = True
    return out


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Length of the horizontal run of True each pixel belongs to (0 outside the mask)."""
    ys, xs, xe = _row_runs(mask)
    return _fill_runs(mask.shape, ys, xs, xe, (xe - xs).astype(np.int64))


def vertical_bars(mask: np.ndarray, max_width: int = 4, min_height: int = 10) -> np.ndarray:
    """Pixels of narrow vertical bars (a grey or colour scale), also where a bar touches the fan:
    pixels in horizontal runs of at most ``max_width`` that stack into a column at least
    ``min_height`` high."""
    narrow = mask & (_run_lengths(mask) <= max_width)
    return min_height <= _run_lengths(narrow.T).T


def trace_rows(thin: np.ndarray, band: int = 2, min_width: float = 0.55) -> np.ndarray:
    """Pixels of ``thin`` in rows where thin pixels within ``band`` rows cover more than ``min_width``
    of the columns: a horizontal trace (an ECG) even where it touches other content. A fan's far arc
    is curved, so any few rows of it cover much less of the width."""
    h = thin.shape[0]
    p = np.zeros((h + 1, thin.shape[1]), np.int32)
    np.cumsum(thin, axis=0, out=p[1:])
    lo = np.clip(np.arange(h) - band, 0, h)
    hi = np.clip(np.arange(h) + band + 1, 0, h)
    cover = ((p[hi] - p[lo]) > 0).mean(axis=1)
    return thin & (cover > min_width)[:, None]
