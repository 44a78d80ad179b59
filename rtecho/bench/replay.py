"""A source that replays decoded frames from memory, looped, paced like a scanner or in lockstep."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Sequence

from rtecho.io.pacing import paced
from rtecho.types import Frame, SourceInfo


class ReplaySource:
    """Replays ``frames`` as ``n_frames`` frames (looping) with continuous indices and timestamps.

    Release modes (each frame's ``arrival`` is stamped when it is released, as a scanner delivers it;
    ``decode_ms`` keeps the time the frame really took to decode):

    - ``pace_fps``: release frame ``i`` at ``t0 + i / pace_fps`` (a live scanner);
    - ``lockstep``: release the next frame only after :meth:`done` was called for the previous one
      (closed loop, one frame in flight: latency without queueing, at the highest sustainable rate);
    - neither: as fast as the consumer takes them.

    ``fps`` is what the source reports (the clip's rate: the processor counts deadline misses
    against one period of it). ``timeout`` bounds a lockstep wait, so a lost result cannot hang a run.

    >>> import numpy as np
    >>> from rtecho.types import Frame
    >>> src = ReplaySource([Frame(np.zeros((4, 4), np.uint8), index=0, timestamp=0.0)], fps=30, n_frames=3)
    >>> [f.index for f in src]
    [0, 1, 2]
    """

    def __init__(
        self,
        frames: Sequence[Frame],
        fps: float,
        n_frames: int | None = None,
        pace_fps: float | None = None,
        lockstep: bool = False,
        live: bool = False,
        timeout: float = 5.0,
    ) -> None:
        if not frames:
            raise ValueError("nothing to replay")
        if pace_fps is not None and pace_fps <= 0:
            raise ValueError(f"pace_fps must be positive, got {pace_fps}")
        self.frames, self.fps = list(frames), float(fps)
        self.n_frames = int(n_frames) if n_frames is not None else len(self.frames)
        self.pace_fps, self.lockstep, self.timeout = pace_fps, lockstep, timeout
        self._gate = threading.Semaphore(1)
        self._closed = threading.Event()
        src = frames[0].source
        self.info = SourceInfo(
            uri=f"replay:{src.uri if src else '?'}",
            kind="replay",
            fps=self.fps,
            size_hw=frames[0].size_hw,
            n_frames=self.n_frames,
            live=live,
        )

    def done(self) -> None:
        """The result of the frame in flight is out: release the next one (lockstep mode)."""
        self._gate.release()

    def __iter__(self) -> Iterator[Frame]:
        frames = self._released()
        return paced(frames, fps=self.pace_fps, stop=self._closed) if self.pace_fps else frames

    def _released(self) -> Iterator[Frame]:
        n = len(self.frames)
        for i in range(self.n_frames):
            if self._closed.is_set():
                return
            if self.lockstep and not self._gate.acquire(timeout=self.timeout):
                return  # a result never came back (an error frame does call done()); end the run
            yield dataclasses.replace(
                self.frames[i % n],
                index=i,
                timestamp=i / self.fps,
                arrival=time.perf_counter(),
                source=self.info,
            )

    def close(self) -> None:
        self._closed.set()
        self._gate.release()
