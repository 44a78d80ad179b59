"""The stream processor, its stages, and the stream runner."""

from rtecho.pipeline.accounting import StreamAccount
from rtecho.pipeline.compose import StageSpec, build_pipeline, register_stage
from rtecho.pipeline.contract import FrameRecord, Stage
from rtecho.pipeline.processor import StreamProcessor
from rtecho.pipeline.queues import POLICIES, FrameQueue
from rtecho.pipeline.run import StreamRun, output_sinks, run_stream
from rtecho.pipeline.stages import FramePipeline
from rtecho.pipeline.timing import LatencyHistogram, LatencyRecorder, StageStats, StreamSummary

__all__ = [
    "POLICIES",
    "FramePipeline",
    "FrameQueue",
    "FrameRecord",
    "LatencyHistogram",
    "LatencyRecorder",
    "Stage",
    "StageSpec",
    "StageStats",
    "StreamAccount",
    "StreamProcessor",
    "StreamRun",
    "StreamSummary",
    "build_pipeline",
    "output_sinks",
    "register_stage",
    "run_stream",
]
