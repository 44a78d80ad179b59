"""Fitting a fan (apex, edge angles, radii) to a downsampled content mask; used by :mod:`rtecho.ultrasound.sector`.

The edges are supporting lines of the image component (its leftmost/rightmost pixel per row lies on
or inside each edge; dark gaps inside the fan only move points inwards), the apex is where they
meet, and the outer radius is the farthest non-furniture content inside the wedge (a far arc, haze
or speckle), robust to a few stray pixels. Works in the coordinates of the full-size frame.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from rtecho.ultrasound._geom import box_blur, components, fit_support_line, flat_traces, trace_rows

N_BINS = 24


def edge_points(comp: np.ndarray, mean: np.ndarray, f: int) -> tuple[np.ndarray, ...] | None:
    """Per row of ``comp``: y, sub-pixel left and right edge x (full-size pixels) and free flags."""
    ws = comp.shape[1]
    rows = np.flatnonzero(comp.any(axis=1))
    if len(rows) < 8:
        return None
    sub = comp[rows]
    xl = sub.argmax(axis=1)
    xr = ws - 1 - sub[:, ::-1].argmax(axis=1)
    # Sub-pixel edges: the border block is covered in proportion to its mean over the content level.
    level = max(float(np.median(mean[comp])), 1.0)
    cl = np.clip(mean[rows, xl] / level, 0.0, 1.0)
    cr = np.clip(mean[rows, xr] / level, 0.0, 1.0)
    y = (rows + 0.5) * f
    return rows, y, (xl + 1 - cl) * f, xl > 0, (xr + cr) * f, xr < ws - 1


def fit_edges(
    comp: np.ndarray, mean: np.ndarray, f: int, size_hw: tuple[int, int], rng: np.random.Generator
) -> tuple[float, float, float, float] | None:
    """(apex x, apex y, left angle, right angle) in full-size pixels/degrees, or None (not a fan)."""
    pts = edge_points(comp, mean, f)
    if pts is None:
        return None
    rows, y, xl, free_l, xr, free_r = pts
    fits = []
    for x_edge, free, side in ((xl, free_l, 1), (xr, free_r, -1)):
        if free.sum() < 6:
            return None
        fit = fit_support_line(y[free], x_edge[free].astype(np.float64), 1.0 * f + 0.5, rng, side)
        if fit is None or fit[2].sum() < max(5, 0.08 * free.sum()):
            return None
        fits.append(fit)
    (al, bl, _), (ar, br, _) = fits
    if br - bl < 0.05:  # parallel or converging edges: not a fan (linear probe)
        return None
    ay = (ar - al) / (bl - br)
    ax = al + bl * ay
    top_y = rows[0] * f
    if ay > top_y + 0.25 * (rows[-1] - rows[0]) * f or ay < -3 * size_hw[0]:
        return None
    a0, a1 = math.degrees(math.atan(bl)), math.degrees(math.atan(br))
    if not 10.0 <= a1 - a0 <= 170.0:
        return None
    return float(ax), float(ay), a0, a1


def polar(shape: tuple[int, int], ax: float, ay: float, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radius (full-size px), angle (degrees from down) and below-apex flag of each small pixel
    (read-only arrays, cached: the candidates of one estimate ask for the same apex several times)."""
    return _polar(int(shape[0]), int(shape[1]), float(ax), float(ay), int(f))


