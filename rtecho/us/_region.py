"""The :class:`Sector` region (annular sector or box) of a frame: mask, bounding box, IoU, apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from rtecho.types import check_image

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
