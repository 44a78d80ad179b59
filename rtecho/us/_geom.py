"""Small numpy image helpers for the ultrasound stage: gray/downsample, box blur, components, line fit."""

from __future__ import annotations

import numpy as np


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
    """Mean over f x f blocks (the image is cropped to a multiple of f); float32."""
    if f == 1:
        return a.astype(np.float32, copy=False)
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    if h == 0 or w == 0:
        return a.astype(np.float32)
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


def _runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate([[0], row.view(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)  # [start, end)


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a boolean mask by run-length union-find.

    Returns ``(labels, areas)``: an int32 label image (0 = background, 1..n) and the area of each
    label (``areas[0]`` is 0).
    """
    h, _ = mask.shape
    parent: list[int] = [0]
    run_rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for y in range(h):
        s, e = _runs(np.ascontiguousarray(mask[y]))
        ids = np.arange(len(parent), len(parent) + len(s))
        parent.extend(ids.tolist())
        if prev is not None and len(s) and len(prev[0]):
            ps, pe, pid = prev
            # 8-connectivity: runs [s, e) and [ps, pe) touch when s <= pe and ps <= e.
            lo = np.searchsorted(pe, s, side="left")
            hi = np.searchsorted(ps, e, side="right")
            for k in range(len(s)):
                for j in range(lo[k], hi[k]):
                    a, b = find(int(ids[k])), find(int(pid[j]))
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        prev = (s, e, ids)
        run_rows.append(prev)
    roots = np.array([find(i) for i in range(len(parent))], np.int64)
    uniq, compact = np.unique(roots, return_inverse=True)
    compact = compact.astype(np.int32)  # root 0 (background) maps to 0 since it is the smallest root
    labels = np.zeros(mask.shape, np.int32)
    for y, (s, e, ids) in enumerate(run_rows):
        for k in range(len(s)):
            labels[y, s[k] : e[k]] = compact[ids[k]]
    areas = np.bincount(labels.ravel(), minlength=len(uniq)).astype(np.int64)
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
    lab = labels[ys, xs]
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(len(areas) + 1))
    for k in np.flatnonzero(areas):
        idx = order[bounds[k] : bounds[k + 1]]
        cx, cy = xs[idx], ys[idx]
        x0, x1, y0, y1 = cx.min(), cx.max(), cy.min(), cy.max()
        if x1 - x0 < 4 and y1 - y0 + 1 > 3 * (x1 - x0 + 1) and y1 - y0 >= 6:
            out[cy, cx] = True
            continue
        cols = np.unique(cx)
        if len(cols) < min_width * ws or areas[k] > 4 * len(cols):
            continue
        mean_y = np.bincount(cx, weights=cy, minlength=ws)[cols] / np.bincount(cx, minlength=ws)[cols]
        q1, q3 = np.percentile(mean_y, [25, 75])
        if q3 - q1 <= max_spread:
            out[cy, cx] = True
    return out


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Length of the horizontal run of True each pixel belongs to (0 outside the mask)."""
    h, w = mask.shape
    p = np.zeros((h, w + 2), np.int8)
    p[:, 1:-1] = mask
    d = np.diff(p, axis=1)
    out = np.zeros((h, w), np.int32)
    ys, xs = np.nonzero(d == 1)
    ye, xe = np.nonzero(d == -1)  # same order: row by row, left to right
    for y, s, e in zip(ys, xs, xe, strict=True):
        out[y, s:e] = e - s
    del ye
    return out


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
