"""``open_source(uri)``: pick the right source for a path, device or URI.

- a directory -> :class:`FolderSource`; an image file -> a one-frame FolderSource
- ``.dcm``/``.dicom``, or any file with the DICOM magic (``DICM`` at byte 128) -> :class:`DicomSource`
- ``.mp4 .avi .mov .mkv .gif .webm .m4v`` -> :class:`VideoSource`
- an int, ``cam:N``, ``/dev/videoN`` or ``video=NAME`` (DirectShow) -> :class:`CaptureSource`
- ``synthetic:`` with optional ``key=value`` pairs, e.g. ``synthetic:n=300,size=112x112,fps=30,live=1,pace=1``
  (keys: n, size, fps, live, pace, seed, color) -> :class:`SyntheticSource`
- ``igtl://HOST:PORT[/DEVICE][?timeout=2&retry=30&n=N&fps=F&bits=16]`` -> :class:`IgtlSource`
  (OpenIGTLink IMAGE messages from PLUS, 3D Slicer or a scanner)

>>> from rtecho.io import open_source
>>> with open_source("synthetic:n=3,size=16x24") as src:
...     src.info.kind, src.info.n_frames, src.info.size_hw
('synthetic', 3, (16, 24))
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from rtecho.errors import SourceError
from rtecho.io.base import Source

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".avi", ".mov", ".mkv", ".gif", ".webm", ".m4v"})
DICOM_EXTENSIONS: frozenset[str] = frozenset({".dcm", ".dicom"})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def is_dicom(path: str | Path) -> bool:
    """True if the file carries the DICOM Part 10 magic ``DICM`` at offset 128."""
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _flag(key: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SourceError(f"synthetic source: {key}={value!r} is not a boolean (use 1/0)")


def parse_synthetic(uri: str) -> dict[str, Any]:
    """Keyword arguments of :class:`SyntheticSource` from ``synthetic:n=10,size=96x128,...``."""
    spec = uri.split(":", 1)[1].lstrip("/?")
    kw: dict[str, Any] = {}
    for item in filter(None, re.split(r"[,&]", spec)):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        try:
            if not sep:
                raise ValueError("expected key=value")
            if key in ("n", "n_frames"):
                kw["n_frames"] = None if value.lower() in ("inf", "none", "") else int(value)
            elif key in ("size", "size_hw"):
                h, w = value.lower().split("x")
                kw["size_hw"] = (int(h), int(w))
            elif key == "fps":
                kw["fps"] = float(value)
            elif key == "seed":
                kw["seed"] = int(value)
            elif key in ("live", "pace", "color"):
                kw[key] = _flag(key, value)
            else:
                raise ValueError("unknown key (known: n, size, fps, live, pace, seed, color)")
        except ValueError as exc:
            raise SourceError(f"bad synthetic source option {item!r} in {uri!r}: {exc}") from None
    return kw


def open_source(uri: str | int | os.PathLike[str], **kw: Any) -> Source:
    """Open ``uri`` with the matching source; keyword arguments go to that source's constructor.

    Raises SourceError for a missing path or an unrecognised kind of input.
    """
    if isinstance(uri, bool):
        raise SourceError(f"cannot open {uri!r} as a source")
    if isinstance(uri, int):
        from rtecho.io.capture import CaptureSource

        return CaptureSource(uri, **kw)
    text = os.fspath(uri)
    if not isinstance(text, str):
        raise SourceError(f"cannot open {uri!r} as a source (expected a path, device or URI)")
    if text.startswith("synthetic:"):
        from rtecho.io.synthetic import SyntheticSource

        try:
            return SyntheticSource(**{**parse_synthetic(text), **kw})
        except ValueError as exc:
            raise SourceError(f"bad synthetic source {text!r}: {exc}") from None
    if text.startswith("igtl://"):
        from rtecho.io.igtl import IgtlSource, parse_igtl

        return IgtlSource(**{**parse_igtl(text), **kw})
    if (
        text.startswith("cam:")
        or text.startswith("/dev/video")
        or ((text.isdigit() or text.startswith("video=")) and not os.path.exists(text))
    ):
        from rtecho.io.capture import CaptureSource

        return CaptureSource(text, **kw)
    path = Path(text)
    if path.is_dir():
        from rtecho.io.folder import FolderSource

        return FolderSource(path, **kw)
    if not path.exists():
        raise SourceError(f"no such file, folder or device: {text}")
    suffix = path.suffix.lower()
    if suffix in DICOM_EXTENSIONS or is_dicom(path):
        from rtecho.io.dicom import DicomSource

        return DicomSource(path, **kw)
    if suffix in VIDEO_EXTENSIONS:
        from rtecho.io.video import VideoSource

        return VideoSource(path, **kw)
    from rtecho.io.folder import IMAGE_EXTENSIONS, FolderSource

    if suffix in IMAGE_EXTENSIONS:
        return FolderSource(path, **kw)
    known = sorted(VIDEO_EXTENSIONS | DICOM_EXTENSIONS | IMAGE_EXTENSIONS)
    raise SourceError(
        f"unsupported input {text}: unknown type {suffix or '(no extension)'} (known: {' '.join(known)})"
    )
