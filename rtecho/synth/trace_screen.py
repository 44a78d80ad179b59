"""Spectral Doppler, tissue Doppler and M-mode screens laid out as scanners show them.

A small 2-D image at the top (or on the left, side by side) and a full-width scrolling trace
(:mod:`rtecho.synth.traces`) on a speckled grey background, with a velocity or depth scale and
ticks, a baseline, a cursor line in the 2-D image, measurement text, time marks, an ECG, an erase
bar and vendor text. Layout, sizes and colour maps vary as between vendors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtecho._lazy import require
from rtecho.synth.traces import MMODE_KINDS, SPECTRAL_KINDS, mmode_band, spectral_band

VENDOR_TEXT = ("VIVIDUS E9", "EPIQO 7", "ACUSONIC SC2", "SIMSCAN", "rtSim", "ARIETTA-S")
MEASURES = {
    "mitral_inflow": ("MV E Vel", "MV A Vel", "MV E/A Ratio", "MV DecT"),
    "lvot": ("LVOT Vmax", "LVOT VTI", "LVOT maxPG", "AV Acc Time"),
    "cw_jet": ("TR Vmax", "TR maxPG", "RVSP", "MR Vmax"),
    "tdi": ("e' sept", "a' sept", "s' lat", "E/e'"),
    "mmode_lv": ("IVSd", "LVIDd", "LVPWd", "LVIDs", "EF(Teich)"),
    "mmode_mv": ("EPSS", "MV E-F Slope", "MV D-E"),
    "mmode_ao": ("Ao Root Diam", "LA Diam", "LA/Ao", "ACS"),
}
UNITS = {"mitral_inflow": "m/s", "lvot": "m/s", "cw_jet": "m/s", "tdi": "cm/s"}


@dataclass(frozen=True)
class TraceLayout:
    """Where the 2-D image and the trace band sit on the screen (pixels, (y0, y1, x0, x1))."""

    layout: str  # "top" or "side"
    image_box: tuple[int, int, int, int]
    band_box: tuple[int, int, int, int]


def draw_layout(size_hw: tuple[int, int], mode: str, rng: np.random.Generator) -> TraceLayout:
    """A vendor-like placement: the 2-D image above the trace, or beside it (mostly M-mode)."""
    h, w = size_hw
    u = rng.uniform
    if rng.random() < (0.25 if mode == "mmode" else 0.1):
        sw = int(w * u(0.36, 0.48))
        sh = min(int(sw * u(0.7, 0.85)), int(0.8 * h))
        y0, x0 = int(h * u(0.06, 0.2)), int(w * u(0.0, 0.04))
        bx0 = max(x0 + sw + int(w * u(0.0, 0.03)), int(0.4 * w))
        band = (int(h * u(0.06, 0.25)), int(h * u(0.82, 0.96)), bx0, int(w * u(0.9, 0.99)))
        return TraceLayout("side", (y0, y0 + sh, x0, x0 + sw), band)
    sh = int(h * u(0.22, 0.48))
    sw = min(int(sh * u(1.2, 1.45)), int(0.6 * w))
    y0 = int(h * u(0.0, 0.07))
    x0 = int(u(0.02, 1.0) * (w - sw) * (0.5 if rng.random() < 0.5 else 1.0))
    top = y0 + sh + int(h * u(-0.02, 0.05))
    band = (top, int(h * u(0.86, 0.99)), int(w * u(0.0, 0.15)), int(w * u(0.82, 1.0)))
    return TraceLayout("top", (y0, y0 + sh, x0, x0 + sw), band)


def _colourise(band: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey, or a tinted map (sepia, bronze, blue) as vendors offer for spectra and M-mode."""
    g = np.clip(band, 0, 255)[..., None]
    u = rng.random()
    if u < 0.55:
        tint = np.ones(3, np.float32)
    elif u < 0.8:
        tint = np.array([1.0, rng.uniform(0.8, 0.9), rng.uniform(0.55, 0.75)], np.float32)
    elif u < 0.92:
        tint = np.array([rng.uniform(0.75, 0.9), rng.uniform(0.85, 0.95), 1.0], np.float32)
    else:
        tint = np.array([1.0, rng.uniform(0.6, 0.75), rng.uniform(0.3, 0.45)], np.float32)
    return g * tint


