"""Full scanner screens: furniture around the fan, colour Doppler boxes, spectral Doppler and M-mode screens.

:func:`render_screen` returns the RGB screen and its ground truth (fan geometry and mode), used to test
sector detection and mode gating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from rtecho._lazy import require
from rtecho.synth.config import SynthConfig, SynthError, check_size, check_view
from rtecho.synth.render import render_stages
from rtecho.synth.trace_screen import draw_layout, trace_screen

SCREEN_MODES: tuple[str, ...] = ("bmode", "color_doppler", "spectral_doppler", "mmode")
VENDORS = ("ACUSONIC", "VIVIDUS", "EPIQO", "SIMSCAN", "rtSim")


@dataclass(frozen=True)
class ScreenTruth:
    """Ground truth of a screen: mode, view, and the 2-D fan (apex xy px, radius px, angles from down)."""

    mode: str
    view: str
    size_hw: tuple[int, int]
    apex_xy: tuple[float, float]
    radius_px: float
    angle_start_deg: float
    angle_end_deg: float
    depth_cm: float
    doppler_box: tuple[float, float, float, float] | None = None
    trace: str | None = None  # spectral Doppler / M-mode: the trace kind (rtecho.synth.traces)
    layout: str | None = None  # spectral Doppler / M-mode: "top" (2-D image above the trace) or "side"


@dataclass(frozen=True, eq=False)
class Screen:
    """An RGB uint8 screen and its :class:`ScreenTruth`."""

    image: np.ndarray
    truth: ScreenTruth


def _ecg(n: int, phase0: float, beats: float, rng: np.random.Generator) -> np.ndarray:
    t = (phase0 + np.linspace(0, beats, n)) % 1.0
    qrs = np.exp(-(((t - 0.02) / 0.012) ** 2)) - 0.25 * np.exp(-(((t - 0.05) / 0.01) ** 2))
    tw = 0.25 * np.exp(-(((t - 0.32) / 0.05) ** 2))
    pw = 0.12 * np.exp(-(((t - 0.88) / 0.03) ** 2))
    return qrs + tw + pw + rng.normal(0, 0.015, n)


@lru_cache(maxsize=1)
def _default_font():
    """PIL's default font, loaded once (a new ImageDraw loads it again on every text call)."""
    return require("PIL.ImageFont", "synth", "screen furniture").load_default()


def draw_furniture(img: np.ndarray, t: ScreenTruth, rng: np.random.Generator, hr: float) -> np.ndarray:
    """Draw vendor text, depth ticks, orientation marker, grey bar and an ECG trace on an RGB screen."""
    Image = require("PIL.Image", "synth", "screen furniture")
    ImageDraw = require("PIL.ImageDraw", "synth", "screen furniture")
    h, w = t.size_hw
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    d.font = _default_font()
    grey = (200, 200, 200)
    lines = [
        str(rng.choice(VENDORS)),
        f"P{int(rng.integers(2, 6))}-{int(rng.integers(1, 3))} {rng.uniform(1.5, 4.0):.1f}MHz",
        f"FR {int(rng.integers(30, 80))}Hz",
        f"{t.depth_cm:.0f}cm",
        f"G {int(rng.integers(30, 70))}  DR {int(rng.integers(40, 70))}",
    ]
    y = 2
    for s in lines[: int(rng.integers(2, len(lines) + 1))]:
        d.text((3, y), s, fill=grey)
        y += 11
    # depth scale along the left fan edge, cm ticks
    a = math.radians(t.angle_start_deg)
    ppcm = t.radius_px / t.depth_cm
    for k in range(1, int(t.depth_cm) + 1):
        r = k * ppcm
        x0 = t.apex_xy[0] + r * math.sin(a) - 4
        y0 = t.apex_xy[1] + r * math.cos(a)
        ln = 5 if k % 5 == 0 else 2
        d.line([(x0 - ln, y0), (x0, y0)], fill=grey)
    # orientation marker (the grey bar is drawn last, in numpy: nothing else overlaps it)
    d.text((t.apex_xy[0] + 8, max(t.apex_xy[1], 0) + 1), "V", fill=(230, 230, 230))
    # ECG trace synchronised to the cycle, with a moving cursor
    n = int(w * 0.8)
    ecg = _ecg(n, float(rng.random()), 3.0 * hr / 75.0, rng)
    base = h - 10
    pts = [(int(w * 0.1) + i, base - 10 * ecg[i]) for i in range(n)]
    d.line(pts, fill=(60, 220, 90))
    cur = int(w * 0.1) + int(rng.integers(0, n))
    d.line([(cur, base - 14), (cur, base + 4)], fill=(230, 230, 60))
    out = np.array(pil)
    bx = w - 10  # grey bar: a vertical ramp, 5 px wide, from 20% to 50% of the height
    ys = np.arange(int(h * 0.2), int(h * 0.5))
    ramp = np.clip((255 * (int(h * 0.5) - ys) / (h * 0.3)).astype(int), 0, 255).astype(np.uint8)
    out[ys, max(bx, 0) : bx + 5] = ramp[:, None, None]
    return out


