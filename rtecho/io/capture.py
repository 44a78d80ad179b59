"""Live capture devices through PyAV (FFmpeg's libavdevice): V4L2 on Linux, AVFoundation on macOS,
DirectShow on Windows.

Devices: an index ``N`` or ``cam:N`` (``/dev/videoN`` on Linux, AVFoundation's video device N on
macOS), a path ``/dev/videoN`` (Linux) or ``video=NAME`` (Windows: DirectShow names its devices;
``ffmpeg -list_devices true -f dshow -i dummy`` lists them). ``format=`` opens any other FFmpeg
input as a live source (``lavfi``, ``x11grab``, ``rawvideo`` from a pipe), which is also how the
tests stand in for a device.

Frames are RGB. Timestamps are arrival times in seconds since the first frame, as a scanner's
screen seen through a grabber has no clock of its own worth trusting.

>>> from rtecho.io import CaptureSource
>>> with CaptureSource("cam:0", size_hw=(480, 640), fps=30) as cam:  # doctest: +SKIP
...     frame = next(iter(cam))
>>> with CaptureSource("testsrc2=size=64x48:rate=30", format="lavfi") as fake:
...     next(iter(fake)).image.shape
(48, 64, 3)
"""

from __future__ import annotations

import errno
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from rtecho._lazy import require
from rtecho.errors import SourceError
from rtecho.io.base import Source
from rtecho.types import Frame, SourceInfo

_DEVICE = re.compile(r"^(?:cam:)?(\d+)$")

#: FFmpeg's capture input for each platform (``sys.platform`` prefix).
PLATFORM_FORMATS = {"linux": "v4l2", "darwin": "avfoundation", "win32": "dshow"}

#: The option that asks a device for a pixel format or codec (``mjpeg``, ``yuyv422``, ...).
_INPUT_FORMAT_OPTION = {"v4l2": "input_format", "avfoundation": "pixel_format", "dshow": "pixel_format"}


def platform_format(platform: str | None = None) -> str | None:
    """FFmpeg's capture input on ``platform`` (default: this one), or None where there is none."""
    platform = sys.platform if platform is None else platform
    return next((f for prefix, f in PLATFORM_FORMATS.items() if platform.startswith(prefix)), None)


def parse_device(device: int | str, platform: str | None = None) -> tuple[str, str, str]:
    """``(url for av.open, uri, FFmpeg input format)`` of a capture device on ``platform``.

    >>> parse_device("cam:3", "linux")
    ('/dev/video3', 'cam:3', 'v4l2')
    >>> parse_device(1, "darwin")
    ('1:none', 'cam:1', 'avfoundation')
    """
    platform = sys.platform if platform is None else platform
    fmt = platform_format(platform)
    if isinstance(device, bool):
        raise SourceError(f"not a capture device: {device!r}")
    if isinstance(device, int):
        if device < 0:
            raise SourceError(f"capture device index must be >= 0, got {device}")
        index: int | None = device
        text = str(device)
    else:
        text = str(device).strip()
        match = _DEVICE.match(text)
        index = int(match.group(1)) if match else None
    if index is not None:
        uri = f"cam:{index}"
        if fmt == "v4l2":
            return f"/dev/video{index}", uri, fmt
        if fmt == "avfoundation":
            return f"{index}:none", uri, fmt  # video device N, no audio
        if fmt == "dshow":
            raise SourceError(
                f"{uri}: DirectShow devices are opened by name: use 'video=NAME' "
                "(list them with: ffmpeg -list_devices true -f dshow -i dummy)"
            )
        raise SourceError(f"no capture-device input known for platform {platform!r} (pass format=)")
    if fmt == "v4l2" and text.startswith("/dev/"):
        return text, text, fmt
    if fmt == "dshow" and text.startswith("video="):
        return text, text, fmt
    raise SourceError(
        f"not a capture device: {device!r} (use an index, 'cam:N', '/dev/videoN' on Linux "
        "or 'video=NAME' on Windows)"
    )


