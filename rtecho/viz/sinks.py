"""Sinks write results out: an annotated MP4, a JSONL log, a callback, or several at once.

Every sink is a context manager with ``write(frame, prediction, image=None)`` and ``close()``;
``close()`` is idempotent and runs on leaving a ``with`` block, also when an exception leaves it.

>>> import numpy as np, tempfile, os, json
>>> from rtecho.types import Frame, Prediction
>>> f = Frame(np.zeros((8, 8), np.uint8), index=3, timestamp=0.1)
>>> p = Prediction(3, 0.1, "A4C", 1, np.array([0.2, 0.8], np.float32), ("A2C", "A4C"), {"infer": 1.0})
>>> path = os.path.join(tempfile.mkdtemp(), "log.jsonl")
>>> with JsonlSink(path, model_name="tiny") as sink:
...     sink.write(f, p)
>>> json.loads(open(path).readline())["label"]
'A4C'
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from rtecho._lazy import require
from rtecho.errors import RtechoError
from rtecho.types import Frame, Prediction, check_image
from rtecho.viz.annotate import Annotator

log = logging.getLogger(__name__)


class SinkError(RtechoError):
    """A sink could not be opened or written (bad path, closed sink, encoder failure)."""


class Sink:
    """Base class: a context manager with ``write`` and an idempotent ``close``."""

    closed: bool = False

    def write(self, frame: Frame | None, prediction: Prediction, image: np.ndarray | None = None) -> None:
        """Write one result; ``image`` is the (annotated) picture to store, if the sink stores pictures.

        ``frame`` is None for an error result that has no frame (an image rejected on arrival).
        """
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release resources; safe to call more than once."""
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise SinkError(f"{type(self).__name__} is closed; cannot write to it")

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except (RtechoError, OSError, ValueError) as close_exc:  # keep the original exception
            log.warning("closing %s after an error failed too: %s", type(self).__name__, close_exc)


