"""Fallback scanner-screen renderer for the tests: a simulator fan placed on a screen with furniture.

Used when ``rtecho.synth`` has no screen renderer; returns the image, the true :class:`Sector` and
the true mode, like the simulator's screens.
"""

from __future__ import annotations

import numpy as np

from rtecho.synth.config import SynthConfig
from rtecho.synth.render import render_stages
from rtecho.ultrasound.sector import Sector


def _text_block(img: np.ndarray, top: int, left: int, rows: int, cols: int, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    for r in range(rows):
        for c in range(cols):
            glyph = rng.random((7, 5)) < 0.45
            y, x = top + r * 10, left + c * 6
            if y + 7 <= h and x + 5 <= w:
                img[y : y + 7, x : x + 5][glyph] = 230


def furnish(img: np.ndarray, fan: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Text, ECG, colour bar and depth ticks outside ``fan`` (an HxW mask) on an RGB copy of ``img``."""
    h, w = img.shape[:2]
    out = np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img.copy()
    layer = np.zeros((h, w), np.uint8)
    _text_block(layer, 4, 4, 5, 8, rng)
    _text_block(layer, 4, w - 56, 3, 8, rng)
    xs = np.arange(w // 8, w - w // 8)
    ecg = (h - 14 - 8 * np.exp(-(((xs % 60) - 30) ** 2) / 6.0)).astype(int)
    layer[np.clip(ecg, 0, h - 1), xs] = 200
    for d in range(1, 6):  # depth ticks along the right side
        y = int(d * (h - 30) / 6)
        layer[y : y + 2, w - 14 : w - 8] = 255
    out[layer > 0] = layer[layer > 0, None]
    bar = np.linspace(255, 0, h // 3).astype(np.uint8)  # colour bar
    out[h // 3 : h // 3 + len(bar), w - 6 : w - 2, 0] = bar[:, None]
    out[h // 3 : h // 3 + len(bar), w - 6 : w - 2, 2] = 255 - bar[:, None]
    out[fan] = (np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img)[fan]
    return out


def screen(
    view: str, rng: np.random.Generator, size_hw: tuple[int, int] = (240, 320)
) -> tuple[np.ndarray, Sector]:
    """A B-mode screen of ``view`` with furniture, and its true sector."""
    h, w = size_hw
    inner = (int(h * 0.86), int(w * 0.8))
    cfg = SynthConfig(
        radius_frac=(0.75, 0.92), sector_deg=(60.0, 80.0), apex_y_frac=(0.0, 0.04), jpeg_prob=0.0
    )
    img, _, acq, _ = render_stages(view, rng, inner, cfg)
    canvas = np.zeros(size_hw, np.uint8)
    top, left = int(h * 0.04), (w - inner[1]) // 2
    canvas[top : top + inner[0], left : left + inner[1]] = img
    g = acq.geom
    truth = Sector(
        size_hw, (g.apex_xy[0] + left, g.apex_xy[1] + top), g.radius_px, g.angle_start_deg, g.angle_end_deg
    )
    fan = truth.mask() & (np.zeros(size_hw, bool) | _inside(size_hw, top, left, inner))
    truth_box = fan
    return furnish(canvas, truth_box, rng), truth


def _inside(size_hw: tuple[int, int], top: int, left: int, inner: tuple[int, int]) -> np.ndarray:
    m = np.zeros(size_hw, bool)
    m[top : top + inner[0], left : left + inner[1]] = True
    return m
