"""Frame sources: video files, capture devices, DICOM cine loops, image folders, OpenIGTLink.

Frames pushed by a host go straight to the stream processor (``StreamProcessor.submit``).

Every source is an iterable of :class:`~rtecho.types.Frame` with ``info``, ``close()`` and a
context manager; :func:`open_source` picks one from a path, device or URI. Importing this
package loads none of av, cv2 or pydicom: each source imports its library when it is created.

>>> from rtecho.io import open_source
>>> with open_source("synthetic:n=2,size=16x16") as src:
...     [f.index for f in src]
[0, 1]
"""

from __future__ import annotations

from rtecho.io.array import ArraySource
from rtecho.io.base import Source
from rtecho.io.capture import CaptureSource
from rtecho.io.dicom import DicomSource
from rtecho.io.folder import IMAGE_EXTENSIONS, FolderSource
from rtecho.io.igtl import IgtlSource
from rtecho.io.open import DICOM_EXTENSIONS, VIDEO_EXTENSIONS, is_dicom, open_source
from rtecho.io.synthetic import SyntheticSource
from rtecho.io.video import VideoSource

__all__ = [
    "ArraySource",
    "DICOM_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "CaptureSource",
    "DicomSource",
    "FolderSource",
    "IgtlSource",
    "Source",
    "SyntheticSource",
    "VideoSource",
    "is_dicom",
    "open_source",
]