def _jsonable(value: Any) -> Any:
    """Replace non-finite floats (not valid JSON) by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class JsonlSink(Sink):
    """One JSON object per line for every result, error results included; no header line.

    Each line is ``prediction.to_dict()`` plus ``source_frame`` (the frame's index) and
    ``onnx_sha256``; ``model`` and ``backend`` are the sink's values when given, else the
    prediction's. Lines are flushed as written unless ``flush_every_line=False``.
    """

    def __init__(
        self,
        path: str | Path,
        model_name: str = "",
        onnx_sha256: str | None = None,
        backend: str = "",
        flush_every_line: bool = True,
    ) -> None:
        if onnx_sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", onnx_sha256):
            raise SinkError(f"onnx_sha256 must be a 64-character hex digest, got {onnx_sha256!r}")
        self.path = Path(path)
        self.model_name = model_name
        self.onnx_sha256 = onnx_sha256
        self.backend = backend
        self.flush_every_line = flush_every_line
        self.n_written = 0
        try:
            self._fh = self.path.open("w", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"cannot open JSONL log {self.path}: {exc.strerror or exc}") from None

    def record(self, frame: Frame | None, prediction: Prediction) -> dict[str, Any]:
        """The dict written for one result (``source_frame`` is the prediction's index without a frame)."""
        index = frame.index if frame is not None else prediction.frame_index
        out: dict[str, Any] = {"source_frame": index, **prediction.to_dict()}
        out["model"] = self.model_name or prediction.model
        out["backend"] = self.backend or prediction.backend
        out["onnx_sha256"] = self.onnx_sha256
        return _jsonable(out)

    def write(self, frame: Frame | None, prediction: Prediction, image: np.ndarray | None = None) -> None:
        self._check_open()
        line = json.dumps(self.record(frame, prediction), allow_nan=False, separators=(",", ":"))
        try:
            self._fh.write(line + "\n")
            if self.flush_every_line:
                self._fh.flush()
        except OSError as exc:
            raise SinkError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
        self.n_written += 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._fh.close()
        except OSError as exc:
            raise SinkError(f"cannot close {self.path}: {exc.strerror or exc}") from None


class CallbackSink(Sink):
    """Calls ``fn(frame, prediction, image)`` for every result (and ``on_close()`` once at close)."""

    def __init__(
        self,
        fn: Callable[[Frame, Prediction, np.ndarray | None], Any],
        on_close: Callable[[], Any] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"CallbackSink needs a callable, got {type(fn).__name__}")
        self.fn = fn
        self.on_close = on_close

    def write(self, frame: Frame | None, prediction: Prediction, image: np.ndarray | None = None) -> None:
        self._check_open()
        self.fn(frame, prediction, image)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.on_close is not None:
            self.on_close()


class MultiSink(Sink):
    """Writes every result to each of ``sinks``; closing closes them all, even when one fails."""

    def __init__(self, *sinks: Sink) -> None:
        for s in sinks:
            if not isinstance(s, Sink):
                raise TypeError(f"MultiSink takes Sink instances, got {type(s).__name__}")
        self.sinks: tuple[Sink, ...] = sinks

    def write(self, frame: Frame | None, prediction: Prediction, image: np.ndarray | None = None) -> None:
        self._check_open()
        for s in self.sinks:
            s.write(frame, prediction, image)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        first: BaseException | None = None
        for s in self.sinks:
            try:
                s.close()
            except (RtechoError, OSError, ValueError) as exc:
                log.warning("closing %s failed: %s", type(s).__name__, exc)
                first = first or exc
        if first is not None:
            raise first


def fit_to(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """``image`` (HxWx3) letterboxed into ``size_hw``: nearest-neighbour scaled to fit, black padding."""
    h, w = image.shape[:2]
    th, tw = size_hw
    if (h, w) == (th, tw):
        return image
    f = min(th / h, tw / w)
    nh, nw = max(1, min(th, round(h * f))), max(1, min(tw, round(w * f)))
    rows = np.minimum((np.arange(nh) + 0.5) * h / nh, h - 1).astype(np.intp)
    cols = np.minimum((np.arange(nw) + 0.5) * w / nw, w - 1).astype(np.intp)
    out = np.zeros((th, tw, 3), np.uint8)
    y0, x0 = (th - nh) // 2, (tw - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = image[rows[:, None], cols[None, :]]
    return out


def pick_encoder(codec: str, available: set[str] | frozenset[str]) -> str:
    """The FFmpeg encoder for ``codec``: h264 -> libx264 when available, else mpeg4."""
    wanted = {"h264": ("libx264", "mpeg4"), "libx264": ("libx264", "mpeg4"), "mpeg4": ("mpeg4",)}
    if codec not in wanted:
        raise SinkError(f"unsupported video codec {codec!r}; use one of {sorted(wanted)}")
    for name in wanted[codec]:
        if name in available:
            return name
    raise SinkError(f"no encoder for {codec!r} in this PyAV build (tried {', '.join(wanted[codec])})")


class VideoSink(Sink):
    """An MP4 of the (annotated) frames through PyAV: H.264 (libx264) or MPEG-4 part 2, yuv420p.

    ``write(frame, prediction, image)`` stores ``image`` when given, else ``annotator``'s drawing of
    the frame when an annotator is set, else the frame itself; a result with neither frame nor
    image (an error on arrival) is skipped and counted in ``n_skipped``. The video size is the first
    image's, padded to even sides; later images of another size are letterboxed into it.
    Timestamps come from the frame index at ``fps`` (gaps from dropped frames are kept).

    >>> # with VideoSink("out.mp4", fps=30, annotator=default_overlay()) as sink:
    >>> #     for frame, pred in results: sink.write(frame, pred)
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        codec: str = "h264",
        annotator: Annotator | None = None,
        crf: int = 23,
        bit_rate: int | None = None,
    ) -> None:
        if isinstance(fps, bool) or not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
            raise SinkError(f"fps must be a positive number, got {fps!r}")
        self._av = require("av", "video", "writing MP4")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise SinkError(f"cannot write video {self.path}: folder {self.path.parent} does not exist")
        self.rate = Fraction(fps).limit_denominator(1001)
        self.encoder = pick_encoder(codec, self._av.codecs_available)
        self.annotator = annotator
        self.crf = crf
        self.bit_rate = bit_rate
        self.size_hw: tuple[int, int] | None = None
        self.n_written = 0
        self.n_skipped = 0
        self._container: Any = None
        self._stream: Any = None
        self._first_index: int | None = None
        self._last_pts = -1

    def _open(self, size_hw: tuple[int, int]) -> None:
        av = self._av
        h, w = size_hw[0] + size_hw[0] % 2, size_hw[1] + size_hw[1] % 2
        try:
            self._container = av.open(str(self.path), mode="w", format="mp4")
        except (OSError, av.FFmpegError) as exc:
            raise SinkError(f"cannot open video {self.path} for writing: {exc}") from None
        stream = self._container.add_stream(self.encoder, rate=self.rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = 1 / self.rate
        if self.encoder == "libx264":
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        else:
            stream.bit_rate = self.bit_rate or max(1_000_000, int(w * h * float(self.rate) * 0.15))
        if self.bit_rate and self.encoder == "libx264":
            stream.bit_rate = self.bit_rate
        self._stream = stream
        self.size_hw = (h, w)

    def _prepare(self, frame: Frame | None, prediction: Prediction, image: np.ndarray | None) -> np.ndarray:
        if image is None:
            assert frame is not None
            image = self.annotator.annotate(frame.image, prediction) if self.annotator else frame.image
        image = check_image(image, "video frame")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if self.size_hw is None:
            self._open(image.shape[:2])
        assert self.size_hw is not None
        h, w = image.shape[:2]
        if (h, w) == self.size_hw:
            return np.ascontiguousarray(image)
        if (h + h % 2, w + w % 2) == self.size_hw:  # odd side: repeat the last row/column
            return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        return fit_to(image, self.size_hw)

    def write(self, frame: Frame | None, prediction: Prediction, image: np.ndarray | None = None) -> None:
        self._check_open()
        if frame is None and image is None:  # an error result without a picture: nothing to show
            self.n_skipped += 1
            return
        rgb = self._prepare(frame, prediction, image)
        index = frame.index if frame is not None else prediction.frame_index
        if self._first_index is None:
            self._first_index = index
        pts = max(index - self._first_index, self._last_pts + 1)
        vf = self._av.VideoFrame.from_ndarray(rgb, format="rgb24")
        vf.pts = pts
        try:
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
        except self._av.FFmpegError as exc:
            raise SinkError(f"encoding frame {index} into {self.path} failed: {exc}") from None
        self._last_pts = pts
        self.n_written += 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._container is None:
            log.warning("VideoSink %s: no frames were written; no file created", self.path)
            return
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        except self._av.FFmpegError as exc:
            raise SinkError(f"flushing video {self.path} failed: {exc}") from None
        finally:
            self._container.close()
