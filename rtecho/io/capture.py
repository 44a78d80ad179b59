"""Live capture devices through OpenCV: ``/dev/videoN``, an integer index or ``cam:N``.

Frames are converted from OpenCV's BGR to RGB. Timestamps are arrival times in seconds since
the first frame (a webcam or frame grabber has no usable clock of its own through OpenCV).

>>> from rtecho.io import CaptureSource
>>> with CaptureSource("cam:0") as cam:  # doctest: +SKIP
...     frame = next(iter(cam))
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

from rtecho._lazy import require
from rtecho.errors import SourceError
from rtecho.io.base import Source
from rtecho.types import Frame, SourceInfo

_DEVICE = re.compile(r"^(?:cam:)?(\d+)$")


def parse_device(device: int | str) -> tuple[int | str, str]:
    """``(what to pass to cv2.VideoCapture, uri)`` for ``3``, ``"cam:3"``, ``"3"`` or ``"/dev/video3"``."""
    if isinstance(device, bool):
        raise SourceError(f"not a capture device: {device!r}")
    if isinstance(device, int):
        if device < 0:
            raise SourceError(f"capture device index must be >= 0, got {device}")
        return device, f"cam:{device}"
    text = str(device).strip()
    match = _DEVICE.match(text)
    if match:
        return int(match.group(1)), f"cam:{int(match.group(1))}"
    if text.startswith("/dev/"):
        return text, text
    raise SourceError(f"not a capture device: {device!r} (use an index, 'cam:N' or '/dev/videoN')")


class CaptureSource(Source):
    """Frames from a camera or frame grabber (``live=True``).

    ``size_hw`` and ``fps`` are requested from the driver (it may ignore them; ``info`` reports
    what the device says it delivers). A device that cannot be opened raises SourceError at once;
    a device that stops delivering frames (unplugged) raises SourceError naming it.
    """

    kind = "capture"

    def __init__(
        self,
        device: int | str = 0,
        *,
        size_hw: tuple[int, int] | None = None,
        fps: float | None = None,
    ) -> None:
        cv2 = require("cv2", "video", "reading capture devices")
        target, uri = parse_device(device)
        self._uri = uri
        if isinstance(target, str) and not os.path.exists(target):
            raise SourceError(f"capture device {uri} does not exist")
        if (
            isinstance(target, int)
            and sys.platform.startswith("linux")
            and not os.path.exists(f"/dev/video{target}")
        ):
            raise SourceError(f"capture device {uri} does not exist (no /dev/video{target})")
        # no open-timeout parameter: a backend that does not support one refuses to open at all
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open capture device {uri} (busy, unsupported or no permission)")
        if size_hw is not None:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size_hw[0])
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, size_hw[1])
        if fps is not None:
            cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap: Any = cap
        self._cv2 = cv2
        h, w = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        reported = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        super().__init__(
            SourceInfo(
                uri=uri,
                kind=self.kind,
                fps=reported if 0 < reported < 1000 else fps,
                size_hw=(h, w) if h > 0 and w > 0 else None,
                n_frames=None,
                live=True,
                extra={"backend": str(cap.getBackendName())},
            )
        )

    def _frames(self) -> Iterator[Frame]:
        cv2, cap, info = self._cv2, self._cap, self.info
        index = 0
        start: float | None = None
        while True:
            t0 = time.perf_counter()
            ok, image = cap.read()
            arrival = time.perf_counter()
            if self.closed:
                return
            if not ok or image is None:
                raise SourceError(
                    f"capture device {self._uri} stopped delivering frames after {index} frames "
                    "(disconnected or in use by another program)"
                )
            if image.ndim == 3 and image.shape[2] == 4:
                image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
            elif image.ndim == 3:
                image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            if start is None:
                start = arrival
            yield Frame(
                image,
                index=index,
                timestamp=arrival - start,
                arrival=arrival,
                decode_ms=(arrival - t0) * 1e3,
                source=info,
            )
            index += 1

    def _release(self) -> None:
        self._cap.release()
