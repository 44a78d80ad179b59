"""DICOM cine loops (and single images) through pydicom, decoded frame by frame.

Handles ultrasound multi-frame files as scanners export them: JPEG baseline YBR_FULL_422,
RGB, PALETTE COLOR (the lookup table is applied), RLE lossless, MONOCHROME1/2 of any bit depth
(scaled to uint8 by the VOI window, else by the first frame's range, so the scale never
flickers). Frame timing comes from FrameTime (0018,1063), else FrameTimeVector (0018,1065), else
CineRate (0018,0040) / RecommendedDisplayFrameRate (0008,2144). Pixel spacing comes from
SequenceOfUltrasoundRegions PhysicalDeltaY/X (cm -> mm), else PixelSpacing.

>>> from rtecho.io import DicomSource
>>> with DicomSource("cine.dcm") as src:  # doctest: +SKIP
...     print(src.info.fps, src.info.n_frames, src.info.pixel_spacing_mm)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rtecho._lazy import require
from rtecho.errors import SourceError
from rtecho.io.base import Source, existing_file
from rtecho.types import Frame, SourceInfo

_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_CM_UNITS = 3  # PhysicalUnitsX/YDirection code for centimetres
#: Timestamps of a loop without timing tags are spaced at this rate (``info.fps`` stays None).
_ASSUMED_FPS = 30.0


def _pydicom() -> Any:
    return require("pydicom", "dicom", "reading DICOM files")


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def frame_times(ds: Any, n_frames: int) -> tuple[list[float] | None, float | None]:
    """Per-frame timestamps in seconds and the fps, from FrameTime / FrameTimeVector / CineRate."""
    frame_time_ms = _float(ds.get("FrameTime"))
    if frame_time_ms and frame_time_ms > 0:
        return [i * frame_time_ms / 1e3 for i in range(n_frames)], 1e3 / frame_time_ms
    vector = ds.get("FrameTimeVector")
    if vector is not None:
        steps = [_float(v) for v in (vector if isinstance(vector, list | tuple) else list(vector))]
        if len(steps) >= n_frames and all(s is not None and s >= 0 for s in steps):
            times = np.cumsum(np.asarray(steps[:n_frames], dtype=float)) / 1e3
            times -= times[0]
            fps = (n_frames - 1) / times[-1] if n_frames > 1 and times[-1] > 0 else None
            return [float(t) for t in times], fps
    for key in ("CineRate", "RecommendedDisplayFrameRate"):
        rate = _float(ds.get(key))
        if rate and rate > 0:
            return [i / rate for i in range(n_frames)], rate
    return None, None


def pixel_spacing_mm(ds: Any) -> tuple[float, float] | None:
    """(row, column) spacing in mm from the ultrasound regions (cm) or PixelSpacing (mm)."""
    for region in ds.get("SequenceOfUltrasoundRegions") or []:
        dx, dy = _float(region.get("PhysicalDeltaX")), _float(region.get("PhysicalDeltaY"))
        units = (region.get("PhysicalUnitsXDirection"), region.get("PhysicalUnitsYDirection"))
        if dx and dy and dx > 0 and dy > 0 and units == (_CM_UNITS, _CM_UNITS):
            return (abs(dy) * 10.0, abs(dx) * 10.0)
    spacing = ds.get("PixelSpacing")
    if spacing is not None and len(spacing) == 2:
        row, col = _float(spacing[0]), _float(spacing[1])
        if row and col and row > 0 and col > 0:
            return (row, col)
    return None


class _ToUint8:
    """Maps decoded DICOM pixels to uint8 gray or RGB, with one fixed scale for the whole loop."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds
        self.photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
        self.lo_hi: tuple[float, float] | None = None
        center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
        if center is not None and width is not None:
            c = _float(center[0] if not isinstance(center, str | float | int) else center)
            w = _float(width[0] if not isinstance(width, str | float | int) else width)
            if c is not None and w and w > 0:
                slope = _float(ds.get("RescaleSlope")) or 1.0
                intercept = _float(ds.get("RescaleIntercept")) or 0.0
                # the window is in rescaled units; invert the rescale to stored units
                lo, hi = (c - w / 2 - intercept) / slope, (c + w / 2 - intercept) / slope
                self.lo_hi = (min(lo, hi), max(lo, hi))

    def __call__(self, arr: np.ndarray) -> np.ndarray:
        if self.photometric == "PALETTE COLOR":
            arr = _apply_palette(arr, self.ds)
        if arr.ndim == 3 and arr.shape[2] == 3:
            return arr if arr.dtype == np.uint8 else self._scale(arr)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.ndim != 2:
            raise SourceError(f"unsupported DICOM frame shape {arr.shape}")
        bits = int(self.ds.get("BitsStored", 8) or 8)
        if arr.dtype == np.uint8 and bits == 8:
            out = arr
        else:
            out = self._scale(arr)
        if self.photometric == "MONOCHROME1":
            out = 255 - out
        return out

    def _scale(self, arr: np.ndarray) -> np.ndarray:
        if self.lo_hi is None:
            lo, hi = float(np.min(arr)), float(np.max(arr))
            self.lo_hi = (lo, hi if hi > lo else lo + 1.0)
        lo, hi = self.lo_hi
        scaled = (arr.astype(np.float32) - lo) * (255.0 / (hi - lo))
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _apply_palette(arr: np.ndarray, ds: Any) -> np.ndarray:
    from pydicom.pixels import apply_color_lut

    rgb = apply_color_lut(arr, ds)
    if rgb.dtype == np.uint8:
        return rgb
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor") or [0, 0, 16]
    shift = max(int(descriptor[2]) - 8, 0)
    return (rgb >> shift).astype(np.uint8)


