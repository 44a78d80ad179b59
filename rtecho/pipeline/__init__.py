"""The stream processor, its stages, and the stream runner."""

from rtecho.pipeline.accounting import StreamAccount
from rtecho.pipeline.processor import StreamProcessor
from rtecho.pipeline.queues import POLICIES, FrameQueue
from rtecho.pipeline.run import StreamRun, output_sinks, run_stream
from rtecho.pipeline.stages import FramePipeline, Postprocessor
from rtecho.pipeline.timing import LatencyHistogram, LatencyRecorder, StageStats, StreamSummary

__all__ = [
    "POLICIES",
    "FramePipeline",
    "FrameQueue",
    "LatencyHistogram",
    "LatencyRecorder",
    "Postprocessor",
    "StageStats",
    "StreamAccount",
    "StreamProcessor",
    "StreamRun",
    "StreamSummary",
    "output_sinks",
    "run_stream",
]
