"""Layout features of a screen that tell a trace screen (spectral/tissue Doppler, M-mode) from a 2-D one.

All on the block-mean grey frame (about 160 px on the long side), all scale-free (fractions of the
frame). A trace screen is a small 2-D image above (or beside) a wide band whose rows start and end at
the same columns (a rectangle, where a fan widens with depth), which starts abruptly (the row width
jumps), whose vertical profile is the same in every strip across it (time runs along x), and which
holds horizontal lines (baseline, tissue layers). :data:`FEATURES` names the vector's entries.
"""

from __future__ import annotations

import numpy as np

from rtecho.ultrasound._screen import ScreenFrame

FEATURES: tuple[str, ...] = (
    "jump_span",
    "jump_run",
    "jump_row",
    "band_height",
    "band_width",
    "left_spread",
    "right_spread",
    "run_left_spread",
    "run_right_spread",
    "top_width",
    "strip_corr",
    "strip_presence",
    "h_over_v",
    "thin_line",
    "fill",
    "above_fill",
    "width_slope",
)
LOW = 6.0  # grey level above which a block counts as content
STRIPS = 8
_PAIRS = np.triu_indices(STRIPS, 1)


def screen_grid(image: np.ndarray, target: int = 160) -> tuple[np.ndarray, np.ndarray, int]:
    """(grey block means about ``target`` px on the long side, the pixels they came from, block size):
    :meth:`ScreenFrame.grid <rtecho.ultrasound._screen.ScreenFrame.grid>` of ``image``."""
    return ScreenFrame.of(image).grid(target)


def _shift_or(m: np.ndarray, r: int, axis: int, fill: bool) -> np.ndarray:
    """OR (dilation) over a (2r+1) segment along ``axis``, ``fill`` beyond the edges (AND via De Morgan)."""
    out = m.copy()
    for k in range(1, r + 1):
        if axis == 0:
            out[k:] |= m[:-k]
            out[:-k] |= m[k:]
            if fill:
                out[:k] = True
                out[-k:] = True
        else:
            out[:, k:] |= m[:, :-k]
            out[:, :-k] |= m[:, k:]
            if fill:
                out[:, :k] = True
                out[:, -k:] = True
    return out


def _open3(m: np.ndarray) -> np.ndarray:
    """3x3 binary opening (drops one-pixel lines: ECG, baseline strokes, thin text)."""
    e = ~_shift_or(_shift_or(~m, 1, 0, False), 1, 1, False)
    return _shift_or(_shift_or(e, 1, 0, False), 1, 1, False)


def _close_h(m: np.ndarray, r: int) -> np.ndarray:
    """Horizontal closing with a (2r+1)-wide segment (bridges small gaps inside a row)."""
    return ~_shift_or(~_shift_or(m, r, 1, False), r, 1, True)