class DicomSource(Source):
    """Frames of a DICOM file (multi-frame cine or single image), decoded one at a time."""

    kind = "dicom"

    def __init__(self, path: str | Path) -> None:
        pydicom = _pydicom()
        self._path = existing_file(path, "DICOM file")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ds = pydicom.dcmread(self._path, defer_size=1024)
        except pydicom.errors.InvalidDicomError as exc:
            raise SourceError(f"{self._path} is not a DICOM file ({_one_line(exc)})") from exc
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"cannot read DICOM {self._path}: {_one_line(exc)}") from exc
        eof = [str(w.message) for w in caught if "end of file" in str(w.message).lower()]
        for w in caught:
            if str(w.message) not in eof:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if eof:
            raise SourceError(f"DICOM {self._path} is truncated: {_one_line(Exception(eof[0]))}")
        if not any(tag in ds for tag in _PIXEL_TAGS):
            raise SourceError(
                f"DICOM {self._path} has no pixel data (SOP class {ds.get('SOPClassUID', '?')})"
            )
        try:
            n = int(ds.get("NumberOfFrames") or 1)
            size = (int(ds.Rows), int(ds.Columns))
        except (AttributeError, TypeError, ValueError) as exc:
            raise SourceError(f"DICOM {self._path} has a malformed image header ({_one_line(exc)})") from exc
        self._ds = ds
        syntax = getattr(ds.file_meta, "TransferSyntaxUID", None)
        self._times, fps = frame_times(ds, n)
        extra = {
            "photometric": str(ds.get("PhotometricInterpretation", "")),
            "transfer_syntax": str(syntax or ""),
            "transfer_syntax_name": getattr(syntax, "name", "transfer syntax") or "transfer syntax",
            "modality": str(ds.get("Modality", "")),
        }
        super().__init__(
            SourceInfo(
                uri=self._path,
                kind=self.kind,
                fps=fps,
                size_hw=size,
                n_frames=n,
                live=False,
                pixel_spacing_mm=pixel_spacing_mm(ds),
                extra=extra,
            )
        )

    def _frames(self) -> Iterator[Frame]:
        from pydicom.pixels import iter_pixels

        info = self.info
        n = info.n_frames or 1
        to_uint8 = _ToUint8(self._ds)
        index = 0
        with open(self._path, "rb") as fh:
            pixels = iter_pixels(fh)
            try:
                while index < n:
                    t0 = time.perf_counter()
                    try:
                        arr = next(pixels)
                    except StopIteration:
                        break
                    except (
                        ValueError,
                        RuntimeError,
                        NotImplementedError,
                        OSError,
                        EOFError,
                        KeyError,
                    ) as exc:
                        raise SourceError(
                            f"DICOM {self._path}: cannot decode frame {index} of {n} (corrupt, truncated or "
                            f"unsupported {info.extra['transfer_syntax_name']}): {_one_line(exc)}"
                        ) from exc
                    image = to_uint8(arr)
                    arrival = time.perf_counter()
                    yield Frame(
                        image,
                        index=index,
                        timestamp=self._times[index] if self._times else index / _ASSUMED_FPS,
                        arrival=arrival,
                        decode_ms=(arrival - t0) * 1e3,
                        source=info,
                    )
                    index += 1
            finally:
                close = getattr(pixels, "close", None)
                if close is not None:
                    close()
        if index < n:
            raise SourceError(f"DICOM {self._path} is truncated: decoded {index} of {n} frames")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
