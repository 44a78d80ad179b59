"""Per-frame scan mode from cheap image statistics (numpy only).

Modes (:data:`rtecho.views.MODES`), tested in this order:

- ``blank``: almost no content in the imaging region (less than ``blank_fraction`` of it above
  the noise floor): a blank, menu or disconnected screen;
- ``frozen``: the imaging region is identical (mean absolute difference below ``frozen_diff``
  grey levels) over the last ``frozen_frames`` frame pairs;
- ``spectral_doppler`` / ``mmode``: a trace layout: a small 2-D image on top, an empty gap, and a
  wide band below whose rows span most of the screen width; a filled band (tissue lines over noise)
  is M-mode, a mostly dark band (a spectral envelope over black) is spectral Doppler;
- ``color_doppler``: saturated colour (max - min over RGB above ``chroma``) in compact blobs
  covering more than ``color_fraction`` of the imaging region: still classified, marked;
- ``bmode`` otherwise.

>>> import numpy as np
>>> ModeGate()(np.zeros((120, 160), np.uint8)).mode
'blank'
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from rtecho.types import CLASSIFIED_MODES
from rtecho.us._geom import block_factor, box_blur
from rtecho.us._screen import ScreenFrame
from rtecho.us.sector import Sector


@dataclass(frozen=True)
class ModeResult:
    """The mode of one frame and the statistics it was decided from."""

    mode: str
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def classified(self) -> bool:
        """True when a view label should be computed for this frame."""
        return self.mode in CLASSIFIED_MODES


def _open(mask: np.ndarray) -> np.ndarray:
    eroded = box_blur(mask.astype(np.float32), 1) > 0.99
    return box_blur(eroded.astype(np.float32), 1) > 0.01


class ModeGate:
    """Stateful per-frame mode classifier; call it on every frame of a stream, in order.

    ``gate(image, sector=None) -> ModeResult``; ``sector`` (from :class:`~rtecho.us.SectorDetector`)
    limits the colour, blank and frozen tests to the imaging region (default: the whole frame).
    """

    def __init__(
        self,
        threshold: float = 2.0,
        blank_fraction: float = 0.02,
        frozen_diff: float = 0.05,
        frozen_frames: int = 3,
        chroma: float = 40.0,
        color_fraction: float = 0.002,
        target: int = 160,
    ) -> None:
        if frozen_frames < 1:
            raise ValueError("frozen_frames must be >= 1")
        self.threshold, self.blank_fraction = threshold, blank_fraction
        self.frozen_diff, self.frozen_frames = frozen_diff, frozen_frames
        self.chroma, self.color_fraction, self.target = chroma, color_fraction, target
        self.reset()

    def reset(self) -> None:
        """Forget the previous frames."""
        self._prev: np.ndarray | None = None
        self._diffs: deque[float] = deque(maxlen=self.frozen_frames)

    def trace_layout(self, small: np.ndarray) -> tuple[str | None, dict[str, float]]:
        """``spectral_doppler``, ``mmode`` or None from the row occupancy of a downsampled gray frame.

        The band must look like a trace, not like a fan's far field under a dark cavity: M-mode is a
        rectangle (row ends aligned), spectral Doppler has a thin full-width baseline.
        """
        hs, ws = small.shape
        raw = small > self.threshold
        content = _open(raw)
        c0, c1 = int(0.1 * ws), int(0.9 * ws)
        occ = content[:, c0:c1].mean(axis=1)
        # wide rows from the unopened mask (a spectral baseline is one pixel thick); the bottom rows
        # (ECG trace) are left out
        wide = np.flatnonzero(raw[:, c0:c1].mean(axis=1) >= 0.6)
        wide = wide[(wide >= int(0.35 * hs)) & (wide < int(0.9 * hs))]
        stats = {"wide_rows": float(len(wide)) / hs}
        if len(wide) == 0:
            return None, stats
        first_wide = int(wide[0])
        above = occ[:first_wide]
        empty = above < 0.02
        # last run of empty rows just above the band, and content above that run
        gap_end = first_wide
        k = first_wide - 1
        while k >= 0 and not empty[k]:
            k -= 1
        gap_end = k + 1
        while k >= 0 and empty[k]:
            k -= 1
        gap = gap_end - (k + 1)
        has_top = k >= 0 and float(above[: k + 1].max()) > 0.05
        stats["gap_rows"] = float(gap) / hs
        if gap < max(2, int(0.02 * hs)) or not has_top:
            return None, stats
        band = content[first_wide:, c0:c1]
        used = band.mean(axis=1) > 0.02
        band_rows = band[used]
        fill = float(band_rows.mean()) if len(band_rows) else 0.0
        stats["band_fill"] = fill
        if fill > 0.7:
            # M-mode: a rectangle (left and right ends aligned over the rows), not a fan's far field
            rows = content[first_wide:][used]
            left = rows.argmax(axis=1)
            right = ws - 1 - rows[:, ::-1].argmax(axis=1)
            spread = max(
                np.subtract(*np.percentile(left, [90, 10])), np.subtract(*np.percentile(right, [90, 10]))
            )
            stats["band_spread"] = float(spread) / ws
            return ("mmode" if spread <= max(2, 0.03 * ws) else None), stats
        # spectral Doppler: a thin full-width baseline and few wide rows (a wall in a fan is thick)
        full = raw[first_wide:, c0:c1].mean(axis=1) >= 0.9
        stats["baseline_rows"] = float(full.sum())
        thin = 1 <= full.sum() <= 2 and len(wide) <= 0.1 * hs
        return ("spectral_doppler" if thin else None), stats

    def __call__(self, image: np.ndarray | ScreenFrame, sector: Sector | None = None) -> ModeResult:
        """The mode of ``image`` (the next frame of the stream; a :class:`ScreenFrame` shares its
        downsampled copies with the sector tracker)."""
        frame = ScreenFrame.of(image)
        f = block_factor(frame.size_hw, self.target)
        small = frame.small(f)
        hs, ws = small.shape
        region = sector.region((hs, ws)) if sector is not None else np.ones((hs, ws), bool)
        if not region.any():
            region = np.ones((hs, ws), bool)
        inside = small[region]
        content = float((inside > self.threshold).mean())
        prev, self._prev = self._prev, small
        if prev is not None and prev.shape == small.shape:
            self._diffs.append(float(np.abs(small[region] - prev[region]).mean()))
        else:
            self._diffs.clear()
        stats = {"content": content}
        if content < self.blank_fraction:
            return ModeResult("blank", stats)
        if len(self._diffs) == self.frozen_frames and max(self._diffs) < self.frozen_diff:
            return ModeResult("frozen", stats)
        trace, tstats = self.trace_layout(small)
        stats.update(tstats)
        if trace is not None:
            return ModeResult(trace, stats)
        colour = frame.colour(f, self.chroma)
        if colour is not None:
            # more than half of a block coloured: thin coloured lines (outlines, text) do not count
            col = colour > 0.5
            frac = float(col[region].mean())
            stats["color"] = frac
            if frac > self.color_fraction:
                return ModeResult("color_doppler", stats)
        return ModeResult("bmode", stats)
