"""Imaging sector (fan) detection: find where the ultrasound image lies on a scanner screen.

Method (numpy only), on a copy downsampled to about 192 px on the long side:

1. content mask: block-mean intensity (brightest channel, so colour Doppler counts) above a low
   threshold, lightly blurred to close speckle gaps;
2. its 8-connected components; with several frames, components whose pixels are (almost) all
   static over time are screen furniture (text, colour bars, depth scale) and are dropped; the
   largest remaining component is the image;
3. per row, its leftmost and rightmost pixel; two robust (RANSAC) straight-line fits
   ``x = a + b y`` give the fan edges (rows clipped by the image border are left out); their
   intersection is the apex and their slopes the edge angles ``atan(b)`` (degrees from straight
   down, negative = image left, as in :class:`rtecho.synth.physics.FanGeometry`);
4. the outer radius is the median, over angle bins inside the fan, of the farthest component
   pixel from the apex (bins whose ray leaves the image are left out); an inner radius is kept
   for curvilinear probes (near-field arc far from the apex).

When no fan is found (linear probe: parallel edges; already-cropped input; too little content)
the result is a ``box``: the bounding box of the content, or the whole frame.

>>> import numpy as np
>>> s = Sector((100, 120), apex_xy=(60.0, 0.0), radius=90.0, angle_start_deg=-40, angle_end_deg=40)
>>> s.mask().shape, s.bbox
((100, 120), (1, 3, 89, 114))
>>> round(s.iou(s), 3)
1.0
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from rtecho.types import check_image
from rtecho.us._geom import block_factor, block_mean, box_blur, components, fit_line_ransac, gray

KINDS = ("sector", "box")


@dataclass(frozen=True)
class Sector:
    """The imaging region of a frame of size ``size_hw``.

    ``kind="sector"``: an annular sector with apex ``apex_xy`` (pixels, may lie above the image),
    outer ``radius`` and ``inner_radius`` (pixels) between ``angle_start_deg`` and ``angle_end_deg``
    (degrees from straight down, negative = image left). ``kind="box"``: the rectangle ``box`` =
    (top, left, height, width).
    """

    size_hw: tuple[int, int]
    apex_xy: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.0
    angle_start_deg: float = 0.0
    angle_end_deg: float = 0.0
    inner_radius: float = 0.0
    kind: str = "sector"
    box: tuple[int, int, int, int] | None = None
    score: float = field(default=1.0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown sector kind {self.kind!r}; known: {KINDS}")
        if self.kind == "sector" and not (self.radius > 0 and self.angle_end_deg > self.angle_start_deg):
            raise ValueError(
                f"bad sector: radius {self.radius}, angles {self.angle_start_deg}..{self.angle_end_deg}"
            )
        if self.kind == "box" and (self.box is None or self.box[2] <= 0 or self.box[3] <= 0):
            raise ValueError(f"a box sector needs a non-empty box, got {self.box}")

    @classmethod
    def whole(cls, size_hw: tuple[int, int]) -> Sector:
        """The whole frame (the fallback when nothing better is known)."""
        h, w = int(size_hw[0]), int(size_hw[1])
        return cls((h, w), kind="box", box=(0, 0, h, w), score=0.0)

    @classmethod
    def from_fan(cls, geom: Any) -> Sector:
        """From anything with ``size_hw``, ``apex_xy``, ``radius_px`` and the two angles (a simulator fan)."""
        return cls(
            tuple(geom.size_hw),
            tuple(float(v) for v in geom.apex_xy),
            float(geom.radius_px),
            float(geom.angle_start_deg),
            float(geom.angle_end_deg),
            float(getattr(geom, "inner_radius_px", 0.0) or 0.0),
        )

    @property
    def sector_deg(self) -> float:
        return self.angle_end_deg - self.angle_start_deg

    def mask(self, size_hw: tuple[int, int] | None = None) -> np.ndarray:
        """Boolean mask of the region, on a frame of ``size_hw`` (default: the size it was found on)."""
        h, w = (int(v) for v in (size_hw or self.size_hw))
        sy, sx = h / self.size_hw[0], w / self.size_hw[1]
        if self.kind == "box":
            assert self.box is not None
            top, left, bh, bw = self.box
            m = np.zeros((h, w), bool)
            m[round(top * sy) : round((top + bh) * sy), round(left * sx) : round((left + bw) * sx)] = True
            return m
        ys = (np.arange(h, dtype=np.float32)[:, None] + 0.5) / sy - self.apex_xy[1]
        xs = (np.arange(w, dtype=np.float32)[None, :] + 0.5) / sx - self.apex_xy[0]
        rr = np.hypot(xs, ys)
        th = np.degrees(np.arctan2(xs, ys))
        return (
            (rr < self.radius)
            & (rr >= self.inner_radius)
            & (th >= self.angle_start_deg)
            & (th <= self.angle_end_deg)
            & (ys > 0)
        )

    @cached_property
    def bbox(self) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the region inside the frame (the ROI of the preprocessor)."""
        if self.kind == "box":
            assert self.box is not None
            return self.box
        m = self.mask()
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if len(rows) == 0:
            return (0, 0, self.size_hw[0], self.size_hw[1])
        return (int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))

    def iou(self, other: Sector) -> float:
        """Intersection over union of the two regions, on this sector's frame size."""
        a, b = self.mask(), other.mask(self.size_hw)
        union = np.logical_or(a, b).sum()
        return float(np.logical_and(a, b).sum() / union) if union else 1.0

    def apply(self, image: np.ndarray, crop: bool = True, blank: bool = True) -> np.ndarray:
        """``image`` with everything outside the region set to 0 (``blank``), cropped to ``bbox`` (``crop``)."""
        image = check_image(image)
        if blank:
            m = self.mask(image.shape[:2])
            image = np.where(m[..., None] if image.ndim == 3 else m, image, 0).astype(np.uint8)
        if crop:
            top, left, hh, ww = self.scaled_bbox(image.shape[:2])
            image = image[top : top + hh, left : left + ww]
        return image

    def scaled_bbox(self, size_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """``bbox`` on a frame of ``size_hw`` (equal to ``bbox`` on the frame size it was found on)."""
        if tuple(size_hw) == tuple(self.size_hw):
            return self.bbox
        sy, sx = size_hw[0] / self.size_hw[0], size_hw[1] / self.size_hw[1]
        t, left, h, w = self.bbox
        top2, left2 = int(t * sy), int(left * sx)
        return (
            top2,
            left2,
            max(1, min(size_hw[0] - top2, round(h * sy))),
            max(1, min(size_hw[1] - left2, round(w * sx))),
        )


# -- detection ------------------------------------------------------------------------------------


def _content(small: np.ndarray, threshold: float) -> np.ndarray:
    return box_blur(small, 1) > threshold


def _choose_component(mask: np.ndarray, static: np.ndarray | None) -> np.ndarray | None:
    labels, areas = components(mask)
    if len(areas) <= 1:
        return None
    if static is not None:
        stat_area = np.bincount(labels.ravel(), weights=static.ravel(), minlength=len(areas))
        areas = np.where(stat_area > 0.9 * np.maximum(areas, 1), 0, areas)
    best = int(np.argmax(areas))
    if areas[best] == 0:
        return None
    return labels == best


def _box_from(comp: np.ndarray, f: int, size_hw: tuple[int, int], score: float) -> Sector:
    rows, cols = np.flatnonzero(comp.any(axis=1)), np.flatnonzero(comp.any(axis=0))
    top, left = int(rows[0]) * f, int(cols[0]) * f
    bottom = min(size_hw[0], (int(rows[-1]) + 1) * f)
    right = min(size_hw[1], (int(cols[-1]) + 1) * f)
    return Sector(size_hw, kind="box", box=(top, left, bottom - top, right - left), score=score)


def _fit_sector(
    comp: np.ndarray,
    content: np.ndarray,
    mean: np.ndarray,
    f: int,
    size_hw: tuple[int, int],
    rng: np.random.Generator,
) -> Sector | None:
    hs, ws = comp.shape
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
    fits = []
    for x_edge, free in (((xl + 1 - cl) * f, xl > 0), ((xr + cr) * f, xr < ws - 1)):
        if free.sum() < 6:
            return None
        fit = fit_line_ransac(y[free], x_edge[free].astype(np.float64), 1.0 * f + 0.5, rng)
        if fit is None or fit[2].sum() < max(6, 0.2 * free.sum()):
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
    # Outer radius per angle bin from the component; inner radius from all content in the wedge
    # (a dark band across the fan may cut the near field off the main component).
    n_bins = 24
    edges = np.linspace(a0 + 0.1 * (a1 - a0), a1 - 0.1 * (a1 - a0), n_bins + 1)
    r_max, clipped = _radial_extent(comp, ax, ay, f, edges, outer=True)
    r_min, top_hit = _radial_extent(content, ax, ay, f, edges, outer=False)
    valid = ~np.isnan(r_max)
    if valid.sum() < n_bins // 3:
        return None
    free = valid & ~clipped
    radius = float(np.median(r_max[free])) if free.sum() >= 3 else float(np.nanmax(r_max))
    inner_ok = ~np.isnan(r_min) & ~top_hit
    inner = float(np.median(r_min[inner_ok])) if inner_ok.sum() >= 3 else 0.0
    if inner < 0.2 * radius:
        inner = 0.0
    if radius <= inner + 2 * f:
        return None
    sector = Sector(size_hw, (float(ax), float(ay)), radius, a0, a1, inner)
    # The fit must explain the image: most of the component inside, the sector mostly filled.
    m = sector.mask((hs, ws))
    inside = float((comp & m).sum() / max(comp.sum(), 1))
    filled = float((box_blur(content.astype(np.float32), 1)[m] > 0.25).mean()) if m.any() else 0.0
    if inside < 0.85 or filled < 0.5:
        return None
    return dataclasses.replace(sector, score=filled)


def _radial_extent(
    mask: np.ndarray, ax: float, ay: float, f: int, edges: np.ndarray, outer: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per angle bin, the outer (``outer``) or inner edge of the mask along the radius, and whether
    it touches the image border (bottom/sides when outer, top when inner).

    The edge is where the bin's radial occupancy (mask pixels over the pixels of the bin at that
    radius) last (outer) or first (inner) reaches 1/2, so thin structures touching the fan (an ECG
    trace, a tick mark) do not move it.
    """
    hs, ws = mask.shape
    ys, xs = np.mgrid[0:hs, 0:ws]
    py, px = (ys + 0.5) * f - ay, (xs + 0.5) * f - ax
    rr = (np.hypot(px, py) / f).astype(np.int64)
    b = np.digitize(np.degrees(np.arctan2(px, py)), edges) - 1
    n = len(edges) - 1
    sel = (b >= 0) & (b < n) & (py > 0)
    n_r = int(rr[sel].max()) + 2 if sel.any() else 2
    key = b[sel] * n_r + rr[sel]
    total = np.bincount(key, minlength=n * n_r).reshape(n, n_r)
    hit = np.bincount(key, weights=mask[sel], minlength=n * n_r).reshape(n, n_r)
    border_px = np.zeros_like(mask)
    if outer:
        border_px[-1, :] = border_px[:, 0] = border_px[:, -1] = True
    else:
        border_px[0, :] = True
    border = np.bincount(key, weights=border_px[sel], minlength=n * n_r).reshape(n, n_r) > 0
    occ = np.where(total > 0, hit / np.maximum(total, 1), 0.0)
    out = np.full(n, np.nan)
    at_border = np.zeros(n, bool)
    for k in range(n):
        full = np.flatnonzero(occ[k] >= 0.5)
        if len(full) == 0:
            continue
        i = full[-1] if outer else full[0]
        out[k] = (i + 1.0 if outer else float(i)) * f
        # the edge is cut by the image when pixels of the bin at that radius lie on the border
        lo, hi = max(0, i - 1), i + 2
        at_border[k] = bool(border[k, lo:hi].any()) and (outer or i > 0)
    return out, at_border


def detect_sector(
    images: np.ndarray | list[np.ndarray] | tuple[np.ndarray, ...],
    threshold: float = 2.0,
    target: int = 192,
) -> Sector:
    """Estimate the imaging sector from one frame or a window of frames of equal size.

    Falls back to the content's bounding box (``kind="box"``) for linear probes and cropped input,
    and to the whole frame when there is almost no content.

    >>> import numpy as np
    >>> img = Sector((120, 160), (80.0, 5.0), 100.0, -35, 35).mask().astype(np.uint8) * 120
    >>> s = detect_sector(img)
    >>> s.kind, round(s.iou(Sector((120, 160), (80.0, 5.0), 100.0, -35, 35)), 2) >= 0.95
    ('sector', True)
    """
    frames = [images] if isinstance(images, np.ndarray) else list(images)
    if not frames:
        raise ValueError("detect_sector needs at least one frame")
    frames = [check_image(im) for im in frames]
    size_hw = (int(frames[0].shape[0]), int(frames[0].shape[1]))
    if any(im.shape[:2] != size_hw for im in frames):
        raise ValueError("detect_sector: all frames of a window must have the same size")
    f = block_factor(size_hw, target)
    smalls = np.stack([block_mean(gray(im), f) for im in frames])
    return _detect_small(smalls, f, size_hw, threshold)


def _detect_small(smalls: np.ndarray, f: int, size_hw: tuple[int, int], threshold: float) -> Sector:
    mean = smalls.mean(axis=0)
    # Opening (3x3) removes thin lines (ECG trace, text strokes, ticks) and thin bridges to the fan.
    raw = box_blur((box_blur((mean > threshold).astype(np.float32), 1) > 0.99).astype(np.float32), 1) > 0.01
    mask = box_blur(raw.astype(np.float32), 1) > 0.2
    if mask.mean() < 0.01:
        return Sector.whole(size_hw)
    static = None
    if len(smalls) >= 3:
        std = box_blur(smalls.std(axis=0), 1)
        if np.median(std[mask]) > 0.5:  # the image moves: static components are furniture
            static = std < 0.25
    comp = _choose_component(mask, static)
    if comp is None:
        return Sector.whole(size_hw)
    score = float(comp.mean())
    content = raw if static is None else raw & ~static
    sector = _fit_sector(comp & raw, content, mean, f, size_hw, np.random.default_rng(0))
    if sector is None:
        return _box_from(comp, f, size_hw, score)
    return sector


class SectorDetector:
    """Tracks the sector of a stream: re-estimated from a running window and on geometry changes.

    Each :meth:`update` stores a downsampled copy of the frame; the sector is estimated on the
    first frame, again once ``window`` frames are there (temporal variance separates static
    furniture from the moving image), then every ``every`` frames. A cheap per-frame check
    compares the content just inside and just outside the current border with what it was when the
    sector was estimated; a change above ``change_threshold`` (depth or zoom change) restarts the
    window from the current frame. A change of frame size resets everything.

    >>> import numpy as np
    >>> det = SectorDetector()
    >>> img = Sector((120, 160), (80.0, 5.0), 100.0, -35, 35).mask().astype(np.uint8) * 120
    >>> det.update(img).kind
    'sector'
    """

    def __init__(
        self,
        window: int = 8,
        every: int = 30,
        change_threshold: float = 0.3,
        threshold: float = 2.0,
        target: int = 192,
    ) -> None:
        if window < 1 or every < 1:
            raise ValueError("window and every must be >= 1")
        self.window, self.every = window, every
        self.change_threshold, self.threshold, self.target = change_threshold, threshold, target
        self.reset()

    def reset(self) -> None:
        """Forget the window and the current sector."""
        self.sector: Sector | None = None
        self._frames: deque[np.ndarray] = deque(maxlen=self.window)
        self._size: tuple[int, int] | None = None
        self._since = 0
        self._ref: tuple[float, float] | None = None
        self._rings: tuple[np.ndarray, np.ndarray] | None = None
        self.n_estimates = 0

    def _ring_stats(self, small: np.ndarray) -> tuple[float, float]:
        assert self._rings is not None
        content = _content(small, self.threshold)
        inner, outer = self._rings
        return (
            float(content[inner].mean()) if inner.any() else 0.0,
            float(content[outer].mean()) if outer.any() else 0.0,
        )

    def _estimate(self, f: int) -> Sector:
        assert self._size is not None
        sector = _detect_small(np.stack(self._frames), f, self._size, self.threshold)
        self.sector, self._since = sector, 0
        self.n_estimates += 1
        hs, ws = self._frames[-1].shape
        m = sector.mask((hs, ws)).astype(np.float32)
        grown, shrunk = box_blur(m, 2) > 0.01, box_blur(m, 2) > 0.99
        self._rings = (m.astype(bool) & ~shrunk, grown & ~m.astype(bool))
        self._ref = self._ring_stats(self._frames[-1])
        return sector

    def update(self, image: np.ndarray) -> Sector:
        """Add one frame; returns the current sector estimate."""
        image = check_image(image)
        size = (int(image.shape[0]), int(image.shape[1]))
        if size != self._size:
            self.reset()
            self._size = size
        f = block_factor(size, self.target)
        small = block_mean(gray(image), f)
        self._frames.append(small)
        self._since += 1
        if self.sector is None or len(self._frames) == self.window and self.n_estimates == 1:
            return self._estimate(f)
        assert self._ref is not None
        inner, outer = self._ring_stats(small)
        if (
            abs(inner - self._ref[0]) > self.change_threshold
            or abs(outer - self._ref[1]) > self.change_threshold
        ):
            self._frames.clear()
            self._frames.append(small)
            self.n_estimates = 0
            return self._estimate(f)
        if self._since >= self.every:
            return self._estimate(f)
        return self.sector
