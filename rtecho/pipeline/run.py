"""``run_stream``: one source through the stream processor, with its outputs; the one stream runner of
``rtecho run``, ``rtecho batch`` and the demo's File tab, so that they give the same results frame
for frame.

>>> from rtecho.io import open_source
>>> from rtecho.runtime import load_engine
>>> summary, preds = run_stream(load_engine("tiny-untrained"), open_source("synthetic:n=3,size=32x32"))
>>> summary.processed, preds
(3, None)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from rtecho.pipeline.compose import build_pipeline
from rtecho.pipeline.processor import StreamProcessor
from rtecho.pipeline.stages import FramePipeline
from rtecho.pipeline.timing import StreamSummary
from rtecho.runtime.base import Engine
from rtecho.types import Prediction


class StreamRun(NamedTuple):
    """What ``run_stream`` gives: the summary, and the predictions when they were kept (else None)."""

    summary: StreamSummary
    predictions: list[Prediction] | None


def output_sinks(
    engine: Engine,
    fps: float | None,
    *,
    video: str | os.PathLike[str] | None = None,
    jsonl: str | os.PathLike[str] | None = None,
) -> list[Any]:
    """The file outputs of a run: an annotated MP4 at ``fps`` (30 when unknown), a JSONL log that
    names the model (its sha256) and the backend."""
    from rtecho.viz import JsonlSink, VideoSink

    sinks: list[Any] = []
    if video is not None:
        sinks.append(VideoSink(video, fps=fps or 30.0))
    if jsonl is not None:
        card = engine.card
        backend = f"{engine.backend}/{engine.precision}"
        sinks.append(JsonlSink(jsonl, model_name=card.name, onnx_sha256=card.onnx_sha256, backend=backend))
    return sinks


def run_stream(
    engine: Engine,
    source: Any,
    *,
    ultrasound: bool = False,
    policy: str | None = None,
    realtime: bool = False,
    video: str | os.PathLike[str] | None = None,
    jsonl: str | os.PathLike[str] | None = None,
    overlay: Any = None,
    sinks: Iterable[Any] = (),
    on_prediction: Callable[[Prediction], None] | None = None,
    keep: bool | None = None,
    pipeline: FramePipeline | None = None,
    **pipeline_options: Any,
) -> StreamRun:
    """Classify every frame of ``source`` (closed at the end) with ``engine``; returns a :class:`StreamRun`.

    ``ultrasound``: the scanner-screen stages (sector, mode gate, calibration, smoothing).
    ``video``/``jsonl``: write an annotated MP4 (``overlay``, default :func:`~rtecho.viz.default_overlay`)
    and a per-frame log; ``sinks``: further sinks, entered and closed here. ``on_prediction`` runs
    on the caller's thread for each result. The predictions are kept when ``keep`` (default: with
    ``ultrasound``, for the clip summary), and never for a live source: a live run is endless; kept
    predictions drop their full-size LV mask (``lv_mask``), which no summary needs. ``pipeline``: stages
    built by the caller (then ``ultrasound``/``overlay``/``pipeline_options`` must not be given);
    ``pipeline_options`` go to :func:`~rtecho.pipeline.build_pipeline` (``ef=True``, ``engines=``, ...).
    """
    if keep is None:
        keep = ultrasound
    keep = keep and not source.info.live
    if pipeline is not None:
        if ultrasound or pipeline_options or overlay is not None:
            raise ValueError(
                "give ultrasound/overlay/stage options to build_pipeline(), not beside pipeline="
            )
    else:
        if video is not None and overlay is None:
            from rtecho.viz import default_overlay

            overlay = default_overlay()
        pipeline = build_pipeline(engine, ultrasound=ultrasound, overlay=overlay, **pipeline_options)
    preds: list[Prediction] = []
    with contextlib.ExitStack() as stack:
        outputs = [
            stack.enter_context(s) for s in output_sinks(engine, source.info.fps, video=video, jsonl=jsonl)
        ]
        outputs += [stack.enter_context(s) for s in sinks]
        proc = stack.enter_context(
            StreamProcessor(engine, policy=policy, realtime=realtime, sinks=outputs, pipeline=pipeline)
        )
        for pred in proc.stream(source):
            if on_prediction is not None:
                on_prediction(pred)
            if keep:
                preds.append(pred if pred.lv_mask is None else dataclasses.replace(pred, lv_mask=None))
    assert proc.summary is not None
    return StreamRun(proc.summary, preds if keep else None)
