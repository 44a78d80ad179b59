"""The :class:`Source` base class: an iterable of :class:`~rtecho.types.Frame` with ``close()``.

A source is opened (and probed) when it is constructed, so a missing or unreadable input fails
at once with a :class:`~rtecho.errors.SourceError`. Iterating decodes frame by frame. ``close()``
may be called from any thread and more than once: a running iteration stops before its next
frame and releases the decoder in its own thread; iterating a closed source raises SourceError.

>>> from rtecho.io import SyntheticSource
>>> with SyntheticSource(n_frames=3, size_hw=(8, 8)) as src:
...     [f.index for f in src]
[0, 1, 2]
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType

from rtecho.errors import SourceError
from rtecho.types import Frame, SourceInfo


class Source(ABC):
    """Base of every frame source: ``info``, ``__iter__``, ``close()``, context manager.

    Subclasses implement :meth:`_frames` (a generator of frames) and, when they hold resources,
    :meth:`_release` (called once, never while a ``_frames`` generator is running).
    """

    def __init__(self, info: SourceInfo) -> None:
        self._info = info
        self._lock = threading.Lock()
        self._closed = False
        self._released = False
        self._active = 0

    @property
    def info(self) -> SourceInfo:
        """What the source knows about its stream (fps, size, frame count, pixel spacing)."""
        return self._info

    @property
    def closed(self) -> bool:
        return self._closed

    def __iter__(self) -> Iterator[Frame]:
        with self._lock:
            if self._closed:
                raise SourceError(f"{self._info.uri}: source is closed")
        return self._run()

    def _run(self) -> Iterator[Frame]:
        with self._lock:
            if self._released:
                return
            self._active += 1
        gen = self._frames()
        try:
            while not self._closed:
                try:
                    frame = next(gen)
                except StopIteration:
                    return
                yield frame
        finally:
            gen.close()
            with self._lock:
                self._active -= 1
                release = self._closed and self._active == 0 and not self._released
                if release:
                    self._released = True
            if release:
                self._release()

    @abstractmethod
    def _frames(self) -> Iterator[Frame]:
        """Yield the frames; runs in the iterating thread."""

    def _release(self) -> None:
        """Free decoders, files and devices (called once)."""
        return None

    def close(self) -> None:
        """Stop the source and free its resources; safe to call twice and from another thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            release = self._active == 0 and not self._released
            if release:
                self._released = True
        self._on_close()
        if release:
            self._release()

    def _on_close(self) -> None:
        """Hook run once by ``close()`` (e.g. to wake a blocked iteration)."""
        return None

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}({self._info.uri!r}, {state})"


def existing_file(path: str | os.PathLike[str], what: str) -> str:
    """Return ``path`` as a string if it names a readable file, else raise a one-line SourceError."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise SourceError(f"{what} not found: {p}")
    if os.path.isdir(p):
        raise SourceError(f"{what} is a directory, not a file: {p}")
    if not os.access(p, os.R_OK):
        raise SourceError(f"{what} is not readable (permission denied): {p}")
    return p
