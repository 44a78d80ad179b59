"""OpenIGTLink wire format: the 58-byte header, IMAGE bodies in, STRING messages out.

rtecho decodes and encodes these itself (numpy and :mod:`struct`; no pyigtl at run time), so
that every malformed field gives a one-line :class:`IgtlMessageError` instead of whatever a
generic unpacker raises. The tests check both directions against pyigtl, an independent
implementation. Layout (all numbers big-endian, https://openigtlink.org/ protocol v1-v3):

- header: version ``H``, type ``12s``, device name ``20s``, timestamp seconds ``I`` and fraction
  of a second ``I`` (``frac / 2**32``), body size ``Q``, CRC-64 (ECMA-182) of the body ``Q``;
- header version >= 2: the body starts with a 12-byte extended header (its size ``H``, metadata
  header size ``H``, metadata size ``I``, message id ``I``) and ends with the metadata;
- IMAGE content: version ``H``, components ``B``, scalar type ``B``, endianness ``B`` (1 big,
  2 little), coordinates ``B``, size i, j, k ``3H``, the columns of the ijk-to-world matrix (i
  axis ``3f``, j axis ``3f``, k axis ``3f``: direction times spacing, in mm), the image centre
  ``3f``, sub-volume offset ``3H`` and size ``3H`` (72 bytes), then the voxels (k, j, i, comp).

>>> msg = pack_string("rtecho_view", "A4C", timestamp=1.5)
>>> head = parse_header(msg[:HEADER_SIZE])
>>> head.type, head.device, head.timestamp, decode_string(head, msg[HEADER_SIZE:])
('STRING', 'rtecho_view', 1.5, 'A4C')
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from rtecho.errors import SourceError

HEADER = struct.Struct(">H12s20sIIQQ")
HEADER_SIZE = HEADER.size  # 58
_EXT = struct.Struct(">HHII")
_IMAGE = struct.Struct(">HBBBBHHH12fHHHHHH")
IMAGE_HEADER_SIZE = _IMAGE.size  # 72
#: Bodies larger than this are refused (a 4096x4096 RGBA uint16 frame is 128 MiB).
MAX_BODY = 256 * 2**20
_SCALARS = {
    2: "int8",
    3: "uint8",
    4: "int16",
    5: "uint16",
    6: "int32",
    7: "uint32",
    10: "float32",
    11: "float64",
}
_ASCII, _UTF8 = 3, 106


class IgtlMessageError(SourceError):
    """An OpenIGTLink message is malformed or of a kind rtecho cannot turn into a frame."""


@dataclass(frozen=True)
class Header:
    """The fields of one 58-byte OpenIGTLink header (``timestamp`` in seconds since 1970, 0 = unset)."""

    version: int
    type: str
    device: str
    timestamp: float
    body_size: int
    crc: int


@dataclass(frozen=True)
class Image:
    """A decoded 2-D IMAGE: ``pixels`` HxW or HxWx3 uint8, spacing (row, column) in mm as sent."""

    pixels: np.ndarray
    spacing_mm: tuple[float, float]
    dtype: str
    components: int


def _text(raw: bytes, what: str) -> str:
    raw = raw.split(b"\0", 1)[0]
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise IgtlMessageError(f"OpenIGTLink header: {what} is not ASCII ({raw[:20]!r})") from None


def parse_header(raw: bytes, max_body: int = MAX_BODY) -> Header:
    """Parse a 58-byte header; IgtlMessageError if it cannot be one (the stream cannot be re-framed)."""
    if len(raw) != HEADER_SIZE:
        raise IgtlMessageError(f"OpenIGTLink header must be {HEADER_SIZE} bytes, got {len(raw)}")
    version, mtype, device, sec, frac, size, crc = HEADER.unpack(raw)
    if version not in (1, 2, 3):
        raise IgtlMessageError(
            f"OpenIGTLink header version {version} (expected 1, 2 or 3): not an OpenIGTLink stream?"
        )
    name = _text(mtype, "message type")
    if not name or not name.replace("_", "").isalnum():
        raise IgtlMessageError(f"OpenIGTLink header: bad message type {name!r}")
    if size > max_body:
        raise IgtlMessageError(f"OpenIGTLink {name} body of {size} bytes exceeds the {max_body}-byte limit")
    return Header(version, name, _text(device, "device name"), sec + frac / 2**32, size, crc)


def content(header: Header, body: bytes) -> bytes:
    """The message content: the body without the v2/v3 extended header and metadata."""
    if header.version < 2:
        return body
    if len(body) < _EXT.size:
        raise IgtlMessageError(f"{header.type} from {header.device!r}: body shorter than its extended header")
    ext_size, meta_header, meta_size, _ = _EXT.unpack_from(body)
    end = len(body) - meta_header - meta_size
    if ext_size < _EXT.size or end < ext_size:
        raise IgtlMessageError(f"{header.type} from {header.device!r}: inconsistent extended header sizes")
    return body[ext_size:end]


def decode_image(header: Header, body: bytes, bits: int = 16) -> Image:
    """A 2-D uint8/uint16 grey, RGB or RGBA IMAGE as an :class:`Image` (uint16 maps ``bits`` to 8 bits).

    RGBA drops alpha; uint16 pixels are shifted right by ``bits - 8`` and clipped at 255, so
    ``bits=12`` maps a 12-bit scanner range onto 0-255.
    """
    data = content(header, body)
    where = f"IMAGE from {header.device!r}"
    if len(data) < IMAGE_HEADER_SIZE:
        raise IgtlMessageError(
            f"{where}: {len(data)} bytes, shorter than the {IMAGE_HEADER_SIZE}-byte image header"
        )
    f = _IMAGE.unpack_from(data)
    comps, scalar, endian = f[1], f[2], f[3]
    size_i, size_j, size_k = f[5:8]
    matrix = np.asarray(f[8:20], np.float64).reshape(4, 3)  # rows: i axis, j axis, k axis, centre
    offset, sub = f[20:23], f[23:26]
    dtype = _SCALARS.get(scalar)
    if dtype not in ("uint8", "uint16"):
        raise IgtlMessageError(f"{where}: scalar type {dtype or scalar} not supported (uint8 or uint16)")
    if comps not in (1, 3, 4):
        raise IgtlMessageError(f"{where}: {comps} components not supported (1 grey, 3 RGB, 4 RGBA)")
    if endian not in (1, 2):
        raise IgtlMessageError(f"{where}: endianness {endian} (expected 1 big or 2 little)")
    if size_k != 1 or size_i == 0 or size_j == 0:
        raise IgtlMessageError(f"{where}: size {size_i}x{size_j}x{size_k} is not a 2-D frame")
    if tuple(offset) != (0, 0, 0) or tuple(sub) != (size_i, size_j, size_k):
        raise IgtlMessageError(f"{where}: sub-volume messages are not supported")
    dt = np.dtype(dtype).newbyteorder(">" if endian == 1 else "<")
    expected = size_i * size_j * comps * dt.itemsize
    voxels = data[IMAGE_HEADER_SIZE:]
    if len(voxels) != expected:
        raise IgtlMessageError(
            f"{where}: {len(voxels)} bytes of pixels for {size_i}x{size_j}x{comps} {dtype} (expected {expected})"
        )
    pixels = np.frombuffer(voxels, dt).reshape(size_j, size_i, comps)
    if dtype == "uint16":
        if not 8 <= bits <= 16:
            raise ValueError(f"bits must be 8-16, got {bits}")
        pixels = np.minimum(pixels >> (bits - 8), 255).astype(np.uint8)
    pixels = pixels[:, :, 0] if comps == 1 else pixels[:, :, :3]
    spacing = (float(np.linalg.norm(matrix[1])), float(np.linalg.norm(matrix[0])))  # (row = j, column = i)
    return Image(np.ascontiguousarray(pixels), spacing, dtype, comps)


def decode_string(header: Header, body: bytes) -> str:
    """The text of a STRING message (US-ASCII or UTF-8)."""
    data = content(header, body)
    if len(data) < 4:
        raise IgtlMessageError(f"STRING from {header.device!r}: body shorter than 4 bytes")
    encoding, length = struct.unpack_from(">HH", data)
    raw = data[4 : 4 + length]
    if len(raw) != length:
        raise IgtlMessageError(f"STRING from {header.device!r}: {len(raw)} bytes for a {length}-byte string")
    try:
        return raw.decode("ascii" if encoding == _ASCII else "utf-8")
    except UnicodeDecodeError as exc:
        raise IgtlMessageError(f"STRING from {header.device!r}: {exc.reason}") from None


def _crc_table() -> tuple[int, ...]:
    poly, table = 0x42F0E1EBA9EA3693, []
    for byte in range(256):
        crc = byte << 56
        for _ in range(8):
            crc = ((crc << 1) ^ poly) if crc & (1 << 63) else (crc << 1)
        table.append(crc & 0xFFFFFFFFFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc64(data: bytes) -> int:
    """OpenIGTLink's CRC-64 (ECMA-182 polynomial 0x42F0E1EBA9EA3693, MSB first, init 0, no final xor).

    Pure Python, for small messages (the STRING results); ~0.1 us per byte.
    """
    crc, table = 0, _CRC_TABLE
    for b in data:
        crc = table[((crc >> 56) ^ b) & 0xFF] ^ ((crc << 8) & 0xFFFFFFFFFFFFFFFF)
    return crc


def pack_message(mtype: str, device: str, body: bytes, timestamp: float) -> bytes:
    """A version-1 message (header + body) with its CRC-64."""
    if len(mtype) > 12 or len(device.encode("ascii")) > 20:
        raise ValueError(f"OpenIGTLink type {mtype!r} (12 chars max) or device {device!r} (20 max) too long")
    sec = int(timestamp)
    frac = min(int(round((timestamp - sec) * 2**32)), 2**32 - 1)
    head = HEADER.pack(1, mtype.encode("ascii"), device.encode("ascii"), sec, frac, len(body), crc64(body))
    return head + body


def pack_string(device: str, text: str, timestamp: float) -> bytes:
    """A STRING message (UTF-8, MIBenum 106; US-ASCII 3 when the text is ASCII)."""
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError(f"STRING for {device!r} is {len(raw)} bytes; the limit is 65535")
    encoding = _ASCII if raw.isascii() else _UTF8
    return pack_message("STRING", device, struct.pack(">HH", encoding, len(raw)) + raw, timestamp)
