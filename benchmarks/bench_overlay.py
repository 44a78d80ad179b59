"""Overlay and sink speed per frame.

Run: ``.venv/bin/pytest benchmarks/bench_overlay.py --benchmark-enable``
Target: the default overlay (label, top-3 bars, latency) under 1 ms on a 240x320 frame.
"""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.types import Frame, Prediction
from rtecho.viz import (
    JsonlSink,
    LabelAnnotator,
    LatencyAnnotator,
    ProbabilityBarAnnotator,
    VideoSink,
    default_overlay,
)

LABELS = ("A2C", "A3C", "A4C", "A5C", "PLAX", "PSAX-AV", "PSAX-MV", "PSAX-PM", "SC4C", "OTHER")


def _prediction(i: int = 0) -> Prediction:
    rng = np.random.default_rng(i)
    probs = rng.dirichlet(np.ones(len(LABELS))).astype(np.float32)
    idx = int(probs.argmax())
    timings = {"infer": float(rng.uniform(0.5, 5)), "end_to_end": float(rng.uniform(2, 20))}
    return Prediction(i, i / 30, LABELS[idx], idx, probs, LABELS, timings, model="bench", backend="none")


def _image(size_hw: tuple[int, int], rgb: bool) -> np.ndarray:
    shape = (*size_hw, 3) if rgb else size_hw
    return np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)


@pytest.mark.parametrize(
    "size_hw,rgb",
    [((240, 320), False), ((240, 320), True), ((112, 112), False), ((600, 800), True)],
    ids=["240x320-gray", "240x320-rgb", "112x112-gray", "600x800-rgb"],
)
def test_default_overlay(benchmark, size_hw, rgb):
    img, preds, overlay = _image(size_hw, rgb), [_prediction(i) for i in range(64)], default_overlay()
    state = {"i": 0}

    def run():
        state["i"] += 1
        return overlay.annotate(img, preds[state["i"] % 64], fps=29.97)

    out = benchmark(run)
    assert out.shape == (*size_hw, 3)


@pytest.mark.parametrize("cls", [LabelAnnotator, ProbabilityBarAnnotator, LatencyAnnotator])
def test_single_annotator_inplace(benchmark, cls):
    img, pred, ann = _image((240, 320), True), _prediction(), cls()
    benchmark(ann.annotate, img, pred, fps=30.0, inplace=True)


def test_jsonl_write(benchmark, tmp_path):
    frame, pred = Frame(_image((240, 320), False), 0, 0.0), _prediction()
    with JsonlSink(tmp_path / "log.jsonl", model_name="bench", onnx_sha256="0" * 64) as sink:
        benchmark(sink.write, frame, pred)


@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_video_write(benchmark, tmp_path, codec):
    pytest.importorskip("av")
    img, pred = _image((240, 320), True), _prediction()
    state = {"i": 0}
    with VideoSink(tmp_path / "out.mp4", fps=30, codec=codec) as sink:

        def run():
            state["i"] += 1
            sink.write(Frame(img, state["i"], state["i"] / 30), pred)

        benchmark(run)
