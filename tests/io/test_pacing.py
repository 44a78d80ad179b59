"""The one pacing generator: frame i no earlier than its schedule, late frames never skipped, stop ends it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rtecho.io.pacing import paced
from rtecho.types import Frame


def _frames(n, fps=100.0):
    return [Frame(np.zeros((4, 4), np.uint8), index=i, timestamp=5.0 + i / fps) for i in range(n)]


def test_fps_schedule_and_arrival_stamped_at_release():
    t0 = time.perf_counter()
    out = list(paced(_frames(6), fps=50.0))
    assert [f.index for f in out] == list(range(6))
    for i, f in enumerate(out):
        assert f.arrival >= t0 and f.arrival - out[0].arrival >= i / 50.0 - 1e-4


def test_timestamp_schedule():
    frames = [
        Frame(np.zeros((4, 4), np.uint8), index=i, timestamp=ts) for i, ts in enumerate((1.0, 1.03, 1.09))
    ]
    out = list(paced(frames))
    assert out[1].arrival - out[0].arrival >= 0.03 - 1e-4
    assert out[2].arrival - out[0].arrival >= 0.09 - 1e-4


def test_late_frames_are_released_not_skipped():
    out = []
    for f in paced(_frames(5, fps=200.0), fps=200.0):
        out.append(f.index)
        time.sleep(0.02)  # a consumer slower than the schedule
    assert out == list(range(5))


def test_stop_ends_a_wait():
    stop = threading.Event()
    got = []

    def consume():
        got.extend(f.index for f in paced(_frames(100), fps=2.0, stop=stop))

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.1)
    stop.set()
    t.join(5)
    assert not t.is_alive() and got == [0]


def test_bad_fps():
    with pytest.raises(ValueError, match="positive"):
        list(paced(_frames(1), fps=0.0))
