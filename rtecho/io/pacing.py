"""Release frames at their own rate: the one pacing generator of every paced path.

A file replayed in real time (``rtecho run --realtime``), a paced synthetic source and the bench's
replay all release frame ``i`` at ``t0 + (t_i - t_0)``, where ``t_i`` is the frame's timestamp, or
``i / fps`` when ``fps`` is given, and ``t0`` is when the first frame was released. A late frame
(the consumer was slow) is released at once: the schedule does not drift, it catches up. Each
released frame's ``arrival`` is stamped at its release, as a scanner delivers it.

>>> import numpy as np
>>> from rtecho.types import Frame
>>> frames = [Frame(np.zeros((2, 2), np.uint8), index=i, timestamp=i / 100) for i in range(3)]
>>> [f.index for f in paced(frames)]
[0, 1, 2]
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Iterator

from rtecho.types import Frame


def paced(
    frames: Iterable[Frame],
    *,
    fps: float | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Frame]:
    """Yield ``frames`` no faster than their timestamps (or ``fps``) say; ends early once ``stop`` is set.

    The next frame is taken from ``frames`` before waiting, so its decoding overlaps the wait.
    """
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    t0: float | None = None
    first_ts = 0.0
    for i, frame in enumerate(frames):
        offset = i / fps if fps is not None else frame.timestamp - first_ts
        if t0 is None:
            t0, first_ts, offset = time.perf_counter(), frame.timestamp, 0.0
        delay = t0 + offset - time.perf_counter()
        if stop is not None:
            if stop.is_set() or (delay > 0 and stop.wait(delay)):
                return
        elif delay > 0:
            time.sleep(delay)
        yield dataclasses.replace(frame, arrival=time.perf_counter())
