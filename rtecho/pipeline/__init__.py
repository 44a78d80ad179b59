"""The stream processor and its stages."""

from rtecho.pipeline.processor import StreamProcessor
from rtecho.pipeline.queues import POLICIES, FrameQueue
from rtecho.pipeline.stages import FramePipeline, Postprocessor
from rtecho.pipeline.timing import LatencyRecorder, StageStats, StreamSummary

__all__ = [
    "POLICIES",
    "FramePipeline",
    "FrameQueue",
    "LatencyRecorder",
    "Postprocessor",
    "StageStats",
    "StreamProcessor",
    "StreamSummary",
]
