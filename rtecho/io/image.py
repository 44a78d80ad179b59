"""Still images as rtecho reads them everywhere: the runtime folder source, training, search,
calibration and evaluation all call :func:`read_image`, so a model sees the same pixels in each.

Files are decoded by Pillow (``rtecho[video]``) and returned as uint8 HxW grey or HxWx3 RGB:

- grey (``L``, ``1``, ``LA``) stays grey; RGB, RGBA, palette, CMYK and YCbCr become RGB; alpha is
  dropped (not composited), as a scanner export has no transparency worth keeping;
- **16 bits -> 8 bits by the top byte** (``value >> 8``). One rule for every 16-bit file (grey
  ``I;16*`` modes, 32-bit integer ``I`` holding 0..65535, and Pillow's own 16-bit RGB/RGBA/LA
  unpacking, which keeps the high byte too). It is per pixel and deterministic: a frame reads the
  same whatever its brightest pixel is (scaling by the maximum, as training once did, made one
  frame's grey levels depend on its content). A file that uses only the low 12 bits reads dark:
  convert such data before, knowingly;
- the first frame of a multi-frame TIFF; EXIF orientation is not applied (pixels as stored);
- unreadable, truncated, corrupt or unsupported files (float ``F``, integers beyond 16 bits) raise
  :class:`ImageError` naming the file.

>>> import numpy as np, tempfile, pathlib
>>> from PIL import Image
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.png"
>>> Image.fromarray(np.full((2, 3), 0x1234, np.uint16)).save(p)
>>> read_image(p)
array([[18, 18, 18],
       [18, 18, 18]], dtype=uint8)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rtecho._lazy import require
from rtecho.errors import SourceError

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})

#: Pillow modes that hold 16 bits per pixel in one grey channel (``>> 8`` applies).
_GREY16 = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
#: Pillow modes converted to RGB (8 bits per channel; alpha dropped).
_TO_RGB = frozenset({"RGB", "RGBA", "RGBX", "RGBa", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"})


class ImageError(SourceError, ValueError):
    """An image file cannot be read: missing, corrupt, truncated or of an unsupported kind."""


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders digit runs by value: ``a2 < a10``."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def path_key(path: Path, root: Path) -> tuple[Any, ...]:
    """Natural order of ``path`` relative to ``root``, folder by folder."""
    return tuple(natural_key(part) for part in path.relative_to(root).parts)


def list_files(directory: str | Path, suffixes: Iterable[str], recursive: bool = False) -> list[Path]:
    """Files of ``directory`` (and below, when ``recursive``) with one of ``suffixes``, in natural order.

    Hidden files and anything inside hidden folders (``.git``, ``.ipynb_checkpoints``) are skipped.
    """
    directory = Path(directory)
    wanted = {s.lower() for s in suffixes}
    try:
        entries = list(directory.rglob("*") if recursive else directory.iterdir())
    except OSError as exc:
        raise SourceError(f"cannot list folder {directory}: {exc.strerror or exc}") from exc
    files = [
        p
        for p in entries
        if p.suffix.lower() in wanted
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
        and p.is_file()
    ]
    return sorted(files, key=lambda p: path_key(p, directory))


def list_images(directory: str | Path) -> list[Path]:
    """The image files directly in ``directory``, in natural order (hidden files skipped)."""
    return list_files(directory, IMAGE_EXTENSIONS)


def _pixels(im: Any, path: Path) -> np.ndarray:
    mode = im.mode
    if mode == "L":
        return np.asarray(im, dtype=np.uint8)
    if mode in ("1", "LA", "La"):
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if mode in _GREY16:
        return (np.asarray(im).astype(np.uint16) >> 8).astype(np.uint8)
    if mode == "I":  # 32-bit integers: Pillow's mode for some 16-bit PNG/TIFF files
        arr = np.asarray(im)
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 0xFFFF:
            raise ImageError(f"unsupported image {path}: integer pixels {lo}..{hi} exceed 16 bits")
        return (arr.astype(np.uint16) >> 8).astype(np.uint8)
    if mode in _TO_RGB:
        return np.asarray(im if mode == "RGB" else im.convert("RGB"), dtype=np.uint8)
    raise ImageError(f"unsupported image {path}: Pillow mode {mode!r} (expected 8/16-bit grey or colour)")


def read_image(path: str | Path) -> np.ndarray:
    """One image file as a uint8 HxW grey or HxWx3 RGB array (see the module docstring for the rules).

    Raises :class:`ImageError` (a :class:`~rtecho.errors.SourceError`) naming the file when it is
    missing, unreadable, truncated, corrupt or of an unsupported kind.
    """
    pil = require("PIL.Image", "video", "reading image files")
    path = Path(path)
    try:
        with pil.open(path) as im:
            im.load()  # decode now: a truncated file fails here, not later
            image = _pixels(im, path)
    except FileNotFoundError:
        raise ImageError(f"image not found: {path}") from None
    except pil.DecompressionBombError as exc:
        raise ImageError(f"image {path} is too large to decode safely ({exc})") from None
    except pil.UnidentifiedImageError:
        raise ImageError(f"cannot decode image {path} (corrupt or not an image)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"cannot decode image {path} (corrupt or truncated: {exc})") from None
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ImageError(f"image {path} has no pixels (shape {image.shape})")
    if not (image.flags.writeable and image.flags.c_contiguous):
        image = np.array(image, order="C")
    return image
