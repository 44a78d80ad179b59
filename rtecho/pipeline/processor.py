"""The stream processor: reader thread -> bounded queue -> worker -> results.

Two front ends over one stream core (:class:`_Lane`: queue, worker, results, and the
:class:`~rtecho.pipeline.accounting.StreamAccount` that counts every frame):

- source-driven (file, DICOM, capture device): ``run(source)`` or ``for p in stream(source)``;
- push-driven (scanner software that owns its thread): ``start()``, ``submit(image, timestamp)``,
  ``poll()``, ``stop()``; or the synchronous ``process(image)``.

Every frame in is accounted for: processed, dropped (``latest`` policy, counted) or an error
result. Example::

    from rtecho.io import open_source
    from rtecho.runtime import load_engine
    from rtecho.pipeline import StreamProcessor

    with StreamProcessor(load_engine("tiny-untrained")) as proc:
        summary = proc.run(open_source("clip.mp4"))
    print(summary.table())
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from rtecho.errors import FrameError, RtechoError, SourceError
from rtecho.io.pacing import paced
from rtecho.pipeline.accounting import StreamAccount
from rtecho.pipeline.compose import build_pipeline
from rtecho.pipeline.queues import POLICIES, Closed, FrameQueue
from rtecho.pipeline.stages import Annotate, FramePipeline
from rtecho.pipeline.timing import StreamSummary
from rtecho.runtime.base import Engine
from rtecho.types import Frame, Prediction

log = logging.getLogger(__name__)

_END = object()


class _Lane:
    """One stream in flight: bounded input queue -> worker thread -> results queue, one account."""

    def __init__(
        self,
        pipeline: FramePipeline,
        policy: str,
        queue_size: int | None,
        period_ms: float | None,
        callback: Callable[[Prediction], None] | None,
    ) -> None:
        self.pipeline = pipeline
        self.callback = callback
        self.account = StreamAccount(period_ms)
        self.queue: FrameQueue[Frame] = FrameQueue(queue_size or (1 if policy == "latest" else 8), policy)
        self.out: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.stream_error: str | None = None
        self.reader: threading.Thread | None = None
        self.worker = threading.Thread(target=self._work, name="rtecho-worker", daemon=True)
        self.worker.start()

    def put(self, frame: Frame) -> None:
        """Queue a frame that has entered the stream; a frame it displaces is counted as dropped."""
        if self.queue.put(frame, stop=self.stop) is not None:
            self.account.dropped()

    def emit(self, frame: Frame | None, pred: Prediction, image: np.ndarray | None) -> None:
        self.account.result(pred)
        if self.callback is not None:
            self.callback(pred)
        self.out.put((frame, pred, image))

    def _work(self) -> None:
        try:
            while True:
                try:
                    frame = self.queue.get()
                except Closed:
                    break
                try:
                    self.emit(frame, *self.pipeline(frame))
                finally:
                    self.queue.task_done()
                if not len(self.queue):  # no frame waiting: a stage's deferred work, until one comes
                    self.pipeline.idle(self._frame_waiting)
        except BaseException as exc:  # noqa: BLE001 - a bug in the worker is re-raised in the caller's thread
            self.failure = exc
            self.stop.set()
        finally:
            self.out.put(_END)

    def _frame_waiting(self) -> bool:
        return self.stop.is_set() or len(self.queue) > 0

    def read(self, frames: Iterable[Frame], realtime: bool, period_ms: float | None) -> None:
        """The reader thread of a source-driven stream."""
        try:
            for frame in paced(frames, stop=self.stop) if realtime else frames:
                if self.stop.is_set():
                    break
                self.account.frame_in()
                self.put(frame)
                if realtime:
                    # Decode the next frame only once the worker is done with this one (at most one
                    # period later): decoding while the worker runs would make them contend for the
                    # interpreter, and the worker's frame would wait for the decoder.
                    self.queue.wait_done(period_ms / 1e3 if period_ms else 0.1)
        except SourceError as exc:
            self.stream_error = str(exc)
            log.warning("source error: %s", exc)
        except BaseException as exc:  # noqa: BLE001 - a bug in the reader is re-raised in the caller's thread
            self.failure = exc
        finally:
            self.queue.close()

    def results(self) -> Iterator[tuple[Frame | None, Prediction, np.ndarray | None]]:
        """Results in order until the worker ends (source-driven streams)."""
        while True:
            try:
                item = self.out.get(timeout=0.1)
            except queue.Empty:
                if not self.worker.is_alive() and self.out.empty():
                    break
                continue
            if item is _END:
                break
            yield item
        if self.failure is not None:
            raise self.failure

    def ready(self, timeout: float) -> list[tuple[Frame | None, Prediction, np.ndarray | None]]:
        """Results ready now, waiting up to ``timeout`` s for the first (push-driven streams)."""
        out = []
        try:
            item = self.out.get(timeout=timeout) if timeout > 0 else self.out.get_nowait()
            while True:
                if item is not _END:
                    out.append(item)
                item = self.out.get_nowait()
        except queue.Empty:
            pass
        return out

    def close(self, join_timeout: float) -> None:
        """End the input; the worker finishes what is queued; join both threads (bounded)."""
        self.queue.close()
        for t in (self.reader, self.worker):
            if t is not None and t is not threading.current_thread():
                t.join(join_timeout)
                if t.is_alive():
                    log.warning("%s did not stop within %.1f s", t.name, join_timeout)


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
        self._lane: _Lane | None = None  # the stream in flight (or the last one, for poll after stop)
        self._running = False
        self._new_stream(None)

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> StreamProcessor:
        self._ensure_pipeline()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._running:
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

    def _new_stream(self, policy: str | None, period_ms: float | None = None) -> None:
        """Forget the last stream; with ``policy``, start a lane (its worker) for a new one."""
        self._index = itertools.count()
        if policy is None:
            self._account = StreamAccount(period_ms)
            return
        pipeline = self._ensure_pipeline()
        # a new stream: the stages forget the last one; live when frames come in real time
        pipeline.reset(live=policy == "latest" or self.realtime)
        self._lane = _Lane(pipeline, policy, self.queue_size, period_ms, self.callback)
        self._account = self._lane.account
        self._running = True

    def _finish(self, lane: _Lane, source: Any = None) -> StreamSummary:
        lane.close(self.join_timeout)
        if source is not None and hasattr(source, "close"):
            source.close()
        self._running = False
        return self._summarize(lane.account, lane.stream_error)

    def _summarize(self, account: StreamAccount, stream_error: str | None = None) -> StreamSummary:
        backend = f"{self.engine.backend}/{self.engine.precision}"
        self.summary = account.summary(
            model=self.engine.card.name, backend=backend, stream_error=stream_error
        )
        return self.summary

    def _write_sinks(self, frame: Frame | None, pred: Prediction, image: np.ndarray | None) -> None:
        for sink in self.sinks:
            sink.write(frame, pred, image)

    # -- source-driven front end -----------------------------------------------------------------
    def run(self, source: Any) -> StreamSummary:
        """Process a whole source; returns the summary. Source errors end the stream (reported)."""
        for _ in self.stream(source):
            pass
        assert self.summary is not None
        return self.summary

    def stream(self, source: Any) -> Iterator[Prediction]:
        """Yield one Prediction per frame processed or failed, in order; sets ``self.summary`` at the end."""
        if self._running:
            raise RtechoError("stream processor is already running")
        info = getattr(source, "info", None)
        fps = getattr(info, "fps", None)
        period_ms = 1e3 / fps if fps else None
        self._new_stream(self.policy or ("latest" if getattr(info, "live", False) else "block"), period_ms)
        lane = self._lane
        assert lane is not None
        lane.reader = threading.Thread(
            target=lane.read, args=(source, self.realtime, period_ms), name="rtecho-reader", daemon=True
        )
        lane.reader.start()
        try:
            for frame, pred, image in lane.results():
                self._write_sinks(frame, pred, image)
                yield pred
        finally:
            lane.stop.set()
            self._finish(lane, source)

    # -- push-driven front end -------------------------------------------------------------------
    def start(self, fps: float | None = None) -> StreamProcessor:
        """Start the worker for the push API (policy defaults to ``latest``)."""
        if self._running:
            raise RtechoError("stream processor is already running")
        self._new_stream(self.policy or "latest", 1e3 / fps if fps else None)
        return self

    def _make_frame(self, image: Any, timestamp: float | None, copy: bool) -> Frame | Prediction:
        """The pushed image as a Frame (counted in), or an error result when it is not a frame."""
        arrival = time.perf_counter()
        index = next(self._index)
        ts = arrival - self._account.t0 if timestamp is None else float(timestamp)
        self._account.frame_in()
        if copy and isinstance(image, np.ndarray):  # the host may reuse its buffer while the frame waits
            image = image.copy()
        try:
            return Frame(image, index=index, timestamp=ts, arrival=arrival)
        except FrameError as exc:
            assert self.pipeline is not None
            return self.pipeline.error_result(index, ts if np.isfinite(ts) else 0.0, str(exc))

    def submit(self, image: np.ndarray, timestamp: float | None = None, *, copy: bool = True) -> int:
        """Queue one frame from the host's thread; returns its index. Never raises for a bad frame:
        the frame gives an error result instead. Waits at most for one inference (``block``).

        ``copy``: copy the image first (default), so that the host may reuse its buffer at once.
        """
        lane = self._lane
        if not self._running or lane is None:
            raise RtechoError("call start() before submit()")
        if lane.failure is not None:
            raise lane.failure
        item = self._make_frame(image, timestamp, copy)
        if isinstance(item, Prediction):
            lane.emit(None, item, None)
            return item.frame_index
        lane.put(item)
        return item.index

    def poll(self, timeout: float = 0.0) -> list[Prediction]:
        """Results ready now (waiting up to ``timeout`` s for the first); writes them to the sinks."""
        lane = self._lane
        if lane is None:
            return []
        out = []
        for frame, pred, image in lane.ready(timeout):
            self._write_sinks(frame, pred, image)
            out.append(pred)
        if lane.failure is not None:
            raise lane.failure
        return out

    def stop(self) -> StreamSummary:
        """Stop the push worker once the queued frames are done; ``poll()`` still returns what is left."""
        if self._lane is None or not self._running:  # nothing running: the books as they stand
            return self._summarize(self._account)
        return self._finish(self._lane)

    def process(self, image: np.ndarray, timestamp: float | None = None) -> Prediction:
        """Classify one frame synchronously on the caller's thread (no queue, no drops)."""
        pipeline = self._ensure_pipeline()
        item = self._make_frame(image, timestamp, copy=False)
        if isinstance(item, Prediction):
            frame, pred, annotated = None, item, None
        else:
            frame, (pred, annotated) = item, pipeline(item)
        self._account.result(pred)
        self._write_sinks(frame, pred, annotated)
        return pred

    @property
    def counts(self) -> dict[str, int]:
        """Frames in (``read``), ``processed``, ``dropped`` and ``errors`` of the current stream."""
        return self._account.counts()
