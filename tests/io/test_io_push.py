"""PushSource: validation, bounded queue policies, producer/consumer threads, close drains."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rtecho.errors import FrameError, SourceError
from rtecho.io import PushSource


def _img(v: int = 0) -> np.ndarray:
    return np.full((8, 12), v, np.uint8)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((8, 12), np.float32),
        np.zeros((8, 12, 4), np.uint8),
        np.zeros((0, 12), np.uint8),
        [[1, 2]],
        None,
    ],
)
def test_bad_frames_raise_frame_error_and_queue_nothing(bad: object) -> None:
    src = PushSource()
    with pytest.raises(FrameError):
        src.push(bad)
    assert len(src) == 0
    src.push(_img())  # the source still works
    assert len(src) == 1


def test_indices_timestamps_and_copy() -> None:
    src = PushSource(maxsize=4)
    buf = _img(1)
    f0 = src.push(buf, timestamp=10.0)
    buf[:] = 99  # the host reuses its buffer
    f1 = src.push(buf)
    assert (f0.index, f1.index) == (0, 1)
    assert f0.timestamp == 10.0 and f1.timestamp >= 0.0
    assert f0.source is src.info and src.info.live
    src.close()
    got = list(src)
    assert [f.index for f in got] == [0, 1]
    assert got[0].image[0, 0] == 1


def test_drop_oldest_when_full() -> None:
    src = PushSource(maxsize=2)
    for i in range(5):
        src.push(_img(i))
    assert src.n_dropped == 3 and len(src) == 2
    src.close()
    assert [f.index for f in src] == [3, 4]


def test_drop_newest_and_block_timeout() -> None:
    src = PushSource(maxsize=1, when_full="drop_newest")
    src.push(_img(0))
    src.push(_img(1))
    assert src.n_dropped == 1
    src.close()
    assert [f.index for f in src] == [0]
    blocking = PushSource(maxsize=1, when_full="block")
    blocking.push(_img(0))
    with pytest.raises(SourceError, match="queue full"):
        blocking.push(_img(1), timeout=0.01)


def test_producer_consumer_threads_close_drains() -> None:
    src = PushSource(maxsize=1000)
    n = 200
    received: list[int] = []

    def consume() -> None:
        received.extend(f.index for f in src)

    consumer = threading.Thread(target=consume)
    consumer.start()

    def produce() -> None:
        for i in range(n):
            src.push(_img(i % 256))
        src.close()

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join(timeout=10)
    consumer.join(timeout=10)
    assert not consumer.is_alive(), "iteration did not end after close()"
    assert received == list(range(n))


def test_close_wakes_a_blocked_consumer() -> None:
    src = PushSource()
    done = threading.Event()

    def consume() -> None:
        for _ in src:
            pass
        done.set()

    t = threading.Thread(target=consume)
    t.start()
    assert not done.wait(0.05)  # blocked: nothing pushed yet
    src.close()
    t.join(timeout=5)
    assert done.is_set()


def test_push_after_close_and_iterate_closed_empty() -> None:
    src = PushSource()
    src.close()
    src.close()
    with pytest.raises(SourceError, match="closed"):
        src.push(_img())
    with pytest.raises(SourceError, match="closed"):
        iter(src)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        PushSource(maxsize=0)
    with pytest.raises(ValueError):
        PushSource(when_full="sometimes")