def _font(size: int):  # noqa: ANN202 - a PIL font
    ImageFont = require("PIL.ImageFont", "synth", "screen text")
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _ecg(phase: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    qrs = np.exp(-(((phase - 0.02) / 0.012) ** 2)) - 0.25 * np.exp(-(((phase - 0.05) / 0.01) ** 2))
    return qrs + 0.25 * np.exp(-(((phase - 0.32) / 0.05) ** 2)) + rng.normal(0, 0.015, phase.shape)


def _text_furniture(d, size_hw, lay: TraceLayout, kind: str, rng: np.random.Generator, fs: int) -> None:  # noqa: ANN001
    h, w = size_hw
    font = _font(fs)
    grey = tuple(int(v) for v in rng.integers(170, 256, 3))
    y0, y1, x0, x1 = lay.image_box
    # vendor / probe / settings text beside the 2-D image
    tx = x1 + 8 if x1 < 0.6 * w and rng.random() < 0.5 else 4
    lines = [
        str(rng.choice(VENDOR_TEXT)),
        f"M5S {rng.uniform(1.5, 4.0):.1f}MHz",
        f"{'TVI' if kind == 'tdi' else 'M' if kind.startswith('mmode') else 'PW' if kind != 'cw_jet' else 'CW'}",
        f"Gn {int(rng.integers(-10, 20))}  FR {int(rng.integers(20, 90))}",
        f"PRF {rng.uniform(1.0, 10.0):.1f}kHz",
    ]
    y = 2
    for s in lines[: int(rng.integers(2, len(lines) + 1))]:
        d.text((tx, y), s, fill=grey, font=font)
        y += fs + 3
    # measurement box: a few "name value unit" lines, top right or over the band
    names = MEASURES[kind]
    k = int(rng.integers(1, len(names) + 1))
    mx = int(w * rng.uniform(0.55, 0.75)) if rng.random() < 0.7 else lay.band_box[2] + 6
    my = int(h * rng.uniform(0.02, 0.12)) if mx > 0.5 * w else lay.band_box[0] + 4
    if rng.random() < 0.5:
        d.rectangle([mx - 3, my - 2, mx + 14 * fs, my + k * (fs + 3) + 2], fill=(20, 20, 20), outline=grey)
    unit = UNITS.get(kind, "cm")
    for i in range(k):
        d.text(
            (mx, my + i * (fs + 3)), f"{names[i]}  {rng.uniform(0.3, 9.9):.2f} {unit}", fill=grey, font=font
        )


def _scale(d, lay: TraceLayout, base: int | None, kind: str, rng: np.random.Generator, fs: int) -> None:  # noqa: ANN001
    """Velocity (around the baseline) or depth scale with ticks and numbers, on the right or left."""
    by0, by1, bx0, bx1 = lay.band_box
    font = _font(max(fs - 2, 8))
    grey = tuple(int(v) for v in rng.integers(150, 256, 3))
    right = rng.random() < 0.75
    x = bx1 - 2 if right else bx0 + 2
    d.line([(x, by0), (x, by1 - 1)], fill=grey)
    step = max(int((by1 - by0) / rng.uniform(5, 12)), 6)
    ref = base if base is not None else 0
    for i, y in enumerate(range(by0 + ref % step, by1, step)):
        ln = 6 if i % 2 == 0 else 3
        d.line([(x - ln if right else x, by0 + 0 + y - by0), (x if right else x + ln, y)], fill=grey)
        if i % 2 == 0:
            lab = f"{abs(y - by0 - ref) / step * (0.2 if kind != 'tdi' else 5):.1f}".rstrip("0").rstrip(".")
            d.text(
                (x - ln - 6 * len(lab) - 3 if right else x + ln + 3, y - fs // 2), lab, fill=grey, font=font
            )
    if base is not None:
        d.text((x - 40 if right else x + 10, by0 + 2), UNITS.get(kind, "cm"), fill=grey, font=font)


def trace_screen(
    small: np.ndarray,
    mode: str,
    size_hw: tuple[int, int],
    rng: np.random.Generator,
    hr: float,
    kind: str | None = None,
    layout: TraceLayout | None = None,
) -> tuple[np.ndarray, TraceLayout, str]:
    """An RGB screen: ``small`` (a 2-D image, resized to the layout's box) and a trace of ``kind``.

    ``mode`` is ``spectral_doppler`` (kinds :data:`SPECTRAL_KINDS`, tissue Doppler included) or ``mmode``
    (:data:`MMODE_KINDS`); ``layout`` defaults to :func:`draw_layout`; returns (screen, layout, kind).
    """
    Image = require("PIL.Image", "synth", "trace screens")
    ImageDraw = require("PIL.ImageDraw", "synth", "trace screens")
    h, w = size_hw
    kinds = MMODE_KINDS if mode == "mmode" else SPECTRAL_KINDS
    kind = kind or str(rng.choice(kinds))
    lay = layout or draw_layout(size_hw, mode, rng)
    u = rng.uniform
    out = np.zeros((h, w, 3), np.float32)
    y0, y1, x0, x1 = lay.image_box
    img = Image.fromarray(small).resize((x1 - x0, y1 - y0), Image.BILINEAR)
    out[y0:y1, x0:x1] = np.asarray(img, np.float32)[..., None] * (rng.uniform(0.6, 1.0))
    if kind == "tdi" and rng.random() < 0.5:  # colour tissue Doppler on the 2-D image
        tissue = out[y0:y1, x0:x1, 0] > 40
        xx = np.linspace(0, rng.uniform(2, 6), x1 - x0)[None, :] + np.linspace(0, 2, y1 - y0)[:, None]
        red = np.sin(xx + rng.uniform(0, 6)) > 0
        patch = out[y0:y1, x0:x1]
        patch[tissue & red] = patch[tissue & red] * np.array([1.0, 0.5, 0.1], np.float32) + [80, 30, 0]
        patch[tissue & ~red] = patch[tissue & ~red] * np.array([0.2, 0.6, 1.0], np.float32) + [0, 20, 80]
    if mode == "spectral_doppler" and kind != "tdi" and rng.random() < 0.35:  # a colour box on the 2-D image
        bh_, bw_ = y1 - y0, x1 - x0
        r0, c0 = y0 + int(bh_ * u(0.25, 0.5)), x0 + int(bw_ * u(0.3, 0.5))
        patch = out[r0 : r0 + int(bh_ * 0.35), c0 : c0 + int(bw_ * 0.25)]
        flow = patch[..., 0] < 40
        vel = np.sin(
            np.linspace(0, u(2, 6), patch.shape[1])[None, :] + np.linspace(0, 3, patch.shape[0])[:, None]
        )
        patch[flow & (vel > 0)] = (220, 60, 30)
        patch[flow & (vel <= 0)] = (40, 90, 230)
    by0, by1, bx0, bx1 = lay.band_box
    bh, bw = by1 - by0, bx1 - bx0
    beats = rng.uniform(1.6, 5.0) * (w / max(bw, 1)) * 0.9
    phase = (rng.random() + np.linspace(0, beats, bw)) % 1.0
    if mode == "mmode":
        band, base = mmode_band((bh, bw), phase, kind, rng), None
    else:
        band, base = spectral_band((bh, bw), phase, kind, rng)
    band = _colourise(band, rng)
    if rng.random() < 0.6:  # the sweep's erase bar
        c = int(rng.integers(0, bw))
        band[:, c : c + max(2, bw // 60)] = 0
    out[by0:by1, bx0:bx1] = band
    if base is not None:
        lum = rng.uniform(110, 255)
        lw = max(1, h // 400)
        out[by0 + base : by0 + base + lw, bx0:bx1] = lum
    pil = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(pil)
    fs = max(9, int(h / rng.uniform(38, 55)))
    grey = tuple(int(v) for v in rng.integers(150, 256, 3))
    # cursor line (with a sample gate for Doppler) from the apex down the 2-D image
    ax, cx = x0 + (x1 - x0) * 0.5, x0 + (x1 - x0) * rng.uniform(0.35, 0.65)
    for t in np.linspace(0, 1, 40)[::2]:
        d.point((ax + (cx - ax) * t, y0 + 2 + (y1 - y0 - 4) * t), fill=grey)
    if mode != "mmode":
        gy = y0 + (y1 - y0) * rng.uniform(0.3, 0.8)
        gx = ax + (cx - ax) * (gy - y0) / max(y1 - y0, 1)
        d.line([(gx - 5, gy), (gx + 5, gy)], fill=grey)
        d.line([(gx - 5, gy + 4), (gx + 5, gy + 4)], fill=grey)
    if rng.random() < 0.5:  # band frame
        d.rectangle([bx0, by0, bx1 - 1, by1 - 1], outline=tuple(int(v * 0.6) for v in grey))
    _scale(d, lay, base, kind, rng, fs)
    # time marks every 0.2 s (bigger every second) along the top or bottom of the band
    ty = by1 - 3 if rng.random() < 0.6 else by0 + 2
    px_s = bw / (beats * 60.0 / hr)
    for i, x in enumerate(np.arange(bx0, bx1, px_s / 5)):
        r = 2 if i % 5 == 0 else 1
        d.ellipse([x - r, ty - r, x + r, ty + r], fill=grey)
    # ECG across the band (lower part) or under it
    ecg = _ecg(phase, rng)
    ey = by1 - bh * rng.uniform(0.05, 0.2) if rng.random() < 0.6 else min(by1 + 0.04 * h, h - 0.03 * h)
    amp = 0.06 * h * rng.uniform(0.5, 1.2)
    col = [(60, 220, 90), (230, 230, 90), (230, 230, 230), (90, 200, 230)][int(rng.integers(0, 4))]
    d.line([(bx0 + i, ey - amp * ecg[i]) for i in range(0, bw, 2)], fill=col, width=max(1, h // 500))
    _text_furniture(d, size_hw, lay, kind, rng, fs)
    if rng.random() < 0.3:  # measurement calipers on the trace
        for _ in range(int(rng.integers(1, 4))):
            x, y = bx0 + int(rng.integers(0, bw)), by0 + int(rng.integers(0, bh))
            d.line([(x - 4, y), (x + 4, y)], fill=(240, 240, 80))
            d.line([(x, y - 4), (x, y + 4)], fill=(240, 240, 80))
    return np.asarray(pil), lay, kind
