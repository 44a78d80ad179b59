"""A bounded frame queue with an explicit drop policy.

- ``block``: ``put`` waits while the queue is full (lossless; for files).
- ``latest``: ``put`` never waits; when full, the OLDEST queued item is dropped and returned, so the
  worker always takes the freshest frame next (for live sources: stale frames are dropped and
  counted, never queued up).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")

POLICIES: tuple[str, ...] = ("block", "latest")


class Closed(Exception):
    """Raised by ``get`` once the queue is closed and empty."""


class FrameQueue(Generic[T]):
    def __init__(self, maxsize: int, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown drop policy {policy!r}; known: {', '.join(POLICIES)}")
        if maxsize < 1:
            raise ValueError(f"queue size must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.policy = policy
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._unfinished = 0  # queued or being processed (``task_done`` not yet called)

    def put(self, item: T, stop: threading.Event | None = None) -> T | None:
        """Queue ``item``; returns the item dropped to make room (``latest`` only), else None.

        Under ``block``, waits for room; returns ``item`` itself (not queued) if ``stop`` is set
        or the queue is closed meanwhile, so that the caller can account for it.
        """
        with self._cond:
            if self.policy == "latest":
                dropped = self._items.popleft() if len(self._items) >= self.maxsize else None
                self._items.append(item)
                self._unfinished += dropped is None
                self._cond.notify_all()
                return dropped
            while len(self._items) >= self.maxsize:
                if self._closed or (stop is not None and stop.is_set()):
                    return item
                self._cond.wait(0.05)
            self._items.append(item)
            self._unfinished += 1
            self._cond.notify_all()
            return None

    def get(self) -> T:
        """Next item, waiting for one; raises :class:`Closed` when closed and drained."""
        with self._cond:
            while not self._items:
                if self._closed:
                    raise Closed
                self._cond.wait(0.1)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def task_done(self) -> None:
        """The consumer has finished the item it took last (as ``queue.Queue.task_done``)."""
        with self._cond:
            self._unfinished = max(0, self._unfinished - 1)
            self._cond.notify_all()

    def wait_done(self, timeout: float) -> bool:
        """Wait until every queued item has been taken and finished, or the queue is closed, at most
        ``timeout`` seconds; True when nothing is left."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._unfinished and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self._unfinished == 0

    def close(self) -> None:
        """No more puts; ``get`` drains what is queued, then raises Closed."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
