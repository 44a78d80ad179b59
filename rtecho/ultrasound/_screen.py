"""One screen frame and its downsampled copies, each computed once (shared by the ultrasound stages).

The sector tracker and the card's preprocessing work on the frame's brightest channel, its block
means and its planes; a :class:`ScreenFrame` computes each of these once per frame and factor,
straight from the uint8 pixels (no full-size float copy). The mode gate reads :meth:`ScreenFrame.grid`,
the grid its model was fitted on: on frames of 480 px and more (long side) it is the block means of
every other pixel, a grid of its own (a 640x480 frame: 2x2 means of the 320x240 subsample, where the
tracker has 4x4 means of all pixels), computed from the same brightest-channel image; on smaller
frames where the two block sizes agree it is the tracker's grid itself. :meth:`ScreenFrame.check` is
the grid of the per-frame tests (the tracker's border check, the gate's blank and frozen tests):
the gate's grid, or on frames of 960 px and more block means of the 4x subsample, taken from the
interleaved pixels, so that a live frame whose fan is known is never de-interleaved
(:meth:`ScreenFrame.planes`) or made grey at full size, nor even at half size.

>>> import numpy as np
>>> fr = ScreenFrame(np.full((8, 8, 3), 9, np.uint8))
>>> fr.small(4).shape, float(fr.small(4)[0, 0]), fr.small(4) is fr.small(4)
((2, 2), 9.0, True)
"""

from __future__ import annotations

import numpy as np

from rtecho.types import check_image
from rtecho.ultrasound._geom import block_factor, block_mean, channel_max

#: The block-mean grid size (long side) of the per-frame tests (:meth:`ScreenFrame.check`): the mode
#: gate's grid, which the sector tracker's border check shares.
CHECK_TARGET = 160


class ScreenFrame:
    """``image`` (uint8 HxW or HxWx3) with lazily computed, cached downsampled views."""

    __slots__ = (
        "_check",
        "_gray",
        "_grid",
        "_half_gray",
        "_planes",
        "_small",
        "image",
        "shared",
        "size_hw",
    )

    def __init__(self, image: np.ndarray, check: bool = True) -> None:
        """``check=False``: ``image`` was checked already (a :class:`~rtecho.types.Frame`'s)."""
        self.image = check_image(image) if check else image
        self.size_hw = (int(self.image.shape[0]), int(self.image.shape[1]))
        self._gray: np.ndarray | None = None
        self._half_gray: np.ndarray | None = None
        self._planes: np.ndarray | None = None
        self._small: dict[int, np.ndarray] = {}
        self._grid: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        self._check: dict[int, tuple[np.ndarray, int]] = {}
        #: what the frame's preprocessors share (:meth:`Preprocessor.apply <rtecho.runtime.preprocess.Preprocessor.apply>`)
        self.shared: dict = {}

    @classmethod
    def of(cls, image: np.ndarray | ScreenFrame) -> ScreenFrame:
        """``image`` itself when it is a ScreenFrame already, else a new one around it."""
        return image if isinstance(image, ScreenFrame) else cls(image)

    def planes(self) -> np.ndarray:
        """uint8 3xHxW: the channels of an RGB frame as contiguous planes (one pass de-interleaves
        them; per-pixel maths on planes is several times faster than on the interleaved image)."""
        if self.image.ndim != 3:
            raise ValueError("planes() needs an RGB frame")
        if self._planes is None:
            self._planes = np.ascontiguousarray(np.moveaxis(self.image, 2, 0))
        return self._planes

    def planes_if_computed(self) -> np.ndarray | None:
        """:meth:`planes` when something needed them already, else None (the card's preprocessing
        then works on the interleaved pixels of its crop only)."""
        return self._planes

    def gray(self) -> np.ndarray:
        """uint8 HxW: the brightest channel of each pixel (colour Doppler counts as content)."""
        if self._gray is None:
            if self.image.ndim == 2:
                self._gray = self.image
            else:
                p = self.planes()
                self._gray = np.maximum(p[0], p[1])
                np.maximum(self._gray, p[2], out=self._gray)
        return self._gray

    def small(self, f: int) -> np.ndarray:
        """float32 means of ``f`` x ``f`` blocks of :meth:`gray` (as ``block_mean(gray(image), f)``)."""
        out = self._small.get(f)
        if out is None:
            out = self._small[f] = block_mean(self.gray(), f)
            out.setflags(write=False)
        return out

    def check(self, target: int = CHECK_TARGET) -> tuple[np.ndarray, int]:
        """(float32 grey block means about ``target`` px on the long side, the block size in frame
        pixels): the grid of the per-frame tests (the sector tracker's border check, the mode gate's
        blank and frozen tests). Frames of 6x ``target`` and more (long side): means of blocks of the
        4x subsample (:meth:`quarter_gray`, a 16th of the pixels, no full-size pass); smaller ones:
        :meth:`grid` (the 2x subsample from 3x ``target``, all pixels below)."""
        out = self._check.get(target)
        if out is None:
            if max(self.size_hw) >= 6 * target:
                g = self.quarter_gray()
                f = block_factor(g.shape, target)
                small = block_mean(g, f)
                small.setflags(write=False)
                out = (small, 4 * f)
            else:
                small, _, f = self.grid(target)
                out = (small, 2 * f if self._half(target) else f)
            self._check[target] = out
        return out

    def quarter_gray(self) -> np.ndarray:
        """uint8: the brightest channel of every 4th pixel of every 4th row (``gray()[::4, ::4]``)."""
        if self._half_gray is not None or self._gray is not None or self.image.ndim == 2:
            return self.half_gray()[::2, ::2]
        return channel_max(self.image[::4, ::4])

    def half_gray(self) -> np.ndarray:
        """uint8: the brightest channel of every other pixel of every other row (``gray()[::2, ::2]``;
        from the interleaved pixels when :meth:`gray` was not needed, a quarter of its work)."""
        if self._half_gray is None:
            if self._gray is not None or self.image.ndim == 2:
                self._half_gray = self.gray()[::2, ::2]
            else:
                self._half_gray = channel_max(self.image[::2, ::2])
        return self._half_gray

    def grid(self, target: int = 160) -> tuple[np.ndarray, np.ndarray, int]:
        """(float32 grey block means about ``target`` px on the long side, the pixels they came from,
        block size): frames of 3x ``target`` and more are first subsampled 2x (every other row and
        column), so the block means stay means of many pixels at a quarter of the cost. The same
        numbers as ``block_mean(gray(sub), f)`` (:func:`rtecho.ultrasound._geom.gray`)."""
        out = self._grid.get(target)
        if out is None:
            half = self._half(target)
            sub = self.image[::2, ::2] if half else self.image
            f = block_factor(sub.shape[:2], target)
            if half:
                small = block_mean(self.half_gray(), f)
                small.setflags(write=False)
            else:
                small = self.small(f)
            out = self._grid[target] = (small, sub, f)
        return out

    def grid_gray(self, target: int = 160) -> np.ndarray:
        """uint8: the brightest channel of :meth:`grid`'s pixels (a view of :meth:`gray`; as
        ``channel_max(sub)``)."""
        return self.half_gray() if self._half(target) else self.gray()

    def _half(self, target: int) -> bool:
        return max(self.size_hw) >= 3 * target
