"""Image formation: scatterers -> PSF in beam geometry -> envelope -> attenuation/TGC -> log -> scan conversion.

Convolution model of speckle (baseband IQ): the received signal of scan line ``l`` at sample ``n`` is

    iq[l, n] = A(l, n) * sum_{l', n'} h_lat(l - l'; r_n) h_ax(n - n') (E[l', n'] c[l', n'] + S[l', n'])

with ``c`` i.i.d. circular complex Gaussian scatterers, ``E`` the diffuse echogenicity, ``S`` coherent
(specular) reflectors, ``h_ax`` a Gaussian pulse envelope and ``h_lat`` a Gaussian beam profile whose width
(in lines) grows away from the focus, ``sigma(r) = sigma0 sqrt(1 + ((r - r_f) / z_R)^2)``. Both kernels have
unit energy, so a homogeneous region with E = 1, S = 0 gives a complex Gaussian field of unit power whose
magnitude is Rayleigh distributed (mean/std = sqrt(pi / (4 - pi)) = 1.91). ``A`` is the two-way attenuation
``exp(-cumsum(alpha) dr)`` along each line (rib shadows and calcium add to ``alpha``). Thermal noise is added
before time-gain compensation, so TGC amplifies it in the far field as on a scanner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DB_PER_CM = 2.4  # two-way soft-tissue attenuation at ~2.5 MHz (0.5 dB/cm/MHz)
NP_PER_DB = math.log(10) / 20


@dataclass(frozen=True)
class FanGeometry:
    """Where the imaging sector lies on the output image (ground truth for sector detection).

    ``apex_xy`` in pixels (may lie above the image), ``radius_px`` the far-field arc radius, angles in
    degrees from straight down (negative = image left), ``depth_cm`` the imaging depth.
    """

    size_hw: tuple[int, int]
    apex_xy: tuple[float, float]
    radius_px: float
    angle_start_deg: float
    angle_end_deg: float
    depth_cm: float

    @property
    def px_per_cm(self) -> float:
        return self.radius_px / self.depth_cm

    @property
    def sector_deg(self) -> float:
        return self.angle_end_deg - self.angle_start_deg


@dataclass(frozen=True)
class BeamGrid:
    """Polar sampling of a fan: ``n_lines`` (+ ``pad`` each side) x ``n_samples``; x, z, beam dirs in cm."""

    n_lines: int
    n_samples: int
    pad: int
    theta: np.ndarray
    r: np.ndarray
    x: np.ndarray
    z: np.ndarray
    bx: np.ndarray
    bz: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.x.shape  # type: ignore[return-value]


@lru_cache(maxsize=64)
def beam_grid(geom: FanGeometry, line_density: float = 0.5, sample_density: float = 1.2) -> BeamGrid:
    """Polar grid for ``geom``: about ``line_density`` lines per far-field pixel of arc."""
    span = math.radians(geom.sector_deg)
    n_lines = int(np.clip(round(line_density * geom.radius_px * span), 40, 256))
    n_samples = int(np.clip(round(sample_density * geom.radius_px), 64, 480))
    pad = 6
    dth = span / max(n_lines - 1, 1)
    theta = math.radians(geom.angle_start_deg) + (np.arange(-pad, n_lines + pad) * dth)
    r = (np.arange(n_samples) + 0.5) * geom.depth_cm / n_samples
    th = theta[:, None].astype(np.float32)
    rr = r[None, :].astype(np.float32)
    bx, bz = np.sin(th), np.cos(th)
    x, z = rr * bx, rr * bz
    bx = np.broadcast_to(bx, x.shape)
    bz = np.broadcast_to(bz, x.shape)
    return BeamGrid(n_lines, n_samples, pad, theta, r, x, z, bx, bz)


@dataclass(frozen=True)
class BeamParams:
    """Acquisition settings: PSF widths (samples/lines), focus, attenuation, TGC, noise, display."""

    sigma_ax: float = 1.3
    sigma_lat: float = 1.0
    focus_frac: float = 0.5
    rayleigh_frac: float = 0.35
    atten_db_cm: float = DB_PER_CM
    tgc_comp: float = 1.0
    tgc_knots_db: tuple[float, ...] = (0.0,) * 8
    noise_db: float = -65.0
    dynamic_range_db: float = 50.0
    gain_db: float = 0.0


@dataclass(frozen=True)
class BeamStages:
    """Intermediate stages of one acquisition (polar, lines x samples)."""

    iq: np.ndarray
    envelope: np.ndarray
    polar: np.ndarray


@lru_cache(maxsize=64)
def _psf_spectra(
    n_lines: int, n_samples: int, depth_cm: float, p_ax: float, p_lat: float, focus: float, zr: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-energy Gaussian transfer functions: lateral (n_lines, n_samples) and axial (n_samples,)."""
    k = np.fft.fftfreq(n_lines)[:, None]
    rn = (np.arange(n_samples) + 0.5) / n_samples
    sig = p_lat * np.sqrt(1 + ((rn - focus) / zr) ** 2)[None, :]
    h_lat = np.exp(-0.5 * (2 * np.pi * k * sig) ** 2)
    h_lat *= np.sqrt(n_lines / np.sum(h_lat**2, axis=0, keepdims=True))
    w = np.fft.fftfreq(n_samples)
    h_ax = np.exp(-0.5 * (2 * np.pi * w * p_ax) ** 2)
    h_ax *= np.sqrt(n_samples / np.sum(h_ax**2))
    return h_lat.astype(np.complex64), h_ax.astype(np.complex64)


