"""Test helpers for image files Pillow cannot write."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def write_png_rgb16(path: str | Path, pixels: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG (HxWx3 uint16), written by hand: one IDAT, filter 0 on every row."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\0" + pixels[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    Path(path).write_bytes(png)
    return Path(path)
