"""``run_stream``: the one stream runner of ``rtecho run``, ``rtecho batch`` and the demo's File tab."""

from __future__ import annotations

import json

from rtecho.io import SyntheticSource
from rtecho.pipeline import run_stream
from tests.pipeline.helpers import make_engine


class _Sink:
    def __init__(self):
        self.rows, self.entered, self.closed = [], 0, False

    def __enter__(self):
        self.entered += 1
        return self

    def __exit__(self, *exc):
        self.closed = True

    def write(self, frame, pred, image):
        self.rows.append((pred.frame_index, image is not None))


def test_outputs_and_kept_predictions(tiny_onnx, tmp_path):
    engine = make_engine(tiny_onnx)
    extra, seen = _Sink(), []
    src = SyntheticSource(n_frames=7, size_hw=(48, 64))
    summary, preds = run_stream(
        engine, src, jsonl=tmp_path / "f.jsonl", sinks=[extra], on_prediction=seen.append, keep=True
    )
    assert summary.processed == 7 and summary.accounted and src.closed
    assert [p.frame_index for p in preds] == [p.frame_index for p in seen] == list(range(7))
    lines = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert [row["frame"] for row in lines] == list(range(7))
    assert {row["model"] for row in lines} == {engine.card.name}
    assert [row["label"] for row in lines] == [p.label for p in preds]
    assert lines[3]["probabilities"] == preds[3].to_dict()["probabilities"]
    assert extra.entered == 1 and extra.closed and extra.rows == [(i, False) for i in range(7)]


def test_live_sources_are_never_kept(tiny_onnx):
    engine = make_engine(tiny_onnx)
    live = SyntheticSource(n_frames=5, size_hw=(32, 32), live=True)
    assert run_stream(engine, live, keep=True).predictions is None
    file_run = run_stream(engine, SyntheticSource(n_frames=5, size_hw=(32, 32)))
    assert file_run.predictions is None and file_run.summary.processed == 5  # keep defaults to ultrasound
