"""The search's data: a labelled folder's stills as network inputs, held in memory.

``root/LABEL/*.png|jpg|...`` with VIEWS.md labels, listed by :func:`rtecho.io.labelled.scan_labelled`
and read by :func:`rtecho.io.image.read_image`, as training and the runtime do; classes are the
folder's labels in VIEWS.md order. Every still goes through the runtime's Preprocessor for a grey
``size`` x ``size`` input normalised with :data:`MEAN`/:data:`STD` (the echo grey statistics of
the model zoo). DARTS searches on the training set split into two halves: one trains the weights,
the other the alphas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtecho.io.image import ImageError, read_image
from rtecho.io.labelled import DatasetError, label_order, scan_labelled
from rtecho.runtime.preprocess import Preprocessor

#: the search's input normalisation (grey, 0..1 scale)
MEAN, STD = (0.5,), (0.25,)

#: kept for callers of the former name: the search's data errors are the datasets' errors
SearchDataError = DatasetError


def load_image_folder(
    root: str | Path, size: int, max_per_class: int | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Inputs (N, 1, size, size) float32, labels (N,) int64 and class names from a labelled folder.

    ``max_per_class`` keeps the first stills of each class (natural order).
    """
    samples = scan_labelled(root, clips=False)
    classes = label_order(str(s.label) for s in samples)
    if len(classes) < 2:
        raise DatasetError(f"{root} needs at least two label folders with images, found {list(classes)}")
    pre = Preprocessor.for_input((size, size), 1, MEAN, STD)
    index = {v: k for k, v in enumerate(classes)}
    by_class: dict[str, list[Path]] = {v: [] for v in classes}
    for s in samples:
        by_class[str(s.label)].append(s.path)
    inputs, labels = [], []
    for name in classes:
        for path in by_class[name][:max_per_class]:
            try:
                inputs.append(pre(read_image(path)))
            except ImageError as exc:
                raise DatasetError(str(exc)) from None
            labels.append(index[name])
    return np.concatenate(inputs), np.asarray(labels, dtype=np.int64), classes


def split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random permutation of range(n) cut into a weight-training half and an alpha-validation half."""
    perm = np.random.default_rng(seed).permutation(n)
    return perm[: n // 2], perm[n // 2 :]
