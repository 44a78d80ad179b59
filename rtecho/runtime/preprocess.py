"""Preprocessing from the model card alone (numpy only): colour -> channels, resize, [equalise,] normalise.

Resizing is separable and antialiased (a triangle filter whose support widens with the downscale
factor, as PIL's BILINEAR): ``out = R_y @ img @ R_x^T`` with row-normalised weight matrices
``R`` cached per size pair, evaluated tap by tap (no BLAS). Training uses the same function, so the model sees at run time exactly
what it saw in training. A card with ``equalize`` also maps each frame's in-sector grey levels by
their own CDF (:func:`equalize`) at network size, before normalising.

>>> import numpy as np
>>> from rtecho.types import ModelCard
>>> card = ModelCard("m", "x", ("A2C", "A4C"), (64, 64), mean=(0.5,), std=(0.25,))
>>> Preprocessor(card)(np.zeros((120, 160, 3), np.uint8)).shape
(1, 1, 64, 64)
"""

from __future__ import annotations

import sys
from functools import lru_cache

import numpy as np

from rtecho.errors import FrameError
from rtecho.types import ModelCard, check_image

#: ITU-R BT.601 luma weights, RGB order.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)

#: :func:`equalize`: grey levels at or below this (after resizing, rounded) are background, kept at 0.
SECTOR_LEVEL = 2


@lru_cache(maxsize=64)
def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 antialiased bilinear resampling matrix; rows sum to 1."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"sizes must be >= 1, got {n_in} -> {n_out}")
    scale = n_in / n_out
    support = max(scale, 1.0)
    centers = (np.arange(n_out) + 0.5) * scale
    pos = np.arange(n_in) + 0.5
    w = np.clip(1.0 - np.abs(pos[None, :] - centers[:, None]) / support, 0.0, None)
    empty = w.sum(axis=1) == 0
    if empty.any():  # upsampling edge rows: nearest input pixel
        w[empty, np.clip(centers[empty].astype(int), 0, n_in - 1)] = 1.0
    w /= w.sum(axis=1, keepdims=True)
    w.setflags(write=False)
    return w.astype(np.float32)


@lru_cache(maxsize=64)
def resize_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The band of :func:`resize_matrix` as (index, weight) arrays of shape (taps, n_out)."""
    m = resize_matrix(n_in, n_out)
    nz = m > 0
    first = nz.argmax(axis=1)
    taps = int((nz.sum(axis=1)).max())
    idx = np.clip(first[None, :] + np.arange(taps)[:, None], 0, n_in - 1)
    w = np.take_along_axis(m, idx.T, axis=1).T.copy()
    w[first[None, :] + np.arange(taps)[:, None] > n_in - 1] = 0.0
    idx.setflags(write=False)
    w.setflags(write=False)
    return idx, w.astype(np.float32)


def to_channels(image: np.ndarray, channels: int, planes: np.ndarray | None = None) -> np.ndarray:
    """uint8 HxW or HxWx3 -> float32 HxW (channels=1, luma) or HxWx3 (channels=3). ``planes``: the
    RGB image's channels as a 3xHxW array, when the caller has them already."""
    if channels == 1:
        if image.ndim == 2:
            return image.astype(np.float32)
        # de-interleaved first: the same products and sums, 3-4x faster on contiguous planes
        if planes is None:
            planes = np.ascontiguousarray(np.moveaxis(image, 2, 0))
        out = planes[0] * LUMA[0]
        out += planes[1] * LUMA[1]
        out += planes[2] * LUMA[2]
        return out
    if image.ndim == 2:
        return np.repeat(image.astype(np.float32)[:, :, None], 3, axis=2)
    return image.astype(np.float32)