def scatterers(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Circular complex Gaussian scatterers of unit power."""
    g = rng.standard_normal((2, *shape), dtype=np.float32)
    return (g[0] + 1j * g[1]).astype(np.complex64) * np.float32(math.sqrt(0.5))


def tgc_gain(params: BeamParams, r: np.ndarray, depth_cm: float) -> np.ndarray:
    """TGC amplitude gain per sample: compensates attenuation (times ``tgc_comp``) plus slider knots."""
    knots = np.asarray(params.tgc_knots_db, dtype=np.float64)
    kx = np.linspace(0, depth_cm, len(knots))
    db = params.tgc_comp * params.atten_db_cm * r + np.interp(r, kx, knots)
    return np.exp(NP_PER_DB * db).astype(np.float32)


def beamform(
    E: np.ndarray,
    S: np.ndarray,
    grid: BeamGrid,
    params: BeamParams,
    rng: np.random.Generator,
    scat: np.ndarray | None = None,
    extra_atten_db: np.ndarray | None = None,
    ref: float | None = None,
) -> BeamStages:
    """Simulate one frame in beam space; ``scat`` reuses scatterers (cine), else fresh ones are drawn.

    ``ref`` fixes the envelope level shown at 0 dB (default: a high percentile of the envelope).
    """
    depth = float(grid.r[-1] + grid.r[0])
    if scat is None:
        scat = scatterers(E.shape, rng)
    field = E * scat + S
    dr = depth / grid.n_samples
    att_db = np.full(grid.n_samples, params.atten_db_cm * dr, np.float32)[None, :]
    if extra_atten_db is not None:
        att_db = att_db + extra_atten_db * dr
    amp = np.exp(-NP_PER_DB * np.cumsum(np.broadcast_to(att_db, E.shape), axis=1)).astype(np.float32)
    h_lat, h_ax = _psf_spectra(
        E.shape[0],
        E.shape[1],
        depth,
        params.sigma_ax,
        params.sigma_lat,
        params.focus_frac,
        params.rayleigh_frac,
    )
    f = np.fft.fft(field, axis=0) * h_lat
    f = np.fft.fft(f, axis=1) * h_ax[None, :]
    iq = np.fft.ifft2(f).astype(np.complex64) * amp
    if params.noise_db > -200:
        iq += scatterers(E.shape, rng) * np.float32(10 ** (params.noise_db / 20))
    env = np.abs(iq) * tgc_gain(params, grid.r, depth)[None, :]
    polar = log_compress(env, params.dynamic_range_db, params.gain_db, ref)
    return BeamStages(iq=iq, envelope=env, polar=polar)


def log_compress(env: np.ndarray, dr_db: float, gain_db: float = 0.0, ref: float | None = None) -> np.ndarray:
    """Map ``20 log10(env / ref) + gain`` from [-dr_db, 0] dB to [0, 255] uint8."""
    if ref is None:
        ref = float(np.percentile(env[::3, ::3], 99.5)) + 1e-9
    db = 20.0 * np.log10(env / ref + 1e-9) + gain_db
    return np.clip((db + dr_db) * (255.0 / dr_db), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class _ScanLut:
    pix: np.ndarray
    i00: np.ndarray
    w: np.ndarray
    n_samples: int


@lru_cache(maxsize=64)
def _scan_lut(geom: FanGeometry, n_lines: int, n_samples: int, pad: int) -> _ScanLut:
    h, w = geom.size_hw
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs + 0.5 - geom.apex_xy[0], ys + 0.5 - geom.apex_xy[1]
    rr = np.hypot(dx, dy)
    th = np.degrees(np.arctan2(dx, dy))
    ins = (rr < geom.radius_px) & (th >= geom.angle_start_deg) & (th <= geom.angle_end_deg) & (dy > 0)
    li = (th[ins] - geom.angle_start_deg) / geom.sector_deg * (n_lines - 1) + pad
    si = np.clip(rr[ins] / geom.radius_px * n_samples - 0.5, 0, n_samples - 1.001)
    l0, s0 = np.floor(li).astype(np.int64), np.floor(si).astype(np.int64)
    fl, fs = (li - l0).astype(np.float32), (si - s0).astype(np.float32)
    wts = np.stack([(1 - fl) * (1 - fs), (1 - fl) * fs, fl * (1 - fs), fl * fs])
    return _ScanLut(np.flatnonzero(ins), l0 * n_samples + s0, wts, n_samples)


def scan_convert(polar: np.ndarray, grid: BeamGrid, geom: FanGeometry) -> np.ndarray:
    """Bilinear scan conversion of a (lines x samples) image into the sector on an HxW uint8 image."""
    lut = _scan_lut(geom, grid.n_lines, grid.n_samples, grid.pad)
    flat = polar.reshape(-1).astype(np.float32)
    ns = lut.n_samples
    v = (
        flat[lut.i00] * lut.w[0]
        + flat[lut.i00 + 1] * lut.w[1]
        + flat[lut.i00 + ns] * lut.w[2]
        + flat[lut.i00 + ns + 1] * lut.w[3]
    )
    out = np.zeros(geom.size_hw[0] * geom.size_hw[1], np.uint8)
    out[lut.pix] = np.clip(v + 0.5, 0, 255).astype(np.uint8)
    return out.reshape(geom.size_hw)


def fan_mask(geom: FanGeometry) -> np.ndarray:
    """Boolean HxW mask of the pixels inside the sector."""
    lut = _scan_lut(geom, 2, 2, 0)
    m = np.zeros(geom.size_hw[0] * geom.size_hw[1], bool)
    m[lut.pix] = True
    return m.reshape(geom.size_hw)


def pixel_to_cm(geom: FanGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Sector coordinates (x, z) in cm of every output pixel centre (HxW arrays)."""
    h, w = geom.size_hw
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    s = 1.0 / geom.px_per_cm
    return (xs + 0.5 - geom.apex_xy[0]) * s, (ys + 0.5 - geom.apex_xy[1]) * s