class CaptureSource(Source):
    """Frames from a camera or frame grabber (``live=True``: the processor keeps only the latest).

    ``size_hw``, ``fps`` and ``input_format`` (``mjpeg``, ``yuyv422``, ...) are asked of the
    driver (``video_size``, ``framerate``, ``input_format``/``pixel_format``); ``options`` passes
    any other FFmpeg input option and wins over those. ``info`` reports what the device delivers.
    ``format`` names the FFmpeg input instead of the platform's (then ``device`` is its url).
    A device that cannot be opened raises SourceError at once; one that stops delivering frames
    (unplugged, or its stream ends) ends the iteration with a SourceError that names it and says
    how many frames it delivered. A device that stalls while still present blocks the read, as
    in FFmpeg's own tools.
    """

    kind = "capture"

    def __init__(
        self,
        device: int | str = 0,
        *,
        size_hw: tuple[int, int] | None = None,
        fps: float | None = None,
        input_format: str | None = None,
        format: str | None = None,  # av.open's name for it
        options: Mapping[str, str] | None = None,
    ) -> None:
        av = require("av", "video", "reading capture devices")
        if format is None:
            url, uri, fmt = parse_device(device)
            _check_exists(url, uri, fmt)
        else:
            url, fmt = str(device), format
            uri = f"{fmt}:{url}"
        self._uri = uri
        self._av = av
        opts: dict[str, str] = {}
        if size_hw is not None:
            opts["video_size"] = f"{int(size_hw[1])}x{int(size_hw[0])}"
        if fps is not None:
            opts["framerate"] = f"{float(fps):g}"
        if input_format is not None:
            opts[_INPUT_FORMAT_OPTION.get(fmt, "pixel_format")] = input_format
        opts.update({str(k): str(v) for k, v in (options or {}).items()})
        self._container: Any = _open(av, url, uri, fmt, opts)
        stream = self._container.streams.video[0]
        stream.thread_type = "SLICE"  # frame threading would hold frames back
        ctx = stream.codec_context
        h, w = int(ctx.height or 0), int(ctx.width or 0)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        reported = float(rate) if rate else 0.0
        super().__init__(
            SourceInfo(
                uri=uri,
                kind=self.kind,
                fps=reported if 0 < reported < 1000 else fps,
                size_hw=(h, w) if h > 0 and w > 0 else None,
                n_frames=None,
                live=True,
                extra={"backend": fmt, "codec": ctx.name, "pix_fmt": ctx.pix_fmt},
            )
        )

    def _frames(self) -> Iterator[Frame]:
        av, info = self._av, self.info
        decoded = self._container.decode(video=0)
        index = 0
        start: float | None = None
        while True:
            t0 = time.perf_counter()
            try:
                vframe = next(decoded)
            except StopIteration:
                vframe, why = None, "its stream ended"
            except (av.FFmpegError, OSError) as exc:
                vframe, why = None, _reason(exc)
            arrival = time.perf_counter()
            if self.closed:
                return
            if vframe is None:
                raise SourceError(
                    f"capture device {self._uri} stopped delivering frames after {index} frames "
                    f"({why}; unplugged, or taken by another program)"
                )
            image = vframe.to_ndarray(format="rgb24")
            if start is None:
                start = arrival
            yield Frame(
                image,
                index=index,
                timestamp=arrival - start,
                arrival=arrival,
                decode_ms=(time.perf_counter() - t0) * 1e3,
                source=info,
            )
            index += 1

    def _release(self) -> None:
        self._container.close()


def _check_exists(url: str, uri: str, fmt: str) -> None:
    """Fail fast on a V4L2 device node that is not there (no FFmpeg call, no probing)."""
    if fmt == "v4l2" and not os.path.exists(url):
        detail = "" if url == uri else f" (no {url})"
        raise SourceError(f"capture device {uri} does not exist{detail}")


def _open(av: Any, url: str, uri: str, fmt: str, options: dict[str, str]) -> Any:
    try:
        container = av.open(url, mode="r", format=fmt, options=options)
    except ValueError as exc:  # PyAV: "no container format 'avfoundation'"
        raise SourceError(
            f"cannot open capture device {uri}: this FFmpeg has no {fmt!r} input ({exc})"
        ) from exc
    except FileNotFoundError as exc:
        raise SourceError(f"capture device {uri} does not exist") from exc
    except PermissionError as exc:
        raise SourceError(f"cannot open capture device {uri}: permission denied") from exc
    except (av.FFmpegError, OSError) as exc:
        if getattr(exc, "errno", None) == errno.EBUSY:
            raise SourceError(f"cannot open capture device {uri}: busy (in use by another program)") from exc
        raise SourceError(
            f"cannot open capture device {uri}: {_reason(exc)} (unsupported or no permission)"
        ) from exc
    if not container.streams.video:
        container.close()
        raise SourceError(f"capture device {uri} has no video stream")
    return container


def _reason(exc: BaseException) -> str:
    """The FFmpeg message without PyAV's '[Errno N] ... : path' decoration, on one line."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())
