"""Augmentations for sim-to-real transfer (numpy/scipy on uint8 HxW grey stills at the network size).

The simulator draws what defines a view (which chambers, valves and vessels, and where) but its
texture, intensity curve and wall rendering differ from a real scanner's. These augmentations
randomise what does not define the view, so that a network trained on simulated stills has to
rely on the shape of the anatomy (../shared/ECHO-REALISM.md, "Training for transfer"):

- :func:`aspect_stretch`: real exports come in every aspect ratio (a 549x389 CAMUS frame, a 640x480
  screen) and the runtime resizes the whole frame to the square input, so fans arrive squeezed or
  widened; the stretch pivots on the apex (top centre).
- :func:`haze`: blood is dark but not black; near-field clutter and apical haze are smooth bright
  fields over the image (a low-pass random field, strongest near the probe).
- :func:`wall_thicken`: the simulator draws walls as thin bright outlines; real myocardium is a
  thick grey band. A grey dilation of the image followed by a blend turns outlines into bands.
- :func:`match_intensity`: maps the in-sector intensity distribution onto a reference quantile
  curve of a permissively licensed real frame (``rtecho/data/real_intensity_quantiles.json``: only
  the quantiles are stored, never an image), blended with the original.
- :func:`high_gain`: operators often scan with high gain: tissue saturates near white and the
  blood pools fill with grey (a compressive curve ``255 (1 - e^{-k x/255}) / (1 - e^{-k})``).
- :func:`random_convolution`: a random 3x3 kernel applied to the image and blended in (RandConv,
  Xu et al. ICLR 2021): a texture change that keeps shapes.

>>> import numpy as np
>>> aug = TransferAugment()
>>> out = aug(np.full((64, 64), 90, np.uint8), np.random.default_rng(0))
>>> out.shape, out.dtype
((64, 64), dtype('uint8'))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from rtecho._lazy import require
from rtecho.train.augment import UltrasoundAugment, _u8

#: quantile levels of the stored reference curves (0, 1, ..., 100 percent)
LEVELS = np.linspace(0.0, 1.0, 101)
#: pixels above this (after a 3x3 mean) count as inside the imaging sector
SECTOR_LEVEL = 6.0


def sector_mask(image: np.ndarray) -> np.ndarray:
    """Boolean mask of pixels inside the imaging sector: a 5x5 mean above :data:`SECTOR_LEVEL`."""
    ndimage = require("scipy.ndimage", "train", "augmentation")
    return ndimage.uniform_filter(image.astype(np.float32), 5) > SECTOR_LEVEL


def intensity_quantiles(image: np.ndarray) -> np.ndarray | None:
    """The 101 quantiles of the in-sector grey levels, or None when the sector is nearly empty."""
    mask = sector_mask(image)
    if mask.sum() < 0.05 * mask.size:
        return None
    return np.quantile(image[mask].astype(np.float64), LEVELS)


@lru_cache(maxsize=1)
def reference_quantiles() -> tuple[np.ndarray, tuple[str, ...]]:
    """The shipped reference curves (n, 101) and their sources."""
    text = resources.files("rtecho.data").joinpath("real_intensity_quantiles.json").read_text()
    data = json.loads(text)
    curves = np.asarray([c["quantiles"] for c in data["curves"]], dtype=np.float64)
    if curves.ndim != 2 or curves.shape[1] != LEVELS.size:
        raise ValueError("real_intensity_quantiles.json: expected curves of 101 quantiles")
    return curves, tuple(c["source"] for c in data["curves"])


def aspect_stretch(
    image: np.ndarray, rng: np.random.Generator, ratio: tuple[float, float] = (0.7, 1.4)
) -> np.ndarray:
    """Scale the width by ``r`` (log-uniform in ``ratio``) about the centre column, the height by ``1/sqrt(r)``.

    Maths: an output pixel (y, x) samples the input at ``(y * sqrt(r), c + (x - c) / r)``; c = (W-1)/2.
    """
    ndimage = require("scipy.ndimage", "train", "augmentation")
    lo, hi = np.log(ratio[0]), np.log(ratio[1])
    r = float(np.exp(rng.uniform(lo, hi)))
    c = (image.shape[1] - 1) / 2.0
    matrix = np.diag([np.sqrt(r), 1.0 / r])
    offset = np.array([0.0, c - c / r])
    out = ndimage.affine_transform(image.astype(np.float32), matrix, offset=offset, order=1, cval=0.0)
    return _u8(out)


def haze(
    image: np.ndarray, rng: np.random.Generator, strength: tuple[float, float] = (10.0, 70.0)
) -> np.ndarray:
    """Add a smooth random bright field inside the sector, stronger near the top (the probe).

    ``out = x + a * f(y, x) * (1 - y / H) ** p`` where f is low-pass noise scaled to [0, 1].
    """
    ndimage = require("scipy.ndimage", "train", "augmentation")
    h, w = image.shape
    field_ = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), sigma=max(h, w) / 10.0)
    field_ = (field_ - field_.min()) / (np.ptp(field_) + 1e-6)
    depth = (1.0 - np.arange(h, dtype=np.float32) / h)[:, None] ** float(rng.uniform(0.0, 2.0))
    a = float(rng.uniform(*strength))
    return _u8(image + a * field_ * depth * sector_mask(image))


def high_gain(image: np.ndarray, rng: np.random.Generator, k: tuple[float, float] = (1.5, 5.0)) -> np.ndarray:
    """Compressive high-gain curve ``y = 255 (1 - exp(-k x / 255)) / (1 - exp(-k))``, k uniform in the range.

    Dark pixels are lifted most (blood fills with grey), bright tissue saturates; black stays black.
    """
    kk = float(rng.uniform(*k))
    x = image.astype(np.float64) / 255.0
    return _u8(255.0 * (1.0 - np.exp(-kk * x)) / (1.0 - np.exp(-kk)))


def wall_thicken(image: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (2, 5)) -> np.ndarray:
    """Blend a grey dilation (a ``k x k`` max filter, then a blur) into the image: thin bright lines become bands."""
    ndimage = require("scipy.ndimage", "train", "augmentation")
    k = int(rng.integers(size[0], size[1] + 1))
    thick = ndimage.gaussian_filter(ndimage.grey_dilation(image, size=(k, k)).astype(np.float32), k / 3.0)
    alpha = float(rng.uniform(0.3, 0.8))
    return _u8((1.0 - alpha) * image + alpha * np.minimum(thick, 0.85 * thick + 0.15 * image.max()))


def match_intensity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map the in-sector grey levels onto a random reference curve (quantile matching), blended with the original."""
    q = intensity_quantiles(image)
    if q is None:
        return image
    curves, _ = reference_quantiles()
    ref = curves[int(rng.integers(len(curves)))]
    q = np.maximum.accumulate(q + np.arange(q.size) * 1e-6)  # strictly increasing for interp
    mapped = np.interp(image.astype(np.float64), q, ref)
    alpha = float(rng.uniform(0.4, 1.0))
    mask = sector_mask(image)
    out = image.astype(np.float64)
    out[mask] = (1.0 - alpha) * out[mask] + alpha * mapped[mask]
    return _u8(out)


