"""Seeded augmentation for ultrasound stills (numpy/scipy on uint8 HxW grey or HxWx3 images).

Every function takes the image and a ``numpy.random.Generator`` and returns a uint8 image of the
same shape, so that the same seed gives the same result. Geometry respects the phased-array
sector: rotations and zooms pivot on the sector apex (top centre by default), so the fan stays a
fan with its apex at the top, as on a scanner when the probe is tilted or the depth changed.

>>> import numpy as np
>>> aug = UltrasoundAugment()
>>> img = np.full((64, 64), 100, np.uint8)
>>> out = aug(img, np.random.default_rng(0))
>>> out.shape, out.dtype
((64, 64), dtype('uint8'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtecho._lazy import require

#: The JPEG luminance quantisation table (ITU-T T.81, Annex K), quality 50.
_JPEG_Q50 = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _per_channel(image: np.ndarray, fn) -> np.ndarray:
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(image[..., c]) for c in range(image.shape[2])], axis=-1)


def apex_affine(
    image: np.ndarray,
    angle_deg: float = 0.0,
    zoom: float = 1.0,
    shift_yx: tuple[float, float] = (0.0, 0.0),
    apex_yx: tuple[float, float] | None = None,
) -> np.ndarray:
    """Rotate by ``angle_deg`` and zoom by ``zoom`` (>1 magnifies) about the sector apex, then shift (pixels).

    The apex defaults to the top centre ``(0, (W-1)/2)``; pixels from outside the image are black.
    Maths: an output pixel ``o`` samples the input at ``R(-angle) (o - a) / zoom + a - shift``.
    """
    ndimage = require("scipy.ndimage", "train", "augmentation")
    h, w = image.shape[:2]
    a = np.array(apex_yx if apex_yx is not None else (0.0, (w - 1) / 2.0))
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    matrix = rot / float(zoom)
    offset = a - matrix @ a - np.asarray(shift_yx, dtype=np.float64)

    def warp(ch: np.ndarray) -> np.ndarray:
        out = ndimage.affine_transform(ch.astype(np.float32), matrix, offset=offset, order=1, cval=0.0)
        return _u8(out)

    return _per_channel(image, warp)


def rotate_about_apex(image: np.ndarray, rng: np.random.Generator, max_deg: float = 10.0) -> np.ndarray:
    """A small rotation, uniform in ``[-max_deg, max_deg]``, about the sector apex."""
    return apex_affine(image, angle_deg=float(rng.uniform(-max_deg, max_deg)))


def sector_crop_zoom(
    image: np.ndarray,
    rng: np.random.Generator,
    zoom: tuple[float, float] = (0.9, 1.2),
    max_shift: float = 0.05,
) -> np.ndarray:
    """Sector-preserving crop/zoom: scale about the apex, then a small shift (fraction of the size).

    Zooming in about the apex crops the far field and the fan edges as a shallower depth would;
    zooming out adds black margin. The apex stays near the top centre.
    """
    h, w = image.shape[:2]
    s = float(rng.uniform(*zoom))
    dy = float(rng.uniform(0.0, max_shift)) * h
    dx = float(rng.uniform(-max_shift, max_shift)) * w
    return apex_affine(image, zoom=s, shift_yx=(dy, dx))


def gain_contrast_gamma(
    image: np.ndarray,
    rng: np.random.Generator,
    gain: tuple[float, float] = (0.75, 1.3),
    contrast: tuple[float, float] = (0.75, 1.3),
    gamma: tuple[float, float] = (0.7, 1.4),
) -> np.ndarray:
    """Overall gain, contrast about the mean and a gamma curve: ``255 * (clip(g*c*(x-m)+g*m) / 255) ** gamma``."""
    x = image.astype(np.float64)
    m = x.mean()
    x = float(rng.uniform(*gain)) * (float(rng.uniform(*contrast)) * (x - m) + m)
    x = np.clip(x, 0, 255) / 255.0
    return _u8(255.0 * x ** float(rng.uniform(*gamma)))


def speckle(
    image: np.ndarray, rng: np.random.Generator, sigma: tuple[float, float] = (0.05, 0.3)
) -> np.ndarray:
    """Multiplicative speckle: ``x * g`` with ``g ~ Gamma(k, 1/k)``, ``k = 1/s^2`` (mean 1, std ``s``)."""
    s = float(rng.uniform(*sigma))
    k = 1.0 / (s * s)
    g = rng.gamma(k, 1.0 / k, size=image.shape)
    return _u8(image.astype(np.float64) * g)


def blur(image: np.ndarray, rng: np.random.Generator, sigma: tuple[float, float] = (0.3, 1.5)) -> np.ndarray:
    """Gaussian blur with ``sigma`` pixels drawn uniformly from the range."""
    ndimage = require("scipy.ndimage", "train", "augmentation")
    s = float(rng.uniform(*sigma))
    return _per_channel(image, lambda ch: _u8(ndimage.gaussian_filter(ch.astype(np.float32), s)))


def jpeg_quantise(
    image: np.ndarray, rng: np.random.Generator, quality: tuple[int, int] = (25, 90)
) -> np.ndarray:
    """JPEG-like artefacts: 8x8 block DCT, rounding to the luminance table at a random quality, inverse DCT."""
    fft = require("scipy.fft", "train", "augmentation")
    q = int(rng.integers(quality[0], quality[1] + 1))
    scale = 5000.0 / q if q < 50 else 200.0 - 2.0 * q
    table = np.clip(np.floor((_JPEG_Q50 * scale + 50.0) / 100.0), 1, 255)

    def one(ch: np.ndarray) -> np.ndarray:
        h, w = ch.shape
        ph, pw = (-h) % 8, (-w) % 8
        x = np.pad(ch.astype(np.float64) - 128.0, ((0, ph), (0, pw)), mode="edge")
        blocks = x.reshape(x.shape[0] // 8, 8, x.shape[1] // 8, 8).transpose(0, 2, 1, 3)
        coef = fft.dctn(blocks, axes=(2, 3), norm="ortho")
        coef = np.round(coef / table) * table
        back = fft.idctn(coef, axes=(2, 3), norm="ortho").transpose(0, 2, 1, 3).reshape(x.shape)
        return _u8(back[:h, :w] + 128.0)

    return _per_channel(image, one)


def cutout(
    image: np.ndarray, rng: np.random.Generator, n_holes: int = 1, max_frac: float = 0.25, fill: int = 0
) -> np.ndarray:
    """Blank ``n_holes`` rectangles, each side up to ``max_frac`` of the image side, with ``fill``."""
    out = image.copy()
    h, w = image.shape[:2]
    for _ in range(n_holes):
        ch = int(rng.integers(1, max(2, int(h * max_frac) + 1)))
        cw = int(rng.integers(1, max(2, int(w * max_frac) + 1)))
        y = int(rng.integers(0, h - ch + 1))
        x = int(rng.integers(0, w - cw + 1))
        out[y : y + ch, x : x + cw] = fill
    return out


@dataclass(frozen=True)
class UltrasoundAugment:
    """Applies each augmentation with its probability, in scanner order: geometry, gain, speckle, blur, JPEG, cutout.

    Set a probability to 0 to switch an augmentation off. Deterministic for a given rng state.
    """

    p_rotate: float = 0.5
    max_deg: float = 10.0
    p_zoom: float = 0.5
    zoom: tuple[float, float] = (0.9, 1.2)
    p_gain: float = 0.8
    p_speckle: float = 0.3
    p_blur: float = 0.2
    p_jpeg: float = 0.2
    p_cutout: float = 0.3
    cutout_frac: float = 0.25

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # one uniform per step, drawn up front, so switching a step off does not shift the others
        u = rng.uniform(size=6)
        out = image
        if u[0] < self.p_rotate or u[1] < self.p_zoom:
            angle = float(rng.uniform(-self.max_deg, self.max_deg)) if u[0] < self.p_rotate else 0.0
            s = float(rng.uniform(*self.zoom)) if u[1] < self.p_zoom else 1.0
            h, w = image.shape[:2]
            shift = (
                (float(rng.uniform(0, 0.05)) * h, float(rng.uniform(-0.05, 0.05)) * w)
                if u[1] < self.p_zoom
                else (0, 0)
            )
            out = apex_affine(out, angle_deg=angle, zoom=s, shift_yx=shift)
        if u[2] < self.p_gain:
            out = gain_contrast_gamma(out, rng)
        if u[3] < self.p_speckle:
            out = speckle(out, rng)
        if u[4] < self.p_blur:
            out = blur(out, rng)
        if u[5] < self.p_jpeg:
            out = jpeg_quantise(out, rng)
        if rng.uniform() < self.p_cutout:
            out = cutout(out, rng, max_frac=self.cutout_frac)
        return out
