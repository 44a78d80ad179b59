"""Frames a host already holds in memory (a numpy stack or a list of images) as a source.

>>> import numpy as np
>>> src = ArraySource(np.zeros((3, 8, 10), np.uint8), fps=25.0)
>>> [(f.index, f.timestamp) for f in src]
[(0, 0.0), (1, 0.04), (2, 0.08)]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from rtecho.errors import SourceError
from rtecho.io.base import Source
from rtecho.types import Frame, SourceInfo


class ArraySource(Source):
    """Frame ``i`` is ``frames[i]`` (HxW or HxWx3 uint8, checked when its Frame is made) at ``i / fps`` s."""

    kind = "array"

    def __init__(
        self, frames: np.ndarray | Sequence[np.ndarray], fps: float = 30.0, uri: str = "array://"
    ) -> None:
        if not fps or fps <= 0:
            raise SourceError(f"{uri}: fps must be positive, got {fps!r}")
        if len(frames) == 0:
            raise SourceError(f"{uri}: no frames")
        self._frames_in = frames
        size = tuple(int(v) for v in np.shape(frames[0])[:2])
        super().__init__(
            SourceInfo(
                uri=uri, kind=self.kind, fps=float(fps), size_hw=size, n_frames=len(frames), live=False
            )
        )

    def _frames(self) -> Iterator[Frame]:
        fps = self.info.fps
        for i, image in enumerate(self._frames_in):
            yield Frame(image, index=i, timestamp=i / fps, source=self.info)
