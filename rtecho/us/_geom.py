"""Small numpy image helpers for the ultrasound stage: gray/downsample, box blur, components, line fit."""

from __future__ import annotations

import numpy as np


def gray(image: np.ndarray) -> np.ndarray:
    """uint8 HxW or HxWx3 -> float32 HxW; colour pixels count with their brightest channel."""
    if image.ndim == 2:
        return image.astype(np.float32)
    return image.max(axis=2).astype(np.float32)


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
    b = a[:h, :w].astype(np.float32).reshape(h // f, f, w // f, f, *a.shape[2:])
    return b.mean(axis=(1, 3))


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


def fit_line_ransac(
    t: np.ndarray, v: np.ndarray, tol: float, rng: np.random.Generator, iters: int = 200
) -> tuple[float, float, np.ndarray] | None:
    """Robust fit of ``v = a + b t``: RANSAC on point pairs, then least squares on the inliers.

    Returns ``(a, b, inliers)`` or None with fewer than 4 points.
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
    resid = np.abs(v[None, :] - (a[:, None] + b[:, None] * t[None, :]))
    score = (resid < tol).sum(axis=1)
    best = int(np.argmax(score))
    inl = resid[best] < tol
    if inl.sum() < 3:
        return None
    bb, aa = np.polyfit(t[inl], v[inl], 1)
    inl = np.abs(v - (aa + bb * t)) < tol
    return float(aa), float(bb), inl
