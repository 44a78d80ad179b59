"""A folder of still images (png, jpg, jpeg, bmp, tif, tiff) played as a stream, in natural order.

``frame_2.png`` comes before ``frame_10.png``. Timestamps are ``index / fps``. Images are read by
:func:`rtecho.io.image.read_image` (Pillow), as training reads them: colour becomes RGB, grey stays
grey, 16-bit images keep their top 8 bits.

>>> from rtecho.io import FolderSource
>>> with FolderSource("frames/", fps=25) as src:  # doctest: +SKIP
...     print(src.info.n_frames)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rtecho._lazy import require
from rtecho.errors import SourceError
from rtecho.io.base import Source
from rtecho.io.image import IMAGE_EXTENSIONS, list_images, natural_key, read_image
from rtecho.types import Frame, SourceInfo

__all__ = ["IMAGE_EXTENSIONS", "FolderSource", "list_images", "natural_key", "read_image"]


class FolderSource(Source):
    """Images of a folder (or one image file) as frames, ``fps`` (default 30) setting the timestamps."""

    kind = "folder"

    def __init__(self, path: str | Path, *, fps: float = 30.0) -> None:
        require("PIL.Image", "video", "reading image files")  # a missing extra fails at open time
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
        first = read_image(files[0])  # size, and fail early on a bad first image
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
            image = read_image(path)
            arrival = time.perf_counter()
            yield Frame(
                image,
                index=index,
                timestamp=index / info.fps if info.fps else 0.0,
                arrival=arrival,
                decode_ms=(arrival - t0) * 1e3,
                source=info,
            )
