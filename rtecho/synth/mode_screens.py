"""Randomised screens of every mode and layout, as exported by scanners: for fitting and testing mode gates.

:func:`sample_mode_screen` draws a screen size (480x640, 600x800, 768x1024, 240x320), renders
:func:`~rtecho.synth.render_screen` with or without furniture, adds a toolbar or status bar, zooms
(a fan clipped by the screen edges), crops and JPEG-compresses it.

>>> import numpy as np
>>> s = sample_mode_screen("mmode", "PLAX", np.random.default_rng(0))
>>> s.truth.mode, s.image.dtype
('mmode', dtype('uint8'))
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rtecho._lazy import require
from rtecho.synth.render import jpeg_roundtrip
from rtecho.synth.screen import Screen, render_screen

SCREEN_SIZES: tuple[tuple[int, int], ...] = ((480, 640), (600, 800), (768, 1024), (240, 320))


def _toolbar(img: np.ndarray, rng: np.random.Generator, top: bool) -> np.ndarray:
    """A row of grey boxes with labels across the bottom (or a status bar across the top)."""
    Image = require("PIL.Image", "synth", "screen toolbars")
    ImageDraw = require("PIL.ImageDraw", "synth", "screen toolbars")
    h, w = img.shape[:2]
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    bh = int(h * rng.uniform(0.035, 0.06))
    y0 = 0 if top else h - bh - int(h * rng.uniform(0, 0.02))
    x0, x1 = int(w * rng.uniform(0.0, 0.15)), int(w * rng.uniform(0.85, 1.0))
    n = int(rng.integers(3, 9))
    fill = tuple(int(v) for v in rng.integers(20, 70, 3))
    for i in range(n):
        a, b = x0 + (x1 - x0) * i // n, x0 + (x1 - x0) * (i + 1) // n - 2
        d.rectangle([a, y0, b, y0 + bh], fill=fill, outline=(110, 110, 110))
        d.text(
            (a + 4, y0 + bh // 4),
            ["Gen", "Sector", "MB Off", "THI On", "Page 1/3", "Zoom"][i % 6],
            fill=(200,) * 3,
        )
    return np.asarray(pil)


def sample_mode_screen(
    mode: str, view: str, rng: np.random.Generator, size_hw: tuple[int, int] | None = None
) -> Screen:
    """A randomised exported screen of ``mode`` (see :data:`~rtecho.synth.screen.SCREEN_MODES`) and ``view``."""
    if size_hw is None:
        size_hw = SCREEN_SIZES[int(rng.integers(0, len(SCREEN_SIZES)))]
    zoom = mode in ("bmode", "color_doppler") and rng.random() < 0.15
    h, w = size_hw
    render_hw = (int(h / 0.75), int(w / 0.8)) if zoom else size_hw
    s = render_screen(view, rng, size_hw=render_hw, mode=mode, furniture=bool(rng.random() < 0.85))
    img, t = s.image, s.truth
    if zoom:  # the fan fills the screen and its far field is clipped by the edges
        y0, x0 = int(rng.uniform(0.0, 0.05) * img.shape[0]), (img.shape[1] - w) // 2
        img = img[y0 : y0 + h, x0 : x0 + w]
        t = replace(t, apex_xy=(t.apex_xy[0] - x0, t.apex_xy[1] - y0))
    if mode in ("bmode", "color_doppler") and rng.random() < 0.3:
        img = _toolbar(img, rng, top=False)
    if rng.random() < 0.15:
        img = _toolbar(img, rng, top=True)
    if mode in ("bmode", "color_doppler") and rng.random() < 0.2:  # a divider line across the screen
        img = img.copy()
        y, lo = int(rng.uniform(0.05, 0.95) * img.shape[0]), int(rng.uniform(0, 0.2) * img.shape[1])
        img[y, lo : img.shape[1] - int(rng.uniform(0, 0.2) * img.shape[1])] = int(rng.integers(80, 256))
    if s.truth.layout == "top" and rng.random() < 0.15:  # the upper screen cut off, down into the 2-D image
        y0 = int(rng.uniform(0.1, 0.35) * img.shape[0])
        img = img[y0:]
        t = replace(t, apex_xy=(t.apex_xy[0], t.apex_xy[1] - y0))
    if rng.random() < 0.3:  # a crop of the exported screen
        ch, cw = int(img.shape[0] * rng.uniform(0.85, 1.0)), int(img.shape[1] * rng.uniform(0.85, 1.0))
        y0, x0 = int(rng.integers(0, img.shape[0] - ch + 1)), int(rng.integers(0, img.shape[1] - cw + 1))
        img = img[y0 : y0 + ch, x0 : x0 + cw]
        t = replace(t, apex_xy=(t.apex_xy[0] - x0, t.apex_xy[1] - y0))
    if rng.random() < 0.5:
        img = jpeg_roundtrip(np.ascontiguousarray(img), int(rng.uniform(40, 95)))
    return Screen(np.ascontiguousarray(img), replace(t, size_hw=img.shape[:2]))
