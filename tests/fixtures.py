"""Tiny generated media for tests: videos, image folders, DICOM cine loops, truncated copies.

Every factory is deterministic: frame ``i`` is :func:`pattern_frame` ``(i, size_hw)``, a gray
gradient with a bright square that moves one step per frame (colour versions tint it), so a
test can check which frame it got. Heavy libraries (av, pydicom, PIL) are imported inside.
Also :func:`free_port`, a free TCP port on 127.0.0.1 for tests that start a server.

>>> from tests.fixtures import make_video
>>> path = make_video(tmp_path / "clip.mp4", codec="h264", n=10)  # doctest: +SKIP
"""

from __future__ import annotations

import socket
from fractions import Fraction
from pathlib import Path

import numpy as np


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_CODECS = {"h264": ("libx264", "yuv420p"), "mjpeg": ("mjpeg", "yuvj420p"), "gif": ("gif", "rgb8")}


def pattern_frame(i: int, size_hw: tuple[int, int] = (96, 128), gray: bool = False) -> np.ndarray:
    """Frame ``i`` of the test pattern: HxW uint8 when ``gray`` else HxWx3 RGB (red-tinted square)."""
    h, w = size_hw
    yy, xx = np.mgrid[0:h, 0:w]
    base = ((xx * 96) // max(w - 1, 1) + (yy * 64) // max(h - 1, 1)).astype(np.uint8)
    side = max(4, min(h, w) // 4)
    step = max(1, (w - side) // 12)
    x0 = (i * step) % max(w - side, 1)
    y0 = (h - side) // 2
    img = base.copy()
    img[y0 : y0 + side, x0 : x0 + side] = 230
    if gray:
        return img
    rgb = np.stack([img, img, img], axis=-1)
    rgb[y0 : y0 + side, x0 : x0 + side] = (230, 60, 40)
    return rgb


def square_x(image: np.ndarray) -> int:
    """Left column of the bright square in a (decoded) pattern frame; lets tests identify frames."""
    lum = image if image.ndim == 2 else image[..., 0]
    cols = np.flatnonzero((lum > 180).mean(axis=0) > 0.1)
    return int(cols[0]) if cols.size else -1


def make_video(
    path: str | Path,
    codec: str = "h264",
    n: int = 10,
    size_hw: tuple[int, int] = (96, 128),
    fps: float = 30.0,
    gray: bool = False,
    faststart: bool = False,
) -> Path:
    """Write ``n`` pattern frames with ``codec`` ('h264' -> .mp4, 'mjpeg' -> .avi, 'gif').

    ``faststart`` puts the MP4 index (moov) first, as streaming exports do: a truncated copy of
    such a file still opens and decodes up to the cut.
    """
    import av

    path = Path(path)
    name, pix_fmt = _CODECS[codec]
    rate = Fraction(fps).limit_denominator(1001)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream(name, rate=rate)
        stream.width, stream.height = size_hw[1], size_hw[0]
        stream.pix_fmt = "gray" if (gray and codec == "h264") else pix_fmt
        if codec == "h264":
            stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(n):
            img = pattern_frame(i, size_hw, gray=gray)
            fmt = "gray" if img.ndim == 2 else "rgb24"
            frame = av.VideoFrame.from_ndarray(img, format=fmt)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_png_folder(
    directory: str | Path, n: int = 5, size_hw: tuple[int, int] = (48, 64), gray: bool = False
) -> Path:
    """Write ``frame_1.png`` ... ``frame_n.png`` (natural order differs from lexical order for n >= 10)."""
    from PIL import Image

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(pattern_frame(i, size_hw, gray=gray)).save(directory / f"frame_{i + 1}.png")
    return directory


def make_dicom_cine(
    path: str | Path,
    n: int = 8,
    size_hw: tuple[int, int] = (48, 64),
    frame_time_ms: float | None = 40.0,
    photometric: str = "MONOCHROME2",
    rle: bool = False,
    pixel_spacing_mm: float | None = 0.3,
) -> Path:
    """Write an ultrasound multi-frame DICOM of pattern frames (uncompressed, or RLE lossless).

    ``photometric`` is 'MONOCHROME2' or 'RGB'; ``frame_time_ms=None`` leaves out FrameTime;
    ``pixel_spacing_mm`` goes into SequenceOfUltrasoundRegions PhysicalDeltaX/Y (in cm).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        RLELossless,
        UltrasoundMultiFrameImageStorage,
        generate_uid,
    )

    path = Path(path)
    gray = photometric == "MONOCHROME2"
    frames = np.stack([pattern_frame(i, size_hw, gray=gray) for i in range(n)])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(path.name), str(n)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.PatientName = "Test^Phantom"
    ds.Rows, ds.Columns = size_hw
    ds.NumberOfFrames = n
    ds.SamplesPerPixel = 1 if gray else 3
    ds.PhotometricInterpretation = photometric
    if not gray:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if frame_time_ms is not None:
        ds.FrameTime = f"{frame_time_ms:g}"
        ds.FrameIncrementPointer = 0x00181063
    if pixel_spacing_mm is not None:
        region = Dataset()
        region.RegionSpatialFormat = 1
        region.RegionDataType = 1
        region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = size_hw[1] - 1, size_hw[0] - 1
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
        region.PhysicalDeltaX = region.PhysicalDeltaY = pixel_spacing_mm / 10.0
        ds.SequenceOfUltrasoundRegions = [region]
    ds.PixelData = frames.tobytes()
    if rle:
        ds.compress(RLELossless)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_truncated(src: str | Path, dst: str | Path, keep_fraction: float = 0.5) -> Path:
    """Copy the first ``keep_fraction`` of the bytes of ``src`` to ``dst``."""
    data = Path(src).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: max(1, int(len(data) * keep_fraction))])
    return dst
