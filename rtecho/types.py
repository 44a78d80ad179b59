"""The small frozen dataclasses that cross rtecho's module boundaries, validated on creation.

>>> import numpy as np
>>> f = Frame(np.zeros((4, 6), np.uint8), index=0, timestamp=0.0)
>>> f.size_hw
(4, 6)
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtecho.card import TASKS, ModelCard, card_path_for  # noqa: F401 (the model card's home is rtecho.card)
from rtecho.errors import FrameError

#: Stages timed for every frame, in pipeline order (milliseconds in :class:`Prediction`). ``wait`` is
#: from the frame's arrival to the start of its processing (queue, thread hand-off, a busy worker).
#: ``transport`` appears only with a remote engine (``backend="serve"``): the round trip to the
#: service less the time the service spent on the request (which stays in ``infer``).
STAGES: tuple[str, ...] = (
    "decode",
    "wait",
    "preprocess",
    "infer",
    "transport",
    "postprocess",
    "overlay",
    "end_to_end",
)


def check_image(image: Any, what: str = "frame") -> np.ndarray:
    """Return ``image`` if it is an HxW or HxWx3 uint8 array with both sides > 0, else raise FrameError."""
    if not isinstance(image, np.ndarray):
        raise FrameError(f"{what} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise FrameError(f"{what} must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise FrameError(f"{what} must be HxW gray or HxWx3 RGB, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise FrameError(f"{what} is empty (shape {image.shape})")
    return image


@dataclass(frozen=True)
class SourceInfo:
    """What a source knows about its stream: ``fps`` (None when unknown), size, frame count, spacing."""

    uri: str
    kind: str
    fps: float | None = None
    size_hw: tuple[int, int] | None = None
    n_frames: int | None = None
    live: bool = False
    pixel_spacing_mm: tuple[float, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be positive and finite, got {self.fps}")
        if self.n_frames is not None and self.n_frames < 0:
            raise ValueError(f"n_frames must be >= 0, got {self.n_frames}")

    @property
    def frame_period(self) -> float | None:
        """Seconds between frames, when the fps is known."""
        return 1.0 / self.fps if self.fps else None


@dataclass(frozen=True, eq=False)
class Frame:
    """One image from a source.

    ``image`` is HxW gray or HxWx3 RGB uint8; ``timestamp`` is seconds on the source clock;
    ``arrival`` is ``time.perf_counter()`` when the frame entered rtecho; ``decode_ms`` is the
    time the source spent producing it.
    """

    image: np.ndarray
    index: int
    timestamp: float
    arrival: float = field(default_factory=time.perf_counter)
    decode_ms: float = 0.0
    source: SourceInfo | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", check_image(self.image))
        if self.index < 0:
            raise FrameError(f"frame index must be >= 0, got {self.index}")
        if not math.isfinite(self.timestamp):
            raise FrameError(f"frame timestamp must be finite, got {self.timestamp}")

    @property
    def size_hw(self) -> tuple[int, int]:
        return (int(self.image.shape[0]), int(self.image.shape[1]))


@dataclass(frozen=True)
class ViewChange:
    """The reported view changed from ``from_label`` (None for the first view) to ``to_label`` at a frame."""

    from_label: str | None
    to_label: str
    frame_index: int
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_label,
            "to": self.to_label,
            "frame": self.frame_index,
            "timestamp": round(self.timestamp, 6),
        }


#: Modes whose frames get a view label; frames in other modes may have ``label`` None.
CLASSIFIED_MODES: tuple[str, ...] = ("bmode", "color_doppler")


@dataclass(frozen=True, eq=False)
class Prediction:
    """The result for one frame.

    ``error`` is set (and ``label`` is None) when the frame could not be processed; the stream goes
    on. ``timings_ms`` holds the stages of :data:`STAGES` that ran, in milliseconds.
    """

    frame_index: int
    timestamp: float
    label: str | None
    index: int | None
    probabilities: np.ndarray | None
    labels: tuple[str, ...]
    timings_ms: Mapping[str, float]
    model: str = ""
    backend: str = ""
    smoothed_label: str | None = None
    smoothed_probabilities: np.ndarray | None = None
    accepted: bool = True
    mode: str = "bmode"
    error: str | None = None
    view_change: ViewChange | None = None
    #: The cardiac stages (``build_pipeline(..., ef=True)``): the LV this frame (area, length, confidence,
    #: running ef, heart_rate, units, view; None when not segmented), its mask (bool HxW, not in to_dict)
    #: and the beats (``rtecho.cardiac.BeatEvent``) confirmed at this frame.
    lv: Mapping[str, Any] | None = None
    lv_mask: np.ndarray | None = None
    beats: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.timings_ms) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown timing stage(s) {sorted(unknown)}; known: {STAGES}")
        gated = self.mode not in CLASSIFIED_MODES and self.label is None and self.index is None
        if self.error is None and not gated:
            if self.probabilities is None or self.label is None or self.index is None:
                raise ValueError("a prediction without error needs label, index and probabilities")
            if self.probabilities.shape != (len(self.labels),):
                raise ValueError(
                    f"probabilities shape {self.probabilities.shape} != ({len(self.labels)},) labels"
                )
            if self.labels[self.index] != self.label:
                raise ValueError(f"label {self.label!r} is not labels[{self.index}]")

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def confidence(self) -> float:
        """Probability of the reported label (0 for an error result)."""
        if self.probabilities is None or self.index is None:
            return 0.0
        return float(self.probabilities[self.index])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (numpy arrays become lists, floats are rounded to 6 places)."""
        out: dict[str, Any] = {
            "frame": self.frame_index,
            "timestamp": round(self.timestamp, 6),
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "accepted": self.accepted,
            "mode": self.mode,
            "smoothed_label": self.smoothed_label,
            "timings_ms": {k: round(v, 4) for k, v in self.timings_ms.items()},
            "model": self.model,
            "backend": self.backend,
        }
        if self.probabilities is not None:
            out["probabilities"] = {
                k: round(float(p), 6) for k, p in zip(self.labels, self.probabilities, strict=True)
            }
        if self.error is not None:
            out["error"] = self.error
        if self.view_change is not None:
            out["view_change"] = self.view_change.to_dict()
        if self.lv is not None:
            out["lv"] = dict(self.lv)
        if self.beats:
            out["beats"] = [b.to_dict() for b in self.beats]
        return out
