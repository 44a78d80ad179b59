"""Trace bands of spectral Doppler, tissue Doppler and M-mode screens (numpy only).

Each function returns a float32 (H, W) band in grey levels 0..255 drawn over a speckled grey
background, plus where its baseline or depth zero lies; :mod:`rtecho.synth.trace_screen` lays the
band out on a screen with a small 2-D image, scales, text and an ECG.

Time runs along x: ``phase`` is the cardiac phase (0 = QRS) of every column.
"""

from __future__ import annotations

import numpy as np

SPECTRAL_KINDS: tuple[str, ...] = ("mitral_inflow", "lvot", "cw_jet", "tdi")
MMODE_KINDS: tuple[str, ...] = ("mmode_lv", "mmode_mv", "mmode_ao")


def _bump(p: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = (p - centre + 0.5) % 1.0 - 0.5
    return np.exp(-((d / width) ** 2))


def _arch(p: np.ndarray, start: float, length: float, power: float = 1.0) -> np.ndarray:
    u = ((p - start) % 1.0) / length
    return np.where(u < 1.0, np.sin(np.pi * np.clip(u, 0, 1)) ** power, 0.0)


def velocity_profile(kind: str, phase: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Signed peak velocity (fraction of the scale, + towards the probe) per column for ``kind``."""
    if kind == "mitral_inflow":
        e, a = rng.uniform(0.45, 0.9), rng.uniform(0.3, 0.8)
        v = e * _bump(phase, rng.uniform(0.45, 0.55), rng.uniform(0.04, 0.07))
        v += a * _bump(phase, rng.uniform(0.84, 0.9), rng.uniform(0.03, 0.05))
        return v
    if kind == "lvot":
        return -rng.uniform(0.4, 0.85) * _arch(phase, rng.uniform(0.06, 0.1), rng.uniform(0.26, 0.34), 1.4)
    if kind == "cw_jet":
        v = -rng.uniform(0.6, 0.95) * _arch(phase, 0.04, rng.uniform(0.36, 0.45), 0.6)
        return v + rng.uniform(0.2, 0.5) * _bump(phase, 0.5, 0.06)  # inflow above the baseline
    # tissue Doppler: s' towards the probe in systole, e' and a' away in diastole
    v = rng.uniform(0.3, 0.6) * _arch(phase, rng.uniform(0.08, 0.12), rng.uniform(0.2, 0.28), 0.8)
    v -= rng.uniform(0.4, 0.8) * _bump(phase, rng.uniform(0.47, 0.53), 0.04)
    v -= rng.uniform(0.25, 0.6) * _bump(phase, rng.uniform(0.85, 0.9), 0.035)
    return v


def speckle_background(size_hw: tuple[int, int], level: float, rng: np.random.Generator) -> np.ndarray:
    """Rayleigh speckle of mean ``level`` grey levels, a little correlated along time (x)."""
    h, w = size_hw
    noise = rng.rayleigh(1.0, (h, w + 2)).astype(np.float32)
    noise = (noise[:, :-2] + noise[:, 1:-1] + noise[:, 2:]) / 3.0
    return noise * np.float32(level / 1.2533)


def spectral_band(
    size_hw: tuple[int, int], phase: np.ndarray, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """A pulsed/continuous-wave or tissue Doppler spectrum over speckle; returns (band, baseline row)."""
    h, w = size_hw
    v = velocity_profile(kind, phase, rng)
    up, down = float(max(v.max(), 0.0)), float(max(-v.min(), 0.0))
    frac = up / (up + down) if up + down > 0 else 0.5
    base = int(np.clip(h * (0.08 + 0.84 * frac) + rng.normal(0, 0.05 * h), 0.12 * h, 0.88 * h))
    scale = min(base / max(up, 1e-3), (h - base) / max(down, 1e-3)) * rng.uniform(0.75, 0.95)
    vpx = v * scale + rng.normal(0, 0.6, w)  # beat-to-beat jitter in px
    rows = (base - np.arange(h, dtype=np.float32))[:, None]  # + above the baseline
    same = rows * np.sign(vpx)[None, :] >= 0
    depth = np.abs(vpx)[None, :] - np.abs(rows)  # px inside the envelope
    edge = rng.uniform(0.8, 2.5)
    env = 1.0 / (1.0 + np.exp(-depth / edge)) * same
    tdi = kind == "tdi"
    fill = rng.uniform(0.15, 0.5) if kind in ("mitral_inflow", "lvot") else rng.uniform(0.5, 1.0)
    bw = rng.uniform(2.0, 6.0) * (2.0 if tdi else 1.0)
    profile = fill + (1 - fill) * np.exp(-((np.clip(depth, 0, None) / bw) ** 2))
    amp = rng.uniform(140, 255)
    spec = np.float32(amp) * env * profile * rng.rayleigh(0.8, (h, w)).astype(np.float32)
    level = rng.uniform(8, 70) * (0.5 if tdi else 1.0)
    band = speckle_background((h, w), level, rng) + spec
    if rng.random() < 0.3:  # mirror artefact
        band += 0.25 * np.flipud(np.roll(spec, h - 2 * base, axis=0)) * (rng.random() < 0.5)
    if kind in ("lvot", "cw_jet") and rng.random() < 0.6:  # valve clicks
        for c in np.flatnonzero(np.diff((v < -0.02).astype(int)) != 0):
            band[max(base - int(0.15 * h), 0) : min(base + int(0.15 * h), h), c : c + 2] += 140
    return band, base


def _streaks(size_hw: tuple[int, int], length: int, rng: np.random.Generator) -> np.ndarray:
    """Speckle averaged over ``length`` columns: the horizontal streaks of tissue in an M-mode sweep."""
    h, w = size_hw
    c = np.cumsum(rng.rayleigh(1.0, (h, w + length)).astype(np.float32), axis=1)
    return (c[:, length:] - c[:, :-length]) / np.float32(length * 1.2533)


def _wall_motion(phase: np.ndarray) -> np.ndarray:
    """0 at end-diastole, 1 at end-systole, relaxation in early diastole, a small atrial kick."""
    contract = np.clip((phase - 0.05) / 0.3, 0, 1)
    relax = np.clip((phase - 0.42) / 0.15, 0, 1)
    m = np.sin(0.5 * np.pi * contract) ** 2 * (1 - relax) + 0.12 * relax * _bump(phase, 0.7, 0.12)
    return m - 0.08 * _bump(phase, 0.9, 0.04)


def _layers(kind: str, rng: np.random.Generator) -> list[tuple[float, float, float, float]]:
    """(depth fraction, thickness fraction, grey level, motion (+ down in systole)) from the skin down."""
    u = rng.uniform
    cw = (0.0, u(0.06, 0.12), u(90, 170), 0.0)
    if kind == "mmode_ao":
        ant = u(0.3, 0.38)
        lumen = u(0.14, 0.2)
        lift = -u(0.03, 0.06)
        return [
            cw,
            (u(0.14, 0.2), u(0.06, 0.1), u(60, 120), lift * 0.5),  # RV outflow wall
            (ant, u(0.03, 0.05), u(150, 230), lift),  # anterior aortic wall
            (ant + lumen, u(0.03, 0.05), u(150, 230), lift),  # posterior aortic wall
            (ant + lumen + u(0.08, 0.14), u(0.04, 0.07), u(130, 210), lift * 0.6),  # LA back wall
            (u(0.8, 0.88), u(0.05, 0.1), u(100, 200), 0.0),
        ]
    rv = u(0.12, 0.2)
    ivs = rv + u(0.1, 0.16)
    pw = ivs + u(0.1, 0.14) + u(0.22, 0.32)
    return [
        cw,
        (rv, u(0.02, 0.04), u(100, 170), u(0.0, 0.01)),  # RV free wall
        (ivs, u(0.08, 0.12), u(80, 150), u(0.015, 0.04)),  # septum, down in systole
        (min(pw, 0.8), u(0.08, 0.12), u(90, 160), -u(0.04, 0.08)),  # posterior wall, up in systole
        (min(pw + 0.12, 0.9), u(0.03, 0.05), u(170, 250), -u(0.02, 0.05)),  # pericardium, bright
    ]


def mmode_band(
    size_hw: tuple[int, int], phase: np.ndarray, kind: str, rng: np.random.Generator
) -> np.ndarray:
    """Horizontal tissue layers moving with the cycle over dark blood and speckle (an M-mode sweep)."""
    h, w = size_hw
    rows = np.arange(h, dtype=np.float32)[:, None]
    m = _wall_motion(phase).astype(np.float32)[None, :]
    band = speckle_background((h, w), rng.uniform(6, 45), rng)
    streaks = _streaks((h, w), int(rng.integers(6, 30)), rng)
    for depth, thick, grey, motion in _layers(kind, rng):
        top = (depth + motion * m) * h
        bottom = top + thick * h * (1 + 0.3 * np.abs(motion) / 0.08 * m)
        inside = (rows >= top) & (rows < bottom)
        # texture constant along the wall (material coordinate), so it streaks horizontally
        coord = np.clip((rows - top) / np.maximum(bottom - top, 1), 0, 1)
        tex = rng.rayleigh(1.0, 48).astype(np.float32)
        tex = np.interp(coord.ravel(), np.linspace(0, 1, 48), tex).reshape(coord.shape)
        band = np.where(inside, grey * tex * streaks, band)
        band += (grey * 0.6) * np.exp(-(((rows - top) / 1.2) ** 2))  # specular interface
    if kind == "mmode_mv":  # anterior leaflet (M shape) and posterior leaflet (W shape) in the LV cavity
        y0 = h * rng.uniform(0.4, 0.5)
        opening = _bump(phase, 0.5, 0.05) + 0.6 * _bump(phase, 0.87, 0.035)
        for sign, amp in ((-1, rng.uniform(0.12, 0.2)), (1, rng.uniform(0.04, 0.08))):
            y = y0 + sign * amp * h * opening
            band += rng.uniform(140, 230) * np.exp(-(((rows - y[None, :]) / 1.5) ** 2))
    if kind == "mmode_ao":  # aortic cusps: a box open in systole
        y0 = h * rng.uniform(0.38, 0.45)
        open_ = _arch(phase, 0.08, 0.3, 0.3) * h * rng.uniform(0.04, 0.07)
        for sign in (-1, 1):
            band += 160 * np.exp(-(((rows - (y0 + sign * open_)[None, :]) / 1.0) ** 2))
    band *= np.float32(np.exp(-rng.uniform(0.0, 1.2) * np.arange(h) / h))[:, None]  # attenuation
    return band
