"""Video files through PyAV (FFmpeg): MP4/H.264, AVI/MJPEG (as EchoNet-Dynamic ships), GIF, ...

>>> from rtecho.io import VideoSource
>>> with VideoSource("clip.mp4") as src:  # doctest: +SKIP
...     for frame in src:
...         print(frame.index, frame.timestamp, frame.image.shape)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from rtecho._lazy import require
from rtecho.errors import SourceError
from rtecho.io.base import Source, existing_file
from rtecho.types import Frame, SourceInfo

#: FFmpeg pixel formats without colour: decoded to HxW gray, everything else to HxWx3 RGB.
_GRAY_FORMATS = frozenset({"gray", "gray10le", "gray12le", "gray16le", "gray16be", "ya8", "monob", "monow"})


def _av() -> Any:
    return require("av", "video", "reading video files")


def _fps(stream: Any) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    return None


class VideoSource(Source):
    """Frames of a video file, decoded one at a time with PyAV.

    ``threads``: FFmpeg decoder threads (0 = automatic). Slice threading only: frame threading
    would hold frames back and add latency. ``strict``: raise SourceError when the file yields
    fewer frames than its header declares (a truncated file).
    Timestamps are presentation times (pts) in seconds; RGB sources stay RGB, gray ones gray.
    """

    kind = "video"

    def __init__(self, path: str | Path, *, threads: int = 0, strict: bool = True) -> None:
        av = _av()
        self._path = existing_file(path, "video file")
        self._threads = threads
        self._strict = strict
        self._container: Any = None
        self._container = self._open(av)
        stream = self._container.streams.video[0]
        if stream.codec_context is None:
            self._container.close()
            raise SourceError(
                f"cannot decode video {self._path}: unsupported codec (FFmpeg has no decoder for it)"
            )
        n = int(stream.frames or 0)
        fps = _fps(stream)
        size = (int(stream.codec_context.height), int(stream.codec_context.width))
        extra = {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "container": self._container.format.name,
            "threading": stream.thread_type.name,  # SLICE: frame threading would hold frames back
        }
        super().__init__(
            SourceInfo(
                uri=self._path,
                kind=self.kind,
                fps=fps,
                size_hw=size if min(size) > 0 else None,
                n_frames=n or None,
                live=False,
                extra=extra,
            )
        )

    def _open(self, av: Any) -> Any:
        try:
            container = av.open(self._path, mode="r")
        except av.FFmpegError as exc:
            raise SourceError(
                f"cannot open video {self._path}: {_reason(exc)} (not a video, or corrupt/truncated)"
            ) from exc
        except OSError as exc:
            raise SourceError(f"cannot open video {self._path}: {exc.strerror or exc}") from exc
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self._path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        stream.thread_count = self._threads
        return container

    def _frames(self) -> Iterator[Frame]:
        av = _av()
        container, self._container = self._container, None
        if container is None:  # a second iteration: open the file again
            container = self._open(av)
        stream = container.streams.video[0]
        info = self.info
        period = info.frame_period
        time_base: Fraction | None = stream.time_base
        index = 0
        try:
            decoded = container.decode(stream)
            while True:
                t0 = time.perf_counter()
                try:
                    vframe = next(decoded)
                except StopIteration:
                    break
                except av.FFmpegError as exc:
                    raise SourceError(
                        f"video {self._path} is corrupt or truncated: decoding stopped after "
                        f"{index} frames ({_reason(exc)})"
                    ) from exc
                fmt = "gray" if vframe.format.name in _GRAY_FORMATS else "rgb24"
                image = vframe.to_ndarray(format=fmt)
                arrival = time.perf_counter()
                if vframe.pts is not None and time_base is not None:
                    timestamp = float(vframe.pts * time_base)
                else:
                    timestamp = index * (period or 0.0)
                yield Frame(
                    image,
                    index=index,
                    timestamp=timestamp,
                    arrival=arrival,
                    decode_ms=(arrival - t0) * 1e3,
                    source=info,
                )
                index += 1
        finally:
            container.close()
        if self._strict and info.n_frames is not None and index < info.n_frames:
            raise SourceError(
                f"video {self._path} is truncated: decoded {index} of {info.n_frames} declared frames "
                f"(stopped after {index} frames)"
            )

    def _release(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def _reason(exc: BaseException) -> str:
    """The FFmpeg message without PyAV's '[Errno N] ... : path' decoration, on one line."""
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())
