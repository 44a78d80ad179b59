"""Scoring detected beats against a reference volume (or area) curve: true ED/ES runs, matching.

A true extreme is a *run* of frames: every frame within ``tol`` of the range of a local extreme's
value (the simulator's cycle has flat stretches, e.g. isovolumic relaxation at ES, so any frame of the
run is the extreme). Extremes are found by a zigzag with hysteresis of half the curve's range (the
reference is noiseless); a run touching the first or last frame is a *boundary* extreme, which no
detector can confirm, and is left out of the score.

>>> import numpy as np
>>> v = np.cos(np.linspace(0, 6 * np.pi, 61))  # maxima at 0, 20, 40, 60; minima at 10, 30, 50
>>> ed, es = true_extremes(v)
>>> [r for r, b in ed if not b], [r for r, b in es if not b]
([(20, 20), (40, 40)], [(10, 10), (30, 30), (50, 50)])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Run = tuple[int, int]


def _runs(v: np.ndarray, peaks: list[int], tol: float, sign: int) -> list[tuple[Run, bool]]:
    out = []
    n = len(v)
    for k in peaks:
        lo = hi = k
        while lo > 0 and sign * (v[k] - v[lo - 1]) <= tol:
            lo -= 1
        while hi < n - 1 and sign * (v[k] - v[hi + 1]) <= tol:
            hi += 1
        out.append(((lo, hi), lo == 0 or hi == n - 1))
    return out


def true_extremes(
    curve: np.ndarray, rel_tol: float = 0.005
) -> tuple[list[tuple[Run, bool]], list[tuple[Run, bool]]]:
    """``(ed_runs, es_runs)``: lists of ``((first, last), at_boundary)`` of the maxima and minima."""
    v = np.asarray(curve, np.float64)
    rng = float(v.max() - v.min())
    if rng <= 0:
        return [], []
    h = 0.5 * rng
    maxima: list[int] = []
    minima: list[int] = []
    mode, ext = None, 0
    lo_i = hi_i = 0
    for i in range(1, len(v)):
        if mode is None:
            if v[i] > v[hi_i]:
                hi_i = i
            if v[i] < v[lo_i]:
                lo_i = i
            if v[i] < v[hi_i] - h:
                maxima.append(hi_i)
                mode, ext = "down", i
            elif v[i] > v[lo_i] + h:
                minima.append(lo_i)
                mode, ext = "up", i
        elif mode == "down":
            if v[i] <= v[ext]:
                ext = i
            elif v[i] > v[ext] + h:
                minima.append(ext)
                mode, ext = "up", i
        else:
            if v[i] >= v[ext]:
                ext = i
            elif v[i] < v[ext] - h:
                maxima.append(ext)
                mode, ext = "down", i
    if mode == "down":
        minima.append(ext)
    elif mode == "up":
        maxima.append(ext)
    tol = rel_tol * rng
    return _runs(v, maxima, tol, 1), _runs(v, minima, tol, -1)


def run_distance(index: int, run: Run) -> int:
    """Frames from ``index`` to the run (0 inside it)."""
    lo, hi = run
    return 0 if lo <= index <= hi else min(abs(index - lo), abs(index - hi))


@dataclass
class BeatScore:
    """True beats (interior ED followed by interior ES), found ones, spurious and boundary detections."""

    true_beats: int = 0
    found: int = 0
    spurious: int = 0
    boundary: int = 0
    matched: list[tuple[int, int]] = field(default_factory=list)  # (detected beat, true beat)


def true_beats(curve: np.ndarray) -> tuple[list[tuple[Run, Run]], list[tuple[Run, Run]]]:
    """``(interior, boundary)`` beats: an ED run and the ES run after it (before the next ED)."""
    ed, es = true_extremes(curve)
    interior, boundary = [], []
    for r_ed, b_ed in ed:
        after = [(r, b) for r, b in es if r[0] > r_ed[1]]
        if not after:
            continue
        r_es, b_es = after[0]
        (boundary if b_ed or b_es else interior).append((r_ed, r_es))
    return interior, boundary


def score_beats(detected: list[tuple[int, int]], curve: np.ndarray, within: int = 2) -> BeatScore:
    """Match detected ``(ed_index, es_index)`` pairs to the true beats of ``curve`` within ``within`` frames."""
    interior, boundary = true_beats(curve)
    sc = BeatScore(true_beats=len(interior))
    used: set[int] = set()
    for j, (ed, es) in enumerate(detected):
        hit = None
        for k, (r_ed, r_es) in enumerate(interior):
            if k not in used and run_distance(ed, r_ed) <= within and run_distance(es, r_es) <= within:
                hit = k
                break
        if hit is not None:
            used.add(hit)
            sc.matched.append((j, hit))
        elif any(run_distance(es, r_es) <= within for _, r_es in boundary):
            sc.boundary += 1
        else:
            sc.spurious += 1
    sc.found = len(used)
    return sc
