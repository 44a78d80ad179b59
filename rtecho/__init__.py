"""rtecho: real-time echocardiography view recognition on ultrasound streams.

Importing rtecho loads only numpy: torch, onnxruntime, openvino, tensorrt, av, cv2, pydicom and
gradio are imported where they are used.
"""

from __future__ import annotations

from rtecho._version import __version__
from rtecho.errors import (
    EngineError,
    FrameError,
    MissingExtraError,
    ModelCardError,
    RtechoError,
    SourceError,
)
from rtecho.types import Frame, ModelCard, Prediction, SourceInfo
from rtecho.views import COARSE, VIEWS, coarse

__all__ = [
    "COARSE",
    "VIEWS",
    "EngineError",
    "Frame",
    "FrameError",
    "MissingExtraError",
    "ModelCard",
    "ModelCardError",
    "Prediction",
    "RtechoError",
    "SourceError",
    "SourceInfo",
    "__version__",
    "coarse",
]
