"""The ``wait`` stage (arrival to start of processing), the worker's idle hook, per-stream reset,
and the realtime reader that decodes only once the worker is done."""

from __future__ import annotations

import threading
import time

import numpy as np

from rtecho.pipeline import FramePipeline, Stage, StreamProcessor
from rtecho.pipeline.queues import FrameQueue
from rtecho.pipeline.stages import Classify, Softmax
from rtecho.runtime.preprocess import Preprocessor
from tests.pipeline.helpers import ListSource, SlowEngine, make_engine


def test_wait_is_timed_and_end_to_end_is_wait_plus_the_stages(tiny_onnx):
    with StreamProcessor(make_engine(tiny_onnx)) as proc:
        preds = list(proc.stream(ListSource(n=12)))
    for p in preds:
        t = p.timings_ms
        assert t["wait"] >= 0.0
        stages = t["wait"] + t["preprocess"] + t["infer"] + t["postprocess"]
        assert abs(t["end_to_end"] - stages) < 0.5, t  # only clock reads between the stages
    assert proc.summary.latency["wait"].n == 12
    assert "wait" in proc.summary.table()


def test_wait_shows_a_frame_queued_behind_a_slow_one(tiny_onnx):
    """A lossless queue behind a 50 ms engine: later frames wait, and the wait stage says so."""
    with StreamProcessor(make_engine(tiny_onnx, SlowEngine), policy="block", queue_size=8) as proc:
        preds = list(proc.stream(ListSource(n=6)))  # not paced: all six arrive at once
    waits = [p.timings_ms["wait"] for p in preds]
    assert waits[-1] > 100.0 > waits[0], waits  # the last waited for ~5 x 50 ms of inference


def test_sync_process_waits_for_nothing(tiny_onnx):
    with StreamProcessor(make_engine(tiny_onnx)) as proc:
        p = proc.process(np.zeros((64, 64), np.uint8))
    assert 0.0 <= p.timings_ms["wait"] < 50.0


class _Recorder(Stage):
    """A preprocessing stage that records when it runs, when its idle work runs, and its resets."""

    name, inputs, outputs, timing = "preprocess", ("image",), ("x",), "preprocess"

    def __init__(self, card):
        self.base = Preprocessor(card)
        self.spans: list[tuple[float, float]] = []
        self.idle_calls = 0
        self.resets = 0

    def __call__(self, rec):
        t0 = time.perf_counter()
        rec.x = self.base(rec.image)
        time.sleep(0.004)  # a little work, so that overlaps would show
        self.spans.append((t0, time.perf_counter()))

    def idle(self, stop=None):
        assert stop is not None and not stop()  # the worker asks only while no frame waits
        self.idle_calls += 1
        return False

    def reset(self):
        self.resets += 1


def _pipeline(engine, pre):
    return FramePipeline.for_engine(engine, [pre, Classify(engine), Softmax()])


class _DecodingSource(ListSource):
    """A file-like source whose 'decoding' (the time inside next()) is recorded."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.spans: list[tuple[float, float]] = []

    def __iter__(self):
        it = super().__iter__()
        while True:
            t0 = time.perf_counter()
            try:
                frame = next(it)
            except StopIteration:
                return
            time.sleep(0.004)  # decoding
            self.spans.append((t0, time.perf_counter()))
            yield frame


def test_realtime_reader_decodes_only_while_the_worker_is_idle(tiny_onnx):
    engine = make_engine(tiny_onnx)
    pre = _Recorder(engine.card)
    src = _DecodingSource(n=10, fps=10.0)  # a 100 ms period: the reader never gives up waiting
    with StreamProcessor(engine, realtime=True, pipeline=_pipeline(engine, pre)) as proc:
        preds = list(proc.stream(src))
    assert len(preds) == 10
    overlaps = [(d, w) for d in src.spans for w in pre.spans if d[0] < w[1] - 1e-4 and w[0] < d[1] - 1e-4]
    assert not overlaps, overlaps[:3]
    # the worker's idle hook ran between frames; the stream started with a reset
    assert pre.idle_calls >= 8 and pre.resets >= 1


def test_each_stream_resets_the_stages(tiny_onnx):
    engine = make_engine(tiny_onnx)
    pre = _Recorder(engine.card)
    with StreamProcessor(engine, pipeline=_pipeline(engine, pre)) as proc:
        list(proc.stream(ListSource(n=3)))
        list(proc.stream(ListSource(n=3)))
        proc.start()
        proc.stop()
    assert pre.resets == 3


def test_frame_queue_wait_done_counts_taken_and_finished_items():
    q: FrameQueue[int] = FrameQueue(2, "latest")
    assert q.wait_done(0.01)
    q.put(1)
    q.put(2)
    assert q.put(3) == 1  # dropped: it no longer counts
    assert not q.wait_done(0.01)
    done = threading.Event()

    def consume():
        for _ in range(2):
            q.get()
            time.sleep(0.01)
            q.task_done()
        done.set()

    t = threading.Thread(target=consume)
    t.start()
    assert q.wait_done(2.0)
    t.join(2.0)
    assert done.is_set() and len(q) == 0
