"""Segmenter output back to the source frame (numpy only).

A segmentation engine gives per-pixel logits (N, K, h, w) at its input size for the crop ``roi`` =
(top, left, height, width) of the source frame that the :class:`~rtecho.runtime.preprocess.Preprocessor`
resized. The mask of label ``k`` against background is ``logits[k] - logits[0] > 0`` (the two-class
softmax's decision), with the logit difference resized to the crop by the same antialiased bilinear
:func:`~rtecho.runtime.preprocess.resize` and placed in a frame-sized array (outside the crop: False).

>>> import numpy as np
>>> z = np.zeros((2, 4, 4), np.float32); z[1, 1:3, 1:3] = 5.0
>>> bool(mask_to_source(z, (2, 2, 8, 8), (12, 12)).sum() > 0)
True
"""

from __future__ import annotations

import numpy as np

from rtecho.runtime.preprocess import resize, resize_taps


def mask_to_source(
    logits: np.ndarray, roi: tuple[int, int, int, int] | None, frame_hw: tuple[int, int], label: int = 1
) -> np.ndarray:
    """(K, h, w) logits of the crop ``roi`` (None: the whole frame) -> bool mask of the source frame."""
    if logits.ndim != 3 or logits.shape[0] < 2:
        raise ValueError(f"expected (K, h, w) logits with K >= 2, got shape {logits.shape}")
    top, left, hh, ww = roi if roi is not None else (0, 0, *frame_hw)
    d = resize(np.ascontiguousarray(logits[label] - logits[0], np.float32), (hh, ww))
    out = np.zeros(frame_hw, bool)
    out[top : top + hh, left : left + ww] = d > 0
    return out


def resize_window(
    image: np.ndarray, size_hw: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]
) -> np.ndarray:
    """Rows ``rows[0]:rows[1]`` and columns ``cols[0]:cols[1]`` of ``resize(image, size_hw)`` (2-D),
    computing only those: the same taps, weights and order of operations, so bit for bit the same values.

    >>> z = np.random.default_rng(0).random((7, 9)).astype(np.float32)
    >>> bool((resize_window(z, (20, 30), (3, 11), (5, 17)) == resize(z, (20, 30))[3:11, 5:17]).all())
    True
    """
    yi, yw = resize_taps(image.shape[0], size_hw[0])
    xi, xw = resize_taps(image.shape[1], size_hw[1])
    r, c = slice(*rows), slice(*cols)
    yi, yw, xi, xw = yi[:, r], yw[:, r], xi[:, c], xw[:, c]
    out_rows = image[yi[0]] * yw[0][:, None]
    for k in range(1, len(yi)):
        out_rows += image[yi[k]] * yw[k][:, None]
    out = out_rows[:, xi[0]] * xw[0]
    for k in range(1, len(xi)):
        out += out_rows[:, xi[k]] * xw[k]
    return out.astype(np.float32, copy=False)


def window_of(n_in: int, n_out: int, lo: int, hi: int) -> tuple[int, int]:
    """The output range ``[a, b)`` of a resize ``n_in -> n_out`` whose taps reach input ``lo..hi``
    (inclusive): every output outside it is a mix of inputs outside ``lo..hi`` only."""
    idx, _ = resize_taps(n_in, n_out)
    hit = np.flatnonzero(((idx >= lo) & (idx <= hi)).any(axis=0))
    return (int(hit[0]), int(hit[-1]) + 1) if hit.size else (0, 0)
