"""Segmenter output back to the source frame (numpy only).

A segmentation engine gives per-pixel logits (N, K, h, w) at its input size for the crop ``roi`` =
(top, left, height, width) of the source frame that the :class:`~rtecho.runtime.preprocess.Preprocessor`
resized. The mask of label ``k`` against background is ``logits[k] - logits[0] > 0`` (the two-class
softmax's decision), with the logit difference resized to the crop by the same antialiased bilinear
:func:`~rtecho.runtime.preprocess.resize` and placed in a frame-sized array (outside the crop: False).

>>> import numpy as np
>>> z = np.zeros((2, 4, 4), np.float32); z[1, 1:3, 1:3] = 5.0
>>> mask_to_source(z, (2, 2, 8, 8), (12, 12)).sum() > 0
True
"""

from __future__ import annotations

import numpy as np

from rtecho.runtime.preprocess import resize


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
