"""A folder of still images (png, jpg, jpeg, bmp, tif, tiff) played as a stream, in natural order.

``frame_2.png`` comes before ``frame_10.png``. Timestamps are ``index / fps``. Images are read
with OpenCV; colour images become RGB, gray stay gray, 16-bit images are scaled to 8 bits.

>>> from rtecho.io import FolderSource
>>> with FolderSource("frames/", fps=25) as src:  # doctest: +SKIP
...     print(src.info.n_frames)
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rtecho._lazy import require
from rtecho.errors import SourceError
from rtecho.io.base import Source
from rtecho.types import Frame, SourceInfo

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders digit runs by value: ``a2 < a10``."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def list_images(directory: str | Path) -> list[Path]:
    """The image files directly in ``directory``, in natural order (hidden files skipped)."""
    directory = Path(directory)
    try:
        entries = list(directory.iterdir())
    except OSError as exc:
        raise SourceError(f"cannot list image folder {directory}: {exc.strerror or exc}") from exc
    files = [
        p
        for p in entries
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: Path, cv2: Any) -> np.ndarray:
    """One image file as uint8 HxW gray or HxWx3 RGB; SourceError naming the file when unreadable."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise SourceError(f"cannot decode image {path} (corrupt or not an image)")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise SourceError(f"unsupported image type {image.dtype} in {path}")
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    return image


class FolderSource(Source):
    """Images of a folder (or one image file) as frames, ``fps`` (default 30) setting the timestamps."""

    kind = "folder"

    def __init__(self, path: str | Path, *, fps: float = 30.0) -> None:
        cv2 = require("cv2", "video", "reading image files")
        p = Path(os.fspath(path))
        if not p.exists():
            raise SourceError(f"image folder not found: {p}")
        if p.is_dir():
            files = list_images(p)
            if not files:
                exts = ", ".join(sorted(IMAGE_EXTENSIONS))
                raise SourceError(f"image folder {p} holds no images ({exts})")
        elif p.suffix.lower() in IMAGE_EXTENSIONS:
            files = [p]
        else:
            raise SourceError(f"{p} is neither a folder nor an image file")
        if not (fps > 0 and np.isfinite(fps)):
            raise SourceError(f"fps must be positive, got {fps}")
        self._files = files
        self._cv2 = cv2
        first = read_image(files[0], cv2)  # size, and fail early on a bad first image
        super().__init__(
            SourceInfo(
                uri=str(p),
                kind=self.kind,
                fps=float(fps),
                size_hw=(int(first.shape[0]), int(first.shape[1])),
                n_frames=len(files),
                live=False,
                extra={"files": len(files)},
            )
        )

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    def _frames(self) -> Iterator[Frame]:
        info = self.info
        for index, path in enumerate(self._files):
            t0 = time.perf_counter()
            image = read_image(path, self._cv2)
            arrival = time.perf_counter()
            yield Frame(
                image,
                index=index,
                timestamp=index / info.fps if info.fps else 0.0,
                arrival=arrival,
                decode_ms=(arrival - t0) * 1e3,
                source=info,
            )
