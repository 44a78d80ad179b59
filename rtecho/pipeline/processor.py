"""The stream processor: reader thread -> bounded queue -> worker -> results.

Two ways in:

- a source (file, DICOM, capture device): ``run(source)`` or ``for p in stream(source)``;
- a host that owns its thread (scanner software): ``start()``, ``submit(image, timestamp)``,
  ``poll()``, ``stop()``; or the synchronous ``process(image)``.

Every frame read is accounted for: processed, dropped (``latest`` policy, counted) or an error
result. Example::

    from rtecho.io import open_source
    from rtecho.runtime import load_engine
    from rtecho.pipeline import StreamProcessor

    with StreamProcessor(load_engine("tiny-untrained")) as proc:
        summary = proc.run(open_source("clip.mp4"))
    print(summary.table())
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from rtecho.errors import FrameError, RtechoError, SourceError
from rtecho.pipeline.compose import build_pipeline
from rtecho.pipeline.queues import POLICIES, Closed, FrameQueue
from rtecho.pipeline.stages import Annotate, FramePipeline
from rtecho.pipeline.timing import LatencyRecorder, StreamSummary
from rtecho.runtime.base import Engine
from rtecho.types import Frame, Prediction

log = logging.getLogger(__name__)

_END = object()


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.read = self.processed = self.dropped = self.errors = 0
        self.misses = 0


class StreamProcessor:
    """Classify every frame of a stream, with per-stage timing and an explicit drop policy.

    ``policy``: ``block`` (lossless, files), ``latest`` (live: stale frames dropped), or None to
    choose from the source (live -> latest). ``realtime`` paces a file at its own fps so latency is
    measured as a scanner would see it. ``callback(prediction)`` runs on the worker thread (keep it
    short); ``sinks`` (objects with ``write(frame, prediction, image)``) are written on the thread
    that consumes results. ``overlay`` (an ``annotate(image, prediction)`` callable) draws on frames.
    ``pipeline``: the stages (:func:`~rtecho.pipeline.build_pipeline`, e.g. ``ultrasound=True``); default
    ``build_pipeline(engine, overlay=overlay)``.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        policy: str | None = None,
        queue_size: int | None = None,
        overlay: Annotate | None = None,
        sinks: Iterable[Any] = (),
        callback: Callable[[Prediction], None] | None = None,
        realtime: bool = False,
        pipeline: FramePipeline | None = None,
        join_timeout: float = 10.0,
    ) -> None:
        if policy is not None and policy not in POLICIES:
            raise ValueError(f"unknown drop policy {policy!r}; known: {', '.join(POLICIES)}")
        self.engine = engine
        self.policy = policy
        self.queue_size = queue_size
        self.sinks = list(sinks)
        self.callback = callback
        self.realtime = realtime
        self.join_timeout = join_timeout
        self._overlay = overlay
        if pipeline is not None and overlay is not None:
            raise ValueError("give the overlay to build_pipeline(), not beside pipeline=")
        self._given = pipeline
        self.pipeline: FramePipeline | None = None
        self.summary: StreamSummary | None = None
        self._reset()

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> StreamProcessor:
        self._ensure_pipeline()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._worker is not None:
            self.stop()
        if self.pipeline is not None:
            self.pipeline.close()
            self.engine.close()
            self.pipeline = None

    def _ensure_pipeline(self) -> FramePipeline:
        if self.pipeline is None:
            self.engine.open()
            self.pipeline = (self._given or build_pipeline(self.engine, overlay=self._overlay)).open()
        return self.pipeline

    def _reset(self) -> None:
        self._counts = _Counts()
        self._latency = LatencyRecorder()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._stream_error: str | None = None
        self._in: FrameQueue[Frame] | None = None
        self._out: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._reader: threading.Thread | None = None
        self._index = itertools.count()
        self._t0 = time.perf_counter()
        self._period_ms: float | None = None

    # -- source mode -----------------------------------------------------------------------------
    def run(self, source: Any) -> StreamSummary:
        """Process a whole source; returns the summary. Source errors end the stream (reported)."""
        for _ in self.stream(source):
            pass
        assert self.summary is not None
        return self.summary

    def stream(self, source: Any) -> Iterator[Prediction]:
        """Yield one Prediction per frame processed or failed, in order; sets ``self.summary`` at the end."""
        self._ensure_pipeline().reset()  # a new stream: the stages forget the last one
        self._reset()
        info = getattr(source, "info", None)
        live = bool(getattr(info, "live", False))
        fps = getattr(info, "fps", None)
        self._period_ms = 1e3 / fps if fps else None
        policy = self.policy or ("latest" if live else "block")
        self._in = FrameQueue(self.queue_size or (1 if policy == "latest" else 8), policy)
        self._reader = threading.Thread(target=self._read, args=(source,), name="rtecho-reader", daemon=True)
        self._worker = threading.Thread(target=self._work, name="rtecho-worker", daemon=True)
        self._worker.start()
        self._reader.start()
        try:
            yield from self._consume()
        finally:
            self._stop.set()
            self._finish(source)

    def _read(self, source: Any) -> None:
        assert self._in is not None
        pace_t0: float | None = None
        ts0 = 0.0
        try:
            for frame in source:
                if self._stop.is_set():
                    break
                with self._counts.lock:
                    self._counts.read += 1
                if self.realtime:
                    if pace_t0 is None:
                        pace_t0, ts0 = time.perf_counter(), frame.timestamp
                    delay = pace_t0 + (frame.timestamp - ts0) - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    frame = dataclasses.replace(frame, arrival=time.perf_counter())
                self._enqueue(frame)
                if self.realtime:
                    # Decode the next frame only once the worker is done with this one (at most one
                    # period later): decoding while the worker runs would make them contend for the
                    # interpreter, and the worker's frame would wait for the decoder.
                    self._in.wait_done(self._period_ms / 1e3 if self._period_ms else 0.1)
        except SourceError as exc:
            self._stream_error = str(exc)
            log.warning("source error: %s", exc)
        except BaseException as exc:  # noqa: BLE001 - a bug in the reader is re-raised in the caller's thread
            self._failure = exc
        finally:
            self._in.close()

    def _enqueue(self, frame: Frame) -> None:
        assert self._in is not None
        rejected = self._in.put(frame, stop=self._stop)
        if rejected is not None:
            with self._counts.lock:
                self._counts.dropped += 1

    def _work(self) -> None:
        assert self._in is not None and self.pipeline is not None
        try:
            while True:
                try:
                    frame = self._in.get()
                except Closed:
                    break
                try:
                    self._emit(frame, *self.pipeline(frame))
                finally:
                    self._in.task_done()
                if not len(self._in):  # no frame waiting: a stage's deferred work, until one comes
                    self.pipeline.idle(self._frame_waiting)
        except BaseException as exc:  # noqa: BLE001 - a bug in the worker is re-raised in the caller's thread
            self._failure = exc
            self._stop.set()
        finally:
            self._out.put(_END)

    def _frame_waiting(self) -> bool:
        return self._stop.is_set() or (self._in is not None and len(self._in) > 0)

    def _emit(self, frame: Frame | None, pred: Prediction, image: np.ndarray | None) -> None:
        with self._counts.lock:
            if pred.ok:
                self._counts.processed += 1
                if self._period_ms is not None and pred.timings_ms["end_to_end"] > self._period_ms:
                    self._counts.misses += 1
            else:
                self._counts.errors += 1
        self._latency.add(pred)
        if self.callback is not None:
            self.callback(pred)
        self._out.put((frame, pred, image))

    def _consume(self) -> Iterator[Prediction]:
        while True:
            try:
                item = self._out.get(timeout=0.1)
            except queue.Empty:
                if self._worker is not None and not self._worker.is_alive() and self._out.empty():
                    break
                continue
            if item is _END:
                break
            frame, pred, image = item
            self._write_sinks(frame, pred, image)
            yield pred
        if self._failure is not None:
            raise self._failure

    def _write_sinks(self, frame: Frame | None, pred: Prediction, image: np.ndarray | None) -> None:
        for sink in self.sinks:
            sink.write(frame, pred, image)

    def _finish(self, source: Any = None) -> None:
        if self._in is not None:
            self._in.close()
        for t in (self._reader, self._worker):
            if t is not None and t is not threading.current_thread():
                t.join(self.join_timeout)
                if t.is_alive():
                    log.warning("%s did not stop within %.1f s", t.name, self.join_timeout)
        if source is not None and hasattr(source, "close"):
            source.close()
        c = self._counts
        with c.lock:
            self.summary = StreamSummary(
                frames_read=c.read,
                processed=c.processed,
                dropped=c.dropped,
                errors=c.errors,
                wall_s=time.perf_counter() - self._t0,
                latency=self._latency.stats(),
                stream_error=self._stream_error,
                model=self.engine.card.name,
                backend=f"{self.engine.backend}/{self.engine.precision}",
                deadline_misses=c.misses if self._period_ms is not None else None,
            )
        self._worker = self._reader = None

    # -- push mode -------------------------------------------------------------------------------
    def start(self, fps: float | None = None) -> StreamProcessor:
        """Start the worker for the push API (policy defaults to ``latest``)."""
        if self._worker is not None:
            raise RtechoError("stream processor is already running")
        self._ensure_pipeline().reset()  # a new stream: the stages forget the last one
        self._reset()
        self._period_ms = 1e3 / fps if fps else None
        policy = self.policy or "latest"
        self._in = FrameQueue(self.queue_size or (1 if policy == "latest" else 8), policy)
        self._worker = threading.Thread(target=self._work, name="rtecho-worker", daemon=True)
        self._worker.start()
        return self

    def _make_frame(self, image: Any, timestamp: float | None) -> Frame | Prediction:
        arrival = time.perf_counter()
        index = next(self._index)
        ts = arrival - self._t0 if timestamp is None else float(timestamp)
        with self._counts.lock:
            self._counts.read += 1
        try:
            return Frame(image, index=index, timestamp=ts, arrival=arrival)
        except FrameError as exc:
            assert self.pipeline is not None
            return self.pipeline.error_result(index, ts if np.isfinite(ts) else 0.0, str(exc))

    def submit(self, image: np.ndarray, timestamp: float | None = None) -> int:
        """Queue one frame from the host's thread; returns its index. Never raises for a bad frame:
        the frame gives an error result instead. Waits at most for one inference (``block``)."""
        if self._worker is None or self._in is None:
            raise RtechoError("call start() before submit()")
        if self._failure is not None:
            raise self._failure
        item = self._make_frame(image, timestamp)
        if isinstance(item, Prediction):
            self._emit(None, item, None)
            return item.frame_index
        self._enqueue(item)
        return item.index

    def poll(self, timeout: float = 0.0) -> list[Prediction]:
        """Results ready now (waiting up to ``timeout`` s for the first); writes them to the sinks."""
        out: list[Prediction] = []
        try:
            item = self._out.get(timeout=timeout) if timeout > 0 else self._out.get_nowait()
            while True:
                if item is not _END:
                    frame, pred, image = item
                    self._write_sinks(frame, pred, image)
                    out.append(pred)
                item = self._out.get_nowait()
        except queue.Empty:
            pass
        if self._failure is not None:
            raise self._failure
        return out

    def process(self, image: np.ndarray, timestamp: float | None = None) -> Prediction:
        """Classify one frame synchronously on the caller's thread (no queue, no drops)."""
        pipeline = self._ensure_pipeline()
        item = self._make_frame(image, timestamp)
        if isinstance(item, Prediction):
            pred, annotated = item, None
        else:
            pred, annotated = pipeline(item)
        with self._counts.lock:
            if pred.ok:
                self._counts.processed += 1
            else:
                self._counts.errors += 1
        self._latency.add(pred)
        self._write_sinks(None if isinstance(item, Prediction) else item, pred, annotated)
        return pred

    def stop(self) -> StreamSummary:
        """Stop the push worker once the queued frames are done; ``poll()`` still returns what is left."""
        self._finish()
        assert self.summary is not None
        return self.summary

    @property
    def counts(self) -> dict[str, int]:
        c = self._counts
        with c.lock:
            return {"read": c.read, "processed": c.processed, "dropped": c.dropped, "errors": c.errors}
