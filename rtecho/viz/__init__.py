"""Annotators that draw predictions onto frames, and sinks that write results out.

Needs numpy only; PyAV is imported when a :class:`VideoSink` is created.

>>> from rtecho.viz import default_overlay, JsonlSink, VideoSink
"""

from __future__ import annotations

from rtecho.viz.annotate import (
    Annotator,
    LabelAnnotator,
    LatencyAnnotator,
    Overlay,
    ProbabilityBarAnnotator,
    as_canvas,
    default_overlay,
)
from rtecho.viz.font import auto_scale, draw_text, text_mask, text_size
from rtecho.viz.igtl import IgtlSink
from rtecho.viz.sinks import CallbackSink, JsonlSink, MultiSink, Sink, SinkError, VideoSink

__all__ = [
    "Annotator",
    "CallbackSink",
    "IgtlSink",
    "JsonlSink",
    "LabelAnnotator",
    "LatencyAnnotator",
    "MultiSink",
    "Overlay",
    "ProbabilityBarAnnotator",
    "Sink",
    "SinkError",
    "VideoSink",
    "as_canvas",
    "auto_scale",
    "default_overlay",
    "draw_text",
    "text_mask",
    "text_size",
]