@lru_cache(maxsize=8)
def _polar(hs: int, ws: int, ax: float, ay: float, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    py = (np.arange(hs, dtype=np.float32)[:, None] + 0.5) * f - ay
    px = (np.arange(ws, dtype=np.float32)[None, :] + 0.5) * f - ax
    rr, th = np.hypot(px, py), np.degrees(np.arctan2(px, py))
    rr.setflags(write=False)
    th.setflags(write=False)
    return rr, th, np.broadcast_to(py > 0, (hs, ws))


def thin_parts(above: np.ndarray, opened: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(thin, labels, areas)``: the thin content (removed by the opening) without horizontal traces,
    and its components; computed once per frame for :func:`far_evidence`."""
    thin = above & ~opened
    thin &= ~(flat_traces(thin) | trace_rows(thin))
    labels, areas = components(thin)
    return thin, labels, areas


def far_evidence(
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    opened: np.ndarray,
    ax: float,
    ay: float,
    a0: float,
    a1: float,
    f: int,
) -> np.ndarray:
    """Content that may mark the fan's far end: the opened content plus the thin structures (far
    arcs, sparse speckle; ``parts`` from :func:`thin_parts`) that lie inside the wedge; a thin
    structure reaching outside it (depth ticks, text) is furniture and left out as a whole."""
    thin, labels, areas = parts
    if len(areas) <= 1:
        return opened
    _, th, below = polar(opened.shape, ax, ay, f)
    margin = 2.0
    outside = (~below | (th < a0 - margin) | (th > a1 + margin)) & thin
    n_out = np.bincount(labels.ravel(), weights=outside.ravel(), minlength=len(areas))
    keep = n_out <= 0.05 * np.maximum(areas, 1)
    keep[0] = False
    return opened | keep[labels]


def outer_radius(
    evidence: np.ndarray, ax: float, ay: float, a0: float, a1: float, f: int, tol: float = 0.02
) -> float | None:
    """The outer radius: per angle bin inside the wedge, the farthest evidence pixel; bins vote for
    each other's value (within ``tol`` of the largest plus a pixel) and the radius is the farthest
    value with at least 3/4 of the top vote: a far arc, haze or speckle reaching the fan's end in a
    good share of the bins is enough (a haze boundary short of the arc does not win), and a structure
    sticking out of the fan in a few bins (a colour box, a stray label) is outvoted. Bins whose
    farthest pixel is on the image border are only used when fewer than 3 others are left."""
    rr, th, below = polar(evidence.shape, ax, ay, f)
    edges = np.linspace(a0 + 0.05 * (a1 - a0), a1 - 0.05 * (a1 - a0), N_BINS + 1)
    b = np.digitize(th, edges) - 1
    sel = evidence & below & (b >= 0) & (b < N_BINS)
    if sel.sum() < 8:
        return None
    far = np.zeros(N_BINS)
    np.maximum.at(far, b[sel], rr[sel])
    border = np.zeros(evidence.shape, bool)
    border[-1, :] = border[:, 0] = border[:, -1] = True
    on_border = np.zeros(N_BINS, bool)
    bs, rs = b[sel & border], rr[sel & border]
    on_border[bs[rs >= far[bs] - f]] = True
    valid = far > 0
    if valid.sum() < N_BINS // 3:
        return None
    cand = far[valid & ~on_border] if (valid & ~on_border).sum() >= 3 else far[valid]
    width = tol * cand.max() + f
    votes = (np.abs(cand[:, None] - cand[None, :]) <= width).sum(axis=1)
    best = cand[votes >= 0.75 * votes.max()].max()
    near = cand[np.abs(cand - best) <= width]
    return float(np.median(near) - 0.5 * f)


def _walk(occ: np.ndarray, start: int, step: int, gap_deg: float) -> int:
    """From bin ``start``, stepping by ``step``: the last occupied bin before ``gap_deg`` empty ones."""
    i, last, gap = start, start, 0
    while 0 <= i < len(occ) and gap < gap_deg:
        if occ[i]:
            last, gap = i, 0
        else:
            gap += 1
        i += step
    return last


def angular_edges(
    evidence: np.ndarray,
    ax: float,
    ay: float,
    radius: float,
    f: int,
    centre: float,
    gap_deg: float = 7.0,
    r_min: float = 0.08,
) -> tuple[float, float] | None:
    """Edge angles from the apex: walking out from ``centre`` (degrees) over 1-degree bins, the last
    bins holding evidence before a gap of ``gap_deg`` empty degrees (text beside the fan lies beyond
    such a gap; dark patches inside the fan rarely span it at all radii)."""
    rr, th, below = polar(evidence.shape, ax, ay, f)
    sel = evidence & below & (rr > r_min * radius) & (rr < 1.05 * radius)
    ang = th[sel]
    if len(ang) < 20:
        return None
    occ = np.bincount(np.clip((ang + 90).astype(np.int64), 0, 179), minlength=180) >= 2
    c = int(np.clip(centre + 90, 0, 179))
    if not occ[c]:  # a dark band straight below the apex: start from the nearest occupied bin
        near = np.flatnonzero(occ)
        if len(near) == 0 or np.abs(near - c).min() > 30:
            return None
        c = int(near[np.argmin(np.abs(near - c))])
    out = []
    for step in (-1, 1):
        last = _walk(occ, c, step, gap_deg)
        in_bin = np.sort(ang[(ang >= last - 90) & (ang < last - 89)])
        if len(in_bin) < 2:
            return None
        out.append(float(in_bin[1] if step < 0 else in_bin[-2]))
    return out[0], out[1]


def arc_extent(
    evidence: np.ndarray,
    ax: float,
    ay: float,
    radius: float,
    f: int,
    a0: float,
    a1: float,
    gap_deg: float = 12.0,
) -> tuple[float, float]:
    """``(a0, a1)`` widened to the far arc: evidence in the ring at the outer radius (the last echo
    line or the fan's drawn end, often all that shows of a dark fan's edges) continuing beyond an edge
    with gaps of less than ``gap_deg`` degrees moves that edge out to the arc's end."""
    rr, th, below = polar(evidence.shape, ax, ay, f)
    ring = th[evidence & below & (rr > 0.9 * radius) & (rr < radius + 2 * f)]
    if len(ring) < 4:
        return a0, a1
    occ = np.bincount(np.clip((ring + 90).astype(np.int64), 0, 179), minlength=180) >= 1
    out = []
    for start, step in ((a0, -1), (a1, 1)):
        first = int(np.clip(start + 90, 0, 179))
        last = _walk(occ, first, step, gap_deg)
        if last == first:  # the arc ends within the edge's own degree: keep the edge
            out.append(start)
        else:  # the outer side of the arc's last degree
            out.append(float(last - 90) if step < 0 else float(last - 89))
    return out[0], out[1]


def sparse_apex(evidence: np.ndarray, f: int, min_area: int = 6) -> tuple[float, float] | None:
    """The top of the highest blob in the middle half of the frame: the apex of a fan whose image is
    mostly dark (only the near field, sparse speckle and a far arc show)."""
    labels, areas = components(evidence)
    ws = evidence.shape[1]
    ys, xs = np.nonzero(labels)
    if len(ys) == 0:
        return None
    lab = labels[ys, xs]
    n = len(areas)
    top = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(top, lab, ys)
    on_top = ys == top[lab]
    x0 = np.full(n, np.iinfo(np.int64).max)
    x1 = np.full(n, -1)
    np.minimum.at(x0, lab[on_top], xs[on_top])
    np.maximum.at(x1, lab[on_top], xs[on_top])
    xc = 0.5 * (x0 + x1 + 1)
    ok = (areas >= min_area) & (xc >= 0.3 * ws) & (xc <= 0.7 * ws)
    if not ok.any():
        return None
    k = int(np.flatnonzero(ok)[np.argmin(top[ok])])
    return float(xc[k] * f), float(top[k] * f)


def apex_tip(comp: np.ndarray, f: int) -> tuple[float, float] | None:
    """The pointed top of the image component (the apex of a fan whose apex is in the image), or None."""
    rows = np.flatnonzero(comp.any(axis=1))
    if len(rows) == 0:
        return None
    top = comp[rows[0]]
    xs = np.flatnonzero(top)
    run_end = xs[0]
    while run_end + 1 < len(top) and top[run_end + 1]:
        run_end += 1
    if run_end - xs[0] + 1 > 3:
        return None
    return (xs[0] + run_end + 1) / 2 * f, float(rows[0] * f)


def inner_radius(
    content: np.ndarray, ax: float, ay: float, a0: float, a1: float, f: int, radius: float
) -> float:
    """Near-field arc of a curvilinear probe: per bin, the first radius where the bin's occupancy
    reaches 1/2; their median when most bins agree and it is far from the apex, else 0."""
    rr, th, below = polar(content.shape, ax, ay, f)
    edges = np.linspace(a0 + 0.1 * (a1 - a0), a1 - 0.1 * (a1 - a0), N_BINS + 1)
    b = np.digitize(th, edges) - 1
    sel = below & (b >= 0) & (b < N_BINS)
    ri = (rr / f).astype(np.int64)
    n_r = int(ri[sel].max()) + 2 if sel.any() else 2
    key = b[sel] * n_r + ri[sel]
    total = np.bincount(key, minlength=N_BINS * n_r).reshape(N_BINS, n_r)
    hit = np.bincount(key, weights=content[sel], minlength=N_BINS * n_r).reshape(N_BINS, n_r)
    top_px = np.zeros(content.shape, bool)
    top_px[0, :] = True
    top = np.bincount(key, weights=top_px[sel], minlength=N_BINS * n_r).reshape(N_BINS, n_r) > 0
    occ = np.where(total > 0, hit / np.maximum(total, 1), 0.0)
    firsts = []
    for k in range(N_BINS):
        full = np.flatnonzero(occ[k] >= 0.5)
        if len(full) == 0:
            continue
        i = int(full[0])
        if i > 0 and not top[k, max(0, i - 1) : i + 2].any():
            firsts.append(i * f)
    inner = float(np.median(firsts)) if len(firsts) >= 3 else 0.0
    return inner if inner >= 0.2 * radius else 0.0


def filled_fraction(content: np.ndarray, sector_mask: np.ndarray) -> float:
    """Fraction of the sector covered by (lightly blurred) content: the detection score."""
    if not sector_mask.any():
        return 0.0
    return float((box_blur(content.astype(np.float32), 1)[sector_mask] > 0.25).mean())
