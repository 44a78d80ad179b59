"""An in-process source for embedding: the host pushes images, the stream processor iterates.

``push`` never blocks the host (unless asked to): when the bounded queue is full the oldest
queued frame is dropped and counted in ``n_dropped``. Iteration blocks until a frame arrives or
``close()`` is called; after ``close()`` the frames already queued are still delivered, then
iteration ends.

>>> import numpy as np
>>> from rtecho.io import PushSource
>>> src = PushSource(maxsize=4)
>>> src.push(np.zeros((8, 8), np.uint8), timestamp=0.0).index
0
>>> src.close()
>>> [f.index for f in src]
[0]
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from rtecho.errors import SourceError
from rtecho.io.base import Source
from rtecho.types import Frame, SourceInfo, check_image

_FULL_POLICIES = ("drop_oldest", "drop_newest", "block")


class PushSource(Source):
    """Frames handed over by the host with :meth:`push` (thread-safe, bounded, live).

    ``maxsize``: queue bound. ``when_full``: 'drop_oldest' (default: the host never waits),
    'drop_newest' (the pushed frame is dropped), or 'block' (wait for room, up to ``timeout``).
    ``copy``: copy pushed images, so the host may reuse its buffer. ``fps``: nominal rate, if known.
    """

    kind = "push"
    _stop_on_close = False

    def __init__(
        self,
        maxsize: int = 8,
        *,
        when_full: str = "drop_oldest",
        copy: bool = True,
        fps: float | None = None,
        size_hw: tuple[int, int] | None = None,
        uri: str = "push:",
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        if when_full not in _FULL_POLICIES:
            raise ValueError(f"when_full must be one of {_FULL_POLICIES}, got {when_full!r}")
        super().__init__(SourceInfo(uri=uri, kind=self.kind, fps=fps, size_hw=size_hw, live=True))
        self._maxsize = maxsize
        self._when_full = when_full
        self._copy = copy
        self._queue: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._next_index = 0
        self._start: float | None = None
        self.n_dropped = 0

    def push(self, image: Any, timestamp: float | None = None, *, timeout: float | None = None) -> Frame:
        """Validate ``image`` (uint8 HxW or HxWx3) and queue it; returns the queued Frame.

        ``timestamp`` in seconds on the host's clock; None uses the arrival time since the first
        push. Raises FrameError on a bad image (nothing is queued) and SourceError after close().
        """
        arrival = time.perf_counter()
        image = check_image(image, "pushed image")
        if self._copy:
            image = image.copy()
        with self._cond:
            if self.closed:
                raise SourceError(f"{self.info.uri}: cannot push to a closed source")
            if self._start is None:
                self._start = arrival
            ts = arrival - self._start if timestamp is None else float(timestamp)
            frame = Frame(
                image,
                index=self._next_index,
                timestamp=ts,
                arrival=arrival,
                decode_ms=(time.perf_counter() - arrival) * 1e3,
                source=self.info,
            )
            if len(self._queue) >= self._maxsize:
                if self._when_full == "drop_oldest":
                    self._queue.popleft()
                    self.n_dropped += 1
                elif self._when_full == "drop_newest":
                    self.n_dropped += 1
                    self._next_index += 1
                    return frame
                elif not self._cond.wait_for(
                    lambda: len(self._queue) < self._maxsize or self.closed, timeout=timeout
                ):
                    raise SourceError(f"{self.info.uri}: queue full for {timeout} s, frame not queued")
                if self.closed:
                    raise SourceError(f"{self.info.uri}: cannot push to a closed source")
            self._queue.append(frame)
            self._next_index += 1
            self._cond.notify_all()
        return frame

    def __len__(self) -> int:
        """Frames queued and not yet taken."""
        with self._cond:
            return len(self._queue)

    def _may_iterate_closed(self) -> bool:
        with self._cond:
            return bool(self._queue)

    def _frames(self) -> Iterator[Frame]:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self.closed)
                if not self._queue:
                    return
                frame = self._queue.popleft()
                self._cond.notify_all()
            yield frame

    def _on_close(self) -> None:
        with self._cond:
            self._cond.notify_all()
