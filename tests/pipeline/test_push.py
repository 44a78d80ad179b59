"""The push-driven front end: the host's buffer is copied, a producer thread's frames all come back
in order, stop() drains, and the books balance."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rtecho.errors import RtechoError
from rtecho.pipeline import StreamProcessor
from tests.pipeline.helpers import make_engine


class _Frames:
    def __init__(self):
        self.rows = []

    def write(self, frame, pred, image):
        self.rows.append((frame, pred))


def _poll_all(proc, n, timeout=10.0):
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out += proc.poll(timeout=0.05)
    return out


def test_submit_copies_the_hosts_buffer_unless_told_not_to(tiny_onnx):
    sink = _Frames()
    buf = np.full((64, 80), 7, np.uint8)
    with StreamProcessor(make_engine(tiny_onnx), policy="block", sinks=[sink]) as proc:
        proc.start()
        proc.submit(buf)
        buf[:] = 200  # the host reuses its buffer at once
        proc.submit(buf, copy=False)
        _poll_all(proc, 2)
        proc.stop()
    (f0, p0), (f1, p1) = sink.rows
    assert p0.ok and p1.ok
    assert not np.shares_memory(f0.image, buf) and (f0.image == 7).all()
    assert np.shares_memory(f1.image, buf)


def test_producer_thread_block_policy_every_frame_in_order(tiny_onnx):
    n = 120
    with StreamProcessor(make_engine(tiny_onnx), policy="block") as proc:
        proc.start(fps=30)

        def produce():
            for i in range(n):
                proc.submit(np.full((48, 48), i % 256, np.uint8), timestamp=i / 30)

        th = threading.Thread(target=produce)
        th.start()
        got = _poll_all(proc, n)
        th.join(10)
        summary = proc.stop()
    assert [p.frame_index for p in got] == list(range(n))
    assert [p.timestamp for p in got[:3]] == pytest.approx([0, 1 / 30, 2 / 30])
    assert (summary.frames_read, summary.processed, summary.dropped, summary.errors) == (n, n, 0, 0)
    assert summary.latency["end_to_end"].n == n


def test_stop_drains_and_poll_returns_the_rest(tiny_onnx):
    with StreamProcessor(make_engine(tiny_onnx), policy="block", queue_size=16) as proc:
        proc.start()
        for _ in range(10):
            proc.submit(np.zeros((32, 32), np.uint8))
        summary = proc.stop()
        left = proc.poll()
        with pytest.raises(RtechoError, match="start"):
            proc.submit(np.zeros((32, 32), np.uint8))
    assert summary.processed == 10 and summary.accounted
    assert [p.frame_index for p in left] == list(range(10))


def test_a_running_processor_refuses_a_second_stream(tiny_onnx):
    with StreamProcessor(make_engine(tiny_onnx)) as proc:
        proc.start()
        with pytest.raises(RtechoError, match="already running"):
            proc.start()
        with pytest.raises(RtechoError, match="already running"):
            next(proc.stream([]))
        proc.stop()
        proc.start()  # a new stream after stop: the books start again
        assert proc.counts == {"read": 0, "processed": 0, "dropped": 0, "errors": 0}
        proc.stop()