def random_convolution(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a random 3x3 kernel (Gaussian weights, positive gain), rescale, blend in (RandConv)."""
    ndimage = require("scipy.ndimage", "train", "augmentation")
    k = rng.normal(0.0, 1.0, size=(3, 3))
    k += 1.5 / 9.0 * np.sign(k.sum() or 1.0)
    y = ndimage.convolve(image.astype(np.float64), k / (np.abs(k).sum() + 1e-6), mode="nearest")
    y = (y - y.min()) / (np.ptp(y) + 1e-6) * float(image.max())
    alpha = float(rng.uniform(0.2, 0.6))
    return _u8((1.0 - alpha) * image + alpha * y)


@dataclass(frozen=True)
class TransferAugment:
    """The base :class:`UltrasoundAugment` with stronger blur, then the transfer augmentations, each with its probability."""

    base: UltrasoundAugment = field(default_factory=lambda: UltrasoundAugment(p_blur=0.4))
    p_aspect: float = 0.5
    p_wall: float = 0.4
    p_haze: float = 0.4
    p_match: float = 0.5
    p_randconv: float = 0.2
    p_high_gain: float = 0.0
    haze_strength: tuple[float, float] = (10.0, 70.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if image.ndim != 2:
            raise ValueError(f"TransferAugment takes grey HxW stills, got shape {image.shape}")
        u = rng.uniform(size=6)
        out = image
        if u[0] < self.p_aspect:
            out = aspect_stretch(out, rng)
        if u[1] < self.p_wall:
            out = wall_thicken(out, rng)
        if u[2] < self.p_haze:
            out = haze(out, rng, self.haze_strength)
        if u[3] < self.p_match:
            out = match_intensity(out, rng)
        if u[4] < self.p_randconv:
            out = random_convolution(out, rng)
        if u[5] < self.p_high_gain:
            out = high_gain(out, rng)
        return self.base(out, rng)


#: named augmentation sets of ``rtecho train --augment``
PRESETS: dict[str, TransferAugment] = {
    "transfer": TransferAugment(),
    # + high gain (saturated tissue, grey-filled blood pools) and stronger haze
    "transfer-gain": TransferAugment(p_high_gain=0.35, haze_strength=(10.0, 110.0)),
}
