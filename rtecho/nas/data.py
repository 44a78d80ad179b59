"""A minimal ImageFolder loader for the search: grey PIL images resized to a square, held in memory.

``root/CLASS/*.png|jpg|...``; classes are the sorted subfolder names. DARTS searches on the training
set split into two halves: one trains the weights, the other the alphas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtecho._lazy import require
from rtecho.errors import RtechoError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class SearchDataError(RtechoError, ValueError):
    """The search data folder is missing, empty or malformed."""


def load_image_folder(
    root: str | Path, size: int, max_per_class: int | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Images (N, size, size) uint8 grey, labels (N,) int64 and class names from an ImageFolder."""
    image_mod = require("PIL.Image", "train", "loading search images")
    root = Path(root)
    if not root.is_dir():
        raise SearchDataError(f"data folder not found: {root}")
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(classes) < 2:
        raise SearchDataError(f"{root} needs at least two class subfolders, found {list(classes)}")
    images, labels = [], []
    for k, name in enumerate(classes):
        files = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SearchDataError(f"class folder {root / name} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        for f in files[:max_per_class]:
            try:
                with image_mod.open(f) as im:
                    im = im.convert("L").resize((size, size), image_mod.BILINEAR)
                    images.append(np.asarray(im, dtype=np.uint8))
            except (OSError, ValueError) as exc:
                raise SearchDataError(f"cannot read image {f}: {exc}") from None
            labels.append(k)
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes


def split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random permutation of range(n) cut into a weight-training half and an alpha-validation half."""
    perm = np.random.default_rng(seed).permutation(n)
    return perm[: n // 2], perm[n // 2 :]