def _color_doppler(
    rgb: np.ndarray, gray: np.ndarray, t: ScreenTruth, rng: np.random.Generator
) -> ScreenTruth:
    h, w = gray.shape
    r0, r1 = sorted(rng.uniform(0.25, 0.95, 2) * t.radius_px)
    r1 = max(r1, r0 + 0.2 * t.radius_px)
    span = t.angle_end_deg - t.angle_start_deg
    a0 = t.angle_start_deg + float(rng.uniform(0.05, 0.4)) * span
    a1 = min(a0 + float(rng.uniform(0.25, 0.5)) * span, t.angle_end_deg)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs + 0.5 - t.apex_xy[0], ys + 0.5 - t.apex_xy[1]
    rr, th = np.hypot(dx, dy), np.degrees(np.arctan2(dx, dy))
    box = (rr >= r0) & (rr <= r1) & (th >= a0) & (th <= a1)
    yy, xx = np.mgrid[0:8, 0:8]
    vel = np.sin(xx * rng.uniform(0.3, 1.0) + yy * rng.uniform(0.3, 1.0) + rng.uniform(0, 6)).astype(
        np.float32
    )
    vel = np.kron(vel, np.ones((h // 8 + 1, w // 8 + 1), np.float32))[:h, :w]
    flow = box & (gray < 60)
    red = np.clip(255 * vel, 0, 255) + 60 * (np.abs(vel) > 0.85)
    blue = np.clip(-255 * vel, 0, 255)
    rgb[flow, 0] = np.clip(red[flow], 0, 255).astype(np.uint8)
    rgb[flow, 1] = np.clip(120 * (np.abs(vel[flow]) > 0.8), 0, 255).astype(np.uint8)
    rgb[flow, 2] = blue[flow].astype(np.uint8)
    edge = box & ~((rr >= r0 + 1) & (rr <= r1 - 1) & (th >= a0 + 0.8) & (th <= a1 - 0.8))
    rgb[edge] = 180
    for i in range(int(h * 0.3)):  # colour bar
        v = 1 - 2 * i / (h * 0.3)
        rgb[int(h * 0.55) + i, 4:9] = (int(255 * max(v, 0)), 0, int(255 * max(-v, 0)))
    return replace(t, doppler_box=(float(r0), float(r1), float(a0), float(a1)))


def render_screen(
    view: str,
    rng: np.random.Generator,
    size_hw: tuple[int, int] = (240, 320),
    config: SynthConfig | None = None,
    mode: str | None = None,
    furniture: bool | None = None,
) -> Screen:
    """Render a full scanner screen (RGB) of ``view`` with its fan/mode ground truth.

    ``mode`` is one of ``bmode``, ``color_doppler``, ``spectral_doppler``, ``mmode``; default: drawn with
    ``config.doppler_prob`` / ``config.nonbmode_prob``.

    >>> import numpy as np
    >>> s = render_screen("PLAX", np.random.default_rng(0), mode="color_doppler")
    >>> s.image.shape, s.truth.mode
    ((240, 320, 3), 'color_doppler')
    """
    check_view(view)
    h, w = check_size(size_hw)
    cfg = config or SynthConfig()
    if mode is None:
        u = float(rng.random())
        mode = "bmode"
        if u < cfg.nonbmode_prob:
            mode = "spectral_doppler" if rng.random() < 0.5 else "mmode"
        elif u < cfg.nonbmode_prob + cfg.doppler_prob:
            mode = "color_doppler"
    if mode not in SCREEN_MODES:
        raise SynthError(f"unknown screen mode {mode!r}; known: {', '.join(SCREEN_MODES)}")
    furniture = cfg.furniture if furniture is None else furniture
    hr = float(rng.uniform(50, 110))
    if mode in ("spectral_doppler", "mmode"):
        lay = draw_layout((h, w), mode, rng)
        y0, y1, x0, x1 = lay.image_box
        scfg = replace(cfg, radius_frac=(0.9, 0.95), apex_y_frac=(0.02, 0.04), jpeg_prob=0.0)
        small, _, acq, _ = render_stages(view, rng, (max(y1 - y0, 16), max(x1 - x0, 16)), scfg)
        rgb, lay, kind = trace_screen(small, mode, (h, w), rng, hr, layout=lay)
        g = acq.geom
        sy, sx = (y1 - y0) / small.shape[0], (x1 - x0) / small.shape[1]
        truth = ScreenTruth(
            mode,
            view,
            (h, w),
            (g.apex_xy[0] * sx + x0, g.apex_xy[1] * sy + y0),
            g.radius_px * sy,
            g.angle_start_deg,
            g.angle_end_deg,
            g.depth_cm,
            trace=kind,
            layout=lay.layout,
        )
        return Screen(np.ascontiguousarray(rgb), truth)
    scfg = replace(
        cfg, radius_frac=(0.72, 0.88), apex_y_frac=(0.02, 0.06), apex_x_jitter_frac=0.02, jpeg_prob=0.0
    )
    gray, _, acq, _ = render_stages(view, rng, (h, w), scfg)
    g = acq.geom
    truth = ScreenTruth(
        mode, view, (h, w), g.apex_xy, g.radius_px, g.angle_start_deg, g.angle_end_deg, g.depth_cm
    )
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "color_doppler":
        truth = _color_doppler(rgb, gray, truth, rng)
    if furniture:
        rgb = draw_furniture(rgb, truth, rng, hr)
    return Screen(np.ascontiguousarray(rgb), truth)
