"""Candidate fans for :func:`rtecho.ultrasound.sector.detect_sector` and the choice between them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Generator

import numpy as np

from rtecho.ultrasound._fanfit import (
    angular_edges,
    apex_tip,
    arc_extent,
    far_evidence,
    filled_fraction,
    fit_edges,
    inner_radius,
    outer_radius,
    sparse_apex,
    thin_parts,
)
from rtecho.ultrasound._geom import box_blur
from rtecho.ultrasound._region import Sector


def fit_sector_steps(
    comp: np.ndarray,
    raw: np.ndarray,
    content: np.ndarray,
    mean: np.ndarray,
    f: int,
    size_hw: tuple[int, int],
    rng: np.random.Generator,
) -> Generator[None, None, Sector | None]:
    """The fan on a downsampled frame (factor ``f``), or None (not a fan), yielding between the
    candidates (a few ms each) so that a deferred estimate can pause.

    ``comp``: the image component (opened); ``raw``: all content above the threshold, furniture
    lines removed; ``content``: the opened content; ``mean``: the block means. Candidates come from
    the edge line fits, the component's pointed top and the top of a sparse image; the first that
    leaves out at most 4 more evidence pixels (with a 1 px tolerance) than the best one wins.
    """
    edges = fit_edges(comp, mean, f, size_hw, rng)
    tip = apex_tip(comp, f)
    yield
    parts = thin_parts(raw, content)
    cands = []
    yield
    if edges is not None:
        cands.append((yield from _candidate(edges, True, comp, parts, content, f, size_hw)))
        yield
    if tip is not None and (edges is None or math.hypot(edges[0] - tip[0], edges[1] - tip[1]) > 3 * f):
        a0, a1 = (-45.0, 45.0) if edges is None else edges[2:]
        cands.append((yield from _candidate((*tip, a0, a1), False, comp, parts, content, f, size_hw)))
        yield
    # evidence: opened content and thin structures of some size (far arcs), not ticks or specks
    thin, labels, areas = parts
    evidence = content | (areas >= 5)[labels] & thin
    sparse = sparse_apex(raw, f)
    if sparse is not None:
        cands.append((yield from _sparse_candidate(sparse, comp, evidence, parts, content, f, size_hw)))
        yield
    cands = [c for c in cands if c is not None]
    if not cands:
        return None
    # The first candidate (line fits, pointed top, sparse content) that leaves out hardly more of
    # the evidence than the best one.
    outside = []
    for c in cands:
        grown = box_blur(c.mask(comp.shape).astype(np.float32), 1) > 0  # 1 px tolerance
        outside.append(int((evidence & ~grown).sum()))
        yield
    best = next(c for c, v in zip(cands, outside, strict=True) if v <= min(outside) + 4)
    return symmetric(best)


#: Largest tilt (degrees) of a fan's axis from the vertical that is taken as real.
MAX_SKEW_DEG = 4.0


def symmetric(sector: Sector) -> Sector:
    """Phased-array sectors are symmetric about the vertical through the apex (a whole B-mode sector
    is hardly ever steered): a fan found tilted by more than ``MAX_SKEW_DEG`` has an edge that lay
    in the dark (no echo near it) and was placed inside the true one; it is mirrored from the other.
    A found edge is never moved inwards."""
    a0, a1 = sector.angle_start_deg, sector.angle_end_deg
    half = max(-a0, a1)
    if abs(0.5 * (a0 + a1)) <= MAX_SKEW_DEG or abs(0.5 * (a0 + a1)) > 15.0 or half > 60.0:
        return sector  # symmetric enough, or too odd a fan to complete
    return dataclasses.replace(sector, angle_start_deg=-half, angle_end_deg=half)


def _sparse_candidate(
    apex: tuple[float, float],
    comp: np.ndarray,
    evidence: np.ndarray,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    content: np.ndarray,
    f: int,
    size_hw: tuple[int, int],
) -> Generator[None, None, Sector | None]:
    ax, ay = apex
    radius = outer_radius(evidence, ax, ay, -80.0, 80.0, f)
    if radius is None:
        return None
    yield
    ang = angular_edges(evidence, ax, ay, radius, f, 0.0, r_min=0.35)
    if ang is None:
        return None
    if ang[1] - ang[0] < 70.0:  # narrower than a phased array's sector: look for the far arc's ends
        ang = arc_extent(evidence, ax, ay, radius, f, *ang)
    yield
    return (yield from _candidate((ax, ay, *ang), True, comp, parts, content, f, size_hw))


def _candidate(
    edges: tuple[float, float, float, float],
    fitted: bool,
    comp: np.ndarray,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    content: np.ndarray,
    f: int,
    size_hw: tuple[int, int],
) -> Generator[None, None, Sector | None]:
    """One candidate fan from an apex and edge angles, in steps (None: it does not fit)."""
    ax, ay, a0, a1 = edges
    if ay < -0.5 * size_hw[0] or not 0.0 <= ax <= size_hw[1]:
        return None  # a phased array's apex is near the top of the image, a convex probe's not far above
    # Angles from the opened content seen from the apex (a dark far field leaves the component
    # short of the edges): the line fits are kept where they agree.
    radius = outer_radius(far_evidence(parts, content, ax, ay, a0 - 30, a1 + 30, f), ax, ay, a0, a1, f)
    if radius is None:
        return None
    ang = None if fitted else angular_edges(content, ax, ay, radius, f, 0.5 * (a0 + a1))
    if ang is not None:
        a0, a1 = ang
    if not 10.0 <= a1 - a0 <= 170.0:
        return None
    yield
    # Outer radius from all content in the wedge (thin far arcs and haze included).
    radius = outer_radius(far_evidence(parts, content, ax, ay, a0, a1, f), ax, ay, a0, a1, f)
    if radius is None:
        return None
    yield
    inner = inner_radius(content, ax, ay, a0, a1, f, radius)
    if radius <= inner + 2 * f:
        return None
    yield
    sector = Sector(size_hw, (float(ax), float(ay)), radius, a0, a1, inner)
    # The fit must explain the image: most of the component inside it.
    m = sector.mask(comp.shape)
    inside = float((comp & m).sum() / max(comp.sum(), 1))
    filled = filled_fraction(content, m)
    if inside < 0.85 or filled < 0.03:
        return None
    return dataclasses.replace(sector, score=filled)
