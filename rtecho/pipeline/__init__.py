"""The stream processor and its stages."""

from rtecho.pipeline.compose import StageSpec, build_pipeline, register_stage
from rtecho.pipeline.contract import FrameRecord, Stage
from rtecho.pipeline.processor import StreamProcessor
from rtecho.pipeline.queues import POLICIES, FrameQueue
from rtecho.pipeline.stages import FramePipeline
from rtecho.pipeline.timing import LatencyRecorder, StageStats, StreamSummary

__all__ = [
    "POLICIES",
    "FramePipeline",
    "FrameQueue",
    "FrameRecord",
    "LatencyRecorder",
    "Stage",
    "StageSpec",
    "StageStats",
    "StreamProcessor",
    "StreamSummary",
    "build_pipeline",
    "register_stage",
]
