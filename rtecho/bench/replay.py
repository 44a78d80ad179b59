"""A source that replays decoded frames from memory, looped, optionally paced like a live scanner."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence

from rtecho.types import Frame, SourceInfo


class ReplaySource:
    """Replays ``frames`` ``loops`` times with continuous indices and timestamps.

    With ``pace`` the frames are released at ``fps`` (each frame's arrival is stamped when it is
    released, as a scanner delivers it); ``decode_ms`` keeps the time the frame really took to decode.
    """

    def __init__(
        self, frames: Sequence[Frame], fps: float, loops: int = 1, pace: bool = False, live: bool = False
    ):
        if not frames:
            raise ValueError("nothing to replay")
        self.frames, self.fps, self.loops, self.pace = list(frames), float(fps), int(loops), pace
        src = frames[0].source
        self.info = SourceInfo(
            uri=f"replay:{src.uri if src else '?'}",
            kind="replay",
            fps=self.fps,
            size_hw=frames[0].size_hw,
            n_frames=len(self.frames) * self.loops,
            live=live,
        )

    def __iter__(self) -> Iterator[Frame]:
        t0 = time.perf_counter()
        n = len(self.frames)
        for i in range(n * self.loops):
            if self.pace:
                delay = t0 + i / self.fps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            yield dataclasses.replace(
                self.frames[i % n],
                index=i,
                timestamp=i / self.fps,
                arrival=time.perf_counter(),
                source=self.info,
            )

    def close(self) -> None:
        pass
