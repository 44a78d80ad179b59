"""Where every frame of a stream went: the one accounting object of both stream front ends.

A frame that enters (read from a source, submitted by a host, or handed to ``process``) is counted
in; it leaves as processed, dropped (the ``latest`` policy, or a stream stopped before its turn)
or an error result, and :attr:`StreamSummary.accounted` checks that the books balance. Latency is
kept per stage in fixed memory (:class:`~rtecho.pipeline.timing.LatencyRecorder`), and frames
slower end to end than one frame period are counted as deadline misses.

>>> acc = StreamAccount()
>>> acc.frame_in(); acc.frame_in(); acc.dropped()
>>> acc.counts()
{'read': 2, 'processed': 0, 'dropped': 1, 'errors': 0}
"""

from __future__ import annotations

import threading
import time

from rtecho.pipeline.timing import LatencyRecorder, StreamSummary
from rtecho.types import Prediction


class StreamAccount:
    """Thread-safe frame accounting and latency statistics of one stream (``period_ms``: deadline)."""

    def __init__(self, period_ms: float | None = None) -> None:
        self.period_ms = period_ms
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._read = self._processed = self._dropped = self._errors = self._misses = 0
        self._latency = LatencyRecorder()

    def frame_in(self) -> None:
        with self._lock:
            self._read += 1

    def dropped(self) -> None:
        with self._lock:
            self._dropped += 1

    def result(self, pred: Prediction) -> None:
        """A frame's result (a prediction or an error result)."""
        with self._lock:
            if pred.ok:
                self._processed += 1
                if self.period_ms is not None and pred.timings_ms["end_to_end"] > self.period_ms:
                    self._misses += 1
                self._latency.add(pred)
            else:
                self._errors += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "read": self._read,
                "processed": self._processed,
                "dropped": self._dropped,
                "errors": self._errors,
            }

    def summary(self, *, model: str, backend: str, stream_error: str | None = None) -> StreamSummary:
        with self._lock:
            return StreamSummary(
                frames_read=self._read,
                processed=self._processed,
                dropped=self._dropped,
                errors=self._errors,
                wall_s=time.perf_counter() - self.t0,
                latency=self._latency.stats(),
                stream_error=stream_error,
                model=model,
                backend=backend,
                deadline_misses=self._misses if self.period_ms is not None else None,
            )