def resize(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of an HxW or HxWxC array to float32.

    Computed as a sum over the few filter taps of each output pixel (gathers and multiply-adds),
    not as a BLAS matrix product: OpenBLAS's thread pool wakes up tens of ms late after the idle
    gaps of a paced stream, which showed as 30-45 ms preprocessing spikes.
    """
    h, w = image.shape[:2]
    yi, yw = resize_taps(h, size_hw[0])
    xi, xw = resize_taps(w, size_hw[1])
    extra = (None,) * (image.ndim - 2)
    rows = image[yi[0]] * yw[0][(slice(None), None, *extra)]
    for k in range(1, len(yi)):
        rows += image[yi[k]] * yw[k][(slice(None), None, *extra)]
    out = rows[:, xi[0]] * xw[0][(slice(None), *extra)]
    for k in range(1, len(xi)):
        out += rows[:, xi[k]] * xw[k][(slice(None), *extra)]
    return out.astype(np.float32, copy=False)


def equalize(
    x: np.ndarray,
    level: int = SECTOR_LEVEL,
    scale: np.ndarray | None = None,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """Per-frame in-sector histogram equalisation of a (C,H,W) float image on the 0..255 scale.

    Each channel is rounded to grey levels ``q = rint(x)``; levels ``<= level`` (the black
    background around the sector) become 0; every other level ``q`` becomes its mid-rank in-sector
    CDF ``255 (N(level < x < q) + N(x = q) / 2) / N``, N the in-sector pixel count. The output depends
    only on the order of the in-sector grey levels, so a strictly monotone grey-level curve (gain,
    gamma, compression) that keeps the background dark changes it only by rounding. float32, same
    shape. With per-channel ``scale``/``offset``, the result is ``y * scale + offset`` (the
    Preprocessor's normalisation folded into the 256-entry lookup table).

    >>> equalize(np.array([[[0.0, 10.0, 10.0, 200.0]]])).tolist()
    [[[0.0, 85.0, 85.0, 212.5]]]
    """
    out = np.empty(x.shape, np.float32)
    for c in range(x.shape[0]):
        q = np.clip(np.rint(x[c]), 0, 255).astype(np.intp)
        hist = np.bincount(q.ravel(), minlength=256)
        hist[: level + 1] = 0
        n = int(hist.sum())
        lut = (np.cumsum(hist) - 0.5 * hist) * (255.0 / n) if n else np.zeros(256)  # n = 0: no sector
        lut[: level + 1] = 0.0
        if scale is not None:
            lut = lut * float(scale[c]) + float(offset[c])  # type: ignore[index]
        out[c] = lut.astype(np.float32)[q]
    return out


class Preprocessor:
    """Callable turning one uint8 image into the (1, C, H, W) float32 input the card describes."""

    def __init__(self, card: ModelCard) -> None:
        self.card: ModelCard | None = card
        self._configure(card.input_size_hw, card.channels, card.mean, card.std, card.equalize)

    def _configure(
        self,
        size_hw: tuple[int, int],
        channels: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        equalize: bool = False,
    ) -> None:
        self.size_hw = (int(size_hw[0]), int(size_hw[1]))
        self.channels = int(channels)
        self.equalize = bool(equalize)
        std_ = np.asarray(std, np.float32)
        self._scale = (1.0 / (255.0 * std_)).astype(np.float32)
        self._offset = (-np.asarray(mean, np.float32) / std_).astype(np.float32)

    @classmethod
    def for_input(
        cls,
        size_hw: tuple[int, int],
        channels: int = 1,
        mean: tuple[float, ...] = (0.0,),
        std: tuple[float, ...] = (1.0,),
        equalize: bool = False,
    ) -> Preprocessor:
        """The preprocessor a card with this input (and ``equalize``) would get; for training, before
        a card exists.

        >>> Preprocessor.for_input((32, 32), 1, (0.5,), (0.25,))(np.zeros((64, 64), np.uint8)).shape
        (1, 1, 32, 32)
        """
        if channels not in (1, 3) or len(mean) != channels or len(std) != channels:
            raise ValueError(f"{channels} channel(s) need as many mean/std values, got {mean}, {std}")
        if min(size_hw) < 1 or min(std) <= 0:
            raise ValueError(f"bad input size {size_hw} or std {std}")
        pre = cls.__new__(cls)
        pre.card = None
        pre._configure(size_hw, channels, tuple(mean), tuple(std), equalize)
        return pre

    def __call__(
        self,
        image: np.ndarray,
        roi: tuple[int, int, int, int] | None = None,
        keep: np.ndarray | None = None,
        planes: np.ndarray | None = None,
    ) -> np.ndarray:
        """Preprocess ``image`` (optionally cropped to ``roi`` = (top, left, height, width)); pixels
        where the boolean ``keep`` (the size of the cropped image) is False count as black, as if
        they had been set to 0 in ``image`` (the ultrasound stage blanks outside the sector so).
        ``planes``: an RGB ``image``'s channels as 3xHxW (uncropped), when the caller has them."""
        return self.apply(check_image(image), roi, keep, planes)

    def apply(
        self,
        image: np.ndarray,
        roi: tuple[int, int, int, int] | None = None,
        keep: np.ndarray | None = None,
        planes: np.ndarray | None = None,
        shared: dict | None = None,
    ) -> np.ndarray:
        """:meth:`__call__` on an image that was checked already (a Frame's: the pipeline's stages).

        ``shared``: a per-frame dict where the blanked crop in the card's channels (box-reduced, on a
        large frame) is kept for other preprocessors of the same frame (the classifier's and the LV
        segmenter's: same crop, same block size, same channels -> the same array, computed once); the
        caller gives the same ``roi`` and ``keep`` for the same frame."""
        if planes is not None and planes.shape != (3, *image.shape[:2]):
            raise ValueError(f"planes {planes.shape} do not match the image {image.shape}")
        if roi is not None:
            top, left, hh, ww = roi
            image = image[top : top + hh, left : left + ww]
            if image.shape[0] == 0 or image.shape[1] == 0:
                raise FrameError(f"cropped frame is empty (shape {image.shape})")
            if planes is not None:
                planes = planes[:, top : top + hh, left : left + ww]
        if keep is not None and keep.shape != image.shape[:2]:
            raise ValueError(f"keep mask {keep.shape} does not match the image {image.shape[:2]}")
        k = reduce_factor(image.shape[:2], self.size_hw)
        key = ("blanked", roi, k, self.channels, keep is None)
        x = None if shared is None else shared.get(key)
        if x is None:
            if k > 1:
                x = self._reduced(image, k, keep, planes)
            else:
                x = to_channels(image, self.channels, planes)
                if keep is not None:
                    x = x * (keep if x.ndim == 2 else keep[..., None])  # exact: x * 1 = x, x * 0 = 0 (x >= 0)
            if shared is not None:
                x.setflags(write=False)
                shared[key] = x
        x = resize(x, self.size_hw)
        if x.ndim == 2:
            x = x[None]
        else:
            x = np.ascontiguousarray(x.transpose(2, 0, 1))
        if self.equalize:
            return equalize(x, SECTOR_LEVEL, self._scale, self._offset)[None]
        x = x * self._scale[:, None, None] + self._offset[:, None, None]
        return x[None].astype(np.float32, copy=False)

    def _reduced(
        self, image: np.ndarray, k: int, keep: np.ndarray | None, planes: np.ndarray | None
    ) -> np.ndarray:
        """The image blanked where ``keep`` is False, as means of ``k`` x ``k`` blocks (uint8 sums,
        exact), in the card's channels: what the antialiased resize starts from on a large frame.

        No full-size blanked copy is made: the unblanked block means are computed (from ``planes``,
        or rows first from the interleaved pixels), blocks wholly outside ``keep`` are set to 0 and
        the few blocks across its border are summed again from their kept pixels
        (:class:`_BlockBlank`): the same numbers as reducing the blanked image."""
        if image.ndim == 2:
            red = box_reduce(image, k)
        elif planes is not None:
            red = box_reduce(planes, k)  # (3, h, w): one call per step
        else:
            red = box_reduce_rgb(image, k)
        if image.ndim == 3 and self.channels == 1:  # luma first: the blanking then works on one plane
            red = to_channels(red.transpose(1, 2, 0), 1, red)
        if keep is not None:
            red = self._blank(k, keep).apply(red, image)
        if red.ndim == 2:
            return red
        return np.ascontiguousarray(red.transpose(1, 2, 0))

    def _blank(self, k: int, keep: np.ndarray) -> _BlockBlank:
        """The block blanking of ``keep`` at ``k``, kept while a stream's sector (a read-only mask)
        stays the same."""
        cached = getattr(self, "_blank_cache", None)
        key = _mask_key(keep, k)
        if cached is not None and key is not None and cached[0] == key:
            return cached[2]
        blank = _BlockBlank(keep, k)
        if key is not None:
            self._blank_cache = (key, keep.base if keep.base is not None else keep, blank)
        return blank


def _mask_key(keep: np.ndarray, k: int) -> tuple | None:
    """A key naming a read-only mask (a view of a cached sector region) by memory, or None when it
    may change (writeable: not cached). The cache holds the array, so the memory is not reused."""
    if keep.flags.writeable:
        return None
    base = keep.base if keep.base is not None else keep
    if base.flags.writeable:
        return None
    return (id(base), keep.__array_interface__["data"][0], keep.shape, keep.strides, k)


class _BlockBlank:
    """Blanking folded into a ``k`` x ``k`` block reduction: for a boolean ``keep`` (HxW), block means
    of ``image * keep`` from block means of ``image`` (blocks wholly kept unchanged, wholly blanked 0,
    the blocks across the border summed again from their kept pixels, exactly as box_reduce sums)."""

    def __init__(self, keep: np.ndarray, k: int) -> None:
        counts = block_sums(keep, k)  # kept pixels per block, exact
        self.k = k
        self.nonempty = (counts == k * k).astype(np.float32)  # mixed blocks are written below
        mixed = np.flatnonzero((counts > 0) & (counts < k * k))
        by, bx = np.divmod(mixed, counts.shape[1])
        d = np.arange(k)
        self.ys = (by[:, None] * k + np.repeat(d, k)[None, :]).astype(np.intp)  # (n, k*k)
        self.xs = (bx[:, None] * k + np.tile(d, k)[None, :]).astype(np.intp)
        self.by, self.bx = by, bx
        self.weights = keep[self.ys, self.xs].astype(np.uint16)  # (n, k*k) 0/1

    def apply(self, red: np.ndarray, image: np.ndarray) -> np.ndarray:
        """``red`` (h, w) or (3, h, w) block means of ``image`` (HxW or HxWx3 uint8), blanked; for an
        RGB ``image`` an (h, w) ``red`` is the luma of its block means (:func:`to_channels`), and the
        border blocks get the luma of their blanked means (the same products and sums, so the same
        numbers as blanking before the luma)."""
        red = red * self.nonempty
        if not len(self.by):
            return red
        px = image[self.ys, self.xs]  # (n, k*k) or (n, k*k, 3) uint8
        scale = np.float32(1.0 / (self.k * self.k))
        if image.ndim == 2:
            red[self.by, self.bx] = (px * self.weights).sum(axis=1).astype(np.float32) * scale
            return red
        means = (px * self.weights[..., None]).sum(axis=1).T.astype(np.float32) * scale  # (3, n)
        if red.ndim == 2:
            red[self.by, self.bx] = to_channels(means.T[None], 1, means[:, None])[0]
        else:
            red[:, self.by, self.bx] = means
        return red


#: A frame is box-reduced before the resize when it is at least this many times the input size.
REDUCE_FROM = 3.5


def reduce_factor(size_hw: tuple[int, int], out_hw: tuple[int, int]) -> int:
    """The integer block size by which a ``size_hw`` image is box-reduced before its antialiased resize
    to ``out_hw`` (1: none): ``floor(scale / 1.5)`` for a downscale ``scale`` >= :data:`REDUCE_FROM` on
    both axes, so that at least 1.5x of the downscale is left to the triangle filter. Full-resolution
    scanner screens (a 640x480 fan to 128 px) are reduced 2x, 1024x768 ones 3-4x; training stills and
    frames under 3.5x the input (a 320x240 cine at 128 px) never."""
    scale = min(size_hw[0] / out_hw[0], size_hw[1] / out_hw[1])
    return int(scale / 1.5) if scale >= REDUCE_FROM else 1


def box_reduce(a: np.ndarray, k: int) -> np.ndarray:
    """float32 means of ``k`` x ``k`` blocks of a uint8 (..., H, W) array (cropped to a multiple of
    ``k``): sums in integers, exact, times ``1 / k^2``. For k = 2 the pairs of a row are summed through
    a uint16 view of the bytes (``(v & 255) + (v >> 8)``: contiguous, ~1.6x faster than strided adds)."""
    h, w = a.shape[-2] // k * k, a.shape[-1] // k * k
    a = a[..., :h, :w]
    if k == 2 and a.strides[-1] == 1 and sys.byteorder == "little":
        u = a.view(np.uint16)
        cols = (u & 255) + (u >> 8)
        sums = cols[..., 0::2, :] + cols[..., 1::2, :]
    else:
        sums = block_sums(a, k)
    return sums.astype(np.float32) * np.float32(1.0 / (k * k))


def block_sums(a: np.ndarray, k: int) -> np.ndarray:
    """Exact integer sums of ``k`` x ``k`` blocks of a uint8 or boolean (..., H, W) array (cropped to a
    multiple of ``k``): the ``k`` rows of each block added first (whole rows: one pass over the
    pixels), then the columns; uint16, or uint32 where ``k * k * 255`` would not fit."""
    h, w = a.shape[-2] // k * k, a.shape[-1] // k * k
    rows = a[..., 0:h:k, :w].astype(_sum_dtype(k))
    for i in range(1, k):
        rows += a[..., i:h:k, :w]
    return _column_sums(rows, k)


def _sum_dtype(k: int) -> type:
    return np.uint16 if k * k * 255 < 65536 else np.uint32


def _column_sums(rows: np.ndarray, k: int) -> np.ndarray:
    """Sums of ``k`` adjacent columns (the last axis, a multiple of ``k`` long)."""
    sums = rows[..., 0::k].copy()
    for j in range(1, k):
        sums += rows[..., j::k]
    return sums


def box_reduce_rgb(image: np.ndarray, k: int) -> np.ndarray:
    """float32 (3, H/k, W/k): :func:`box_reduce` of an interleaved HxWx3 uint8 image's channel planes,
    without de-interleaving the full image: the ``k`` rows of each block are summed first on the
    interleaved rows (contiguous), the sums (a ``k``-th of the rows) de-interleaved, then the columns
    summed (for k = 2 through a uint32 view of the uint16 pairs). The same integer sums, the same
    numbers."""
    h, w = image.shape[0] // k * k, image.shape[1] // k * k
    a = image[:h, :w]
    acc = _sum_dtype(k)
    rows = a[0::k].astype(acc)
    for i in range(1, k):
        rows += a[i::k]
    planes = np.ascontiguousarray(np.moveaxis(rows, 2, 0))  # (3, h/k, w)
    if k == 2 and acc is np.uint16 and sys.byteorder == "little":
        u = planes.view(np.uint32)
        sums = (u & 0xFFFF) + (u >> 16)
    else:
        sums = _column_sums(planes, k)
    return sums.astype(np.float32) * np.float32(1.0 / (k * k))


def softmax(logits: np.ndarray, axis: int = -1, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax of ``logits / temperature`` along ``axis``, in the logits' dtype.

    ``p_k = exp(z_k - max z) / sum_j exp(z_j - max z)`` with ``z = logits / T``; rtecho's only softmax
    (the stream's classify stage, evaluation and temperature calibration all call it).

    >>> softmax(np.array([0.0, np.log(3.0)])).round(3).tolist()
    [0.25, 0.75]
    """
    if temperature != 1.0:
        logits = logits / temperature
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)
