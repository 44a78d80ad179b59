"""A deterministic synthetic stream for tests and benchmarks: no files, no devices, numpy only.

Each frame shows an ultrasound-like sector: fixed speckle (from ``seed``) inside a fan, a bright
ring that beats (radius oscillates once a second) and a marker that sweeps across the sector,
so consecutive frames differ and frame ``i`` is the same on every run. With ``pace=True`` frames
are released in real time at ``fps``, like a live camera (``live=True`` marks it live for the
processor's drop policy).

>>> from rtecho.io import SyntheticSource
>>> src = SyntheticSource(n_frames=2, size_hw=(32, 48), fps=25.0)
>>> [(f.index, f.timestamp, f.image.shape) for f in src]
[(0, 0.0, (32, 48)), (1, 0.04, (32, 48))]
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import numpy as np

from rtecho.io.base import Source
from rtecho.io.pacing import paced
from rtecho.types import Frame, SourceInfo


class SyntheticSource(Source):
    """``n_frames`` synthetic frames (None: endless) of ``size_hw`` at ``fps``; RGB if ``color``.

    Timestamps are ``index / fps``. ``pace=True`` sleeps so that frame ``i`` is released
    ``i / fps`` seconds after the first (a late frame is released at once, never skipped).
    """

    kind = "synthetic"

    def __init__(
        self,
        n_frames: int | None = 100,
        size_hw: tuple[int, int] = (112, 112),
        fps: float = 30.0,
        live: bool = False,
        pace: bool = False,
        seed: int = 0,
        color: bool = False,
    ) -> None:
        h, w = (int(v) for v in size_hw)
        if h < 8 or w < 8:
            raise ValueError(f"size_hw must be at least 8x8, got {size_hw}")
        if n_frames is not None and n_frames < 0:
            raise ValueError(f"n_frames must be >= 0 or None, got {n_frames}")
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be positive, got {fps}")
        uri = f"synthetic:n={n_frames},size={h}x{w},fps={fps:g},seed={seed}"
        super().__init__(
            SourceInfo(
                uri=uri,
                kind=self.kind,
                fps=float(fps),
                size_hw=(h, w),
                n_frames=n_frames,
                live=live,
                extra={"seed": seed, "paced": pace},
            )
        )
        self._pace = pace
        self._color = color
        self._stop = threading.Event()
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        apex_x = (w - 1) / 2.0
        self._radius = np.hypot(yy, xx - apex_x) / max(h - 1, 1)
        angle = np.arctan2(xx - apex_x, yy + 1e-3)
        self._sector = (np.abs(angle) < math.radians(40)) & (self._radius < 0.98)
        self._angle = angle
        self._speckle = (rng.rayleigh(0.25, size=(h, w)) * 90).clip(0, 140).astype(np.float32)

    def render(self, index: int) -> np.ndarray:
        """Frame ``index`` of the pattern (HxW uint8, or HxWx3 when ``color``)."""
        t = index / self.info.fps  # type: ignore[operator]
        ring_r = 0.55 + 0.12 * math.sin(2 * math.pi * t)
        ring = np.exp(-(((self._radius - ring_r) / 0.05) ** 2)) * 150.0
        sweep = math.radians(-35 + (index * 7) % 70)
        marker = np.exp(-(((self._angle - sweep) / 0.06) ** 2)) * (self._radius < 0.4) * 120.0
        img = np.where(self._sector, self._speckle + ring + marker, 0.0)
        gray = np.clip(img, 0, 255).astype(np.uint8)
        if not self._color:
            return gray
        rgb = np.stack([gray, gray, gray], axis=-1)
        rgb[..., 0] = np.clip(gray.astype(np.int16) + (marker > 60) * 80, 0, 255).astype(np.uint8)
        return rgb

    def _frames(self) -> Iterator[Frame]:
        frames = self._rendered()
        return paced(frames, fps=self.info.fps, stop=self._stop) if self._pace else frames

    def _rendered(self) -> Iterator[Frame]:
        info = self.info
        period = 1.0 / info.fps  # type: ignore[operator]
        index = 0
        while info.n_frames is None or index < info.n_frames:
            t0 = time.perf_counter()
            image = self.render(index)
            arrival = time.perf_counter()
            yield Frame(
                image,
                index=index,
                timestamp=index * period,
                arrival=arrival,
                decode_ms=(arrival - t0) * 1e3,
                source=info,
            )
            index += 1

    def _on_close(self) -> None:
        self._stop.set()