def _row_extents(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: any content, first and last content column, longest run start and length."""
    hs, ws = m.shape
    has = m.any(axis=1)
    first = np.where(has, m.argmax(axis=1), 0)
    last = np.where(has, ws - 1 - m[:, ::-1].argmax(axis=1), -1)
    idx = np.arange(ws)
    since = idx - np.maximum.accumulate(np.where(m, -1, idx), axis=1)  # run length ending here
    run = since.max(axis=1)
    start = since.argmax(axis=1) - run + 1
    return has, first, last, start, run


def _spread(v: np.ndarray) -> float:
    """10-90 percentile range (nearest rank)."""
    if len(v) < 2:
        return 1.0
    v = np.sort(v)
    n = len(v) - 1
    return float(v[int(0.9 * n + 0.5)] - v[int(0.1 * n + 0.5)])


def layout_features(g: np.ndarray) -> np.ndarray:
    """The :data:`FEATURES` vector (float64) of a block-mean grey frame ``g`` (hs x ws, 0..255)."""
    hs, ws = g.shape
    m = _open3(g > LOW)
    mc = _close_h(m, max(1, ws // 80))
    has, first, last, rstart, run = _row_extents(mc)
    span = np.where(has, last - first + 1, 0) / ws
    runw = run / ws
    lo, hi = int(0.1 * hs), int(0.92 * hs)
    k = max(2, int(round(0.03 * hs)))
    out = dict.fromkeys(FEATURES, 0.0)

    def jump(width: np.ndarray) -> tuple[float, int]:
        cm = np.maximum.accumulate(width)
        d = cm[lo + k : hi + k] - cm[lo:hi]
        i = int(d.argmax())
        # the row where the width first reaches its new level
        r = lo + i + int(np.argmax(width[lo + i : lo + i + k + 1] >= cm[lo + i + k] - 1e-6))
        return float(d[i]), r

    js, rs = jump(span)
    jr, rr = jump(runw)
    out["jump_span"], out["jump_run"] = js, jr
    r0 = rr if jr > js else rs
    out["jump_row"] = r0 / hs
    below = span[r0:]
    band = r0 + np.flatnonzero(below >= 0.6 * below.max()) if below.max() > 0 else np.arange(r0, hs)
    band = band[band < int(0.97 * hs)]
    if len(band) < 3:
        return np.array([out[f] for f in FEATURES])
    b0, b1 = int(band[0]), int(band[-1]) + 1
    out["band_height"] = (b1 - b0) / hs
    out["band_width"] = float(span[band].mean())
    out["left_spread"] = _spread(first[band]) / ws
    out["right_spread"] = _spread(last[band]) / ws
    out["run_left_spread"] = _spread(rstart[band]) / ws
    out["run_right_spread"] = _spread((rstart + run)[band]) / ws
    out["top_width"] = float(span[:r0].max()) if r0 > 0 else 0.0
    # strips across the band's columns: same vertical profile in each (time runs along x)
    c0, c1 = int(np.median(first[band])), int(np.median(last[band])) + 1
    if c1 - c0 >= STRIPS:
        sub = g[b0:b1, c0:c1]
        sw = (c1 - c0) // STRIPS
        prof = sub[:, : sw * STRIPS].reshape(b1 - b0, STRIPS, sw).mean(axis=2).T  # STRIPS x rows
        prof = prof - prof.mean(axis=1, keepdims=True)
        norm = np.sqrt((prof**2).sum(axis=1)) + 1e-6
        cc = (prof @ prof.T) / np.outer(norm, norm)
        out["strip_corr"] = float(cc[_PAIRS].mean())
        occ = m[b0:b1, c0 : c0 + sw * STRIPS].reshape(b1 - b0, STRIPS, sw).mean(axis=(0, 2))
        out["strip_presence"] = float(occ.min() / (occ.max() + 1e-6))
        dx = np.abs(np.diff(sub, axis=1)).mean()
        dy = np.abs(np.diff(sub, axis=0)).mean()
        out["h_over_v"] = float(dy / (dx + dy + 1e-6))
        # thin bright horizontal line (a baseline, a specular tissue interface) inside the band, not at
        # its edges (a frame or a toolbar border): brighter than 2 rows above and below over the columns
        e = max(2, (b1 - b0) // 8)
        if b1 - b0 > 2 * e + 1:
            r = sub[e - 2 : b1 - b0 - e + 2]
            line = (r[2:-2] - np.maximum(r[:-4], r[4:])) > 12
            out["thin_line"] = float(line.mean(axis=1).max())
        out["fill"] = float(m[b0:b1, c0:c1].mean())
    out["above_fill"] = float(m[:b0].mean()) if b0 > 0 else 0.0
    # a fan widens steadily with depth: mean width gained per row (in ws) over the band's rows
    x = np.arange(b1 - b0) - 0.5 * (b1 - b0 - 1)
    out["width_slope"] = float((x * span[b0:b1]).sum() / (x * x).sum() * hs)
    return np.array([out[f] for f in FEATURES])
