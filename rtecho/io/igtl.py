"""Live OpenIGTLink IMAGE streams (PLUS, 3D Slicer, research scanners): ``igtl://HOST:PORT[/DEVICE]``.

rtecho connects as a client to an OpenIGTLink server and turns its IMAGE messages (uint8 or
uint16, grey, RGB or RGBA, 2-D) into :class:`~rtecho.types.Frame` s whose ``timestamp`` is the
sender's (the header's, seconds since 1970; the local clock where the sender leaves it 0) and
whose source info carries the pixel spacing from the image matrix. Messages of other types or
other devices are skipped and counted; a malformed message is counted, logged and skipped, and
the stream goes on.

Connection handling is rtecho's own, not pyigtl's (whose client keeps only the latest message per
device, spins a core when the server vanishes and never reconnects): one blocking socket read at a
time with a timeout slice of at most 0.25 s (no busy loop; ``close()`` from another thread
wakes it at once), messages framed by the 58-byte header (:mod:`rtecho.io.igtl_codec` decodes
them; pyigtl is not needed at run time). A server that closes the connection, or sends nothing for
``timeout`` seconds (a stall), is counted; the source reconnects with a backoff of 0.05-1 s
and, at the first frame after that, records the gap (seconds on the sender's clock between the
frames either side). A server gone for ``retry`` seconds ends the stream with a SourceError.
The source is live: the stream processor gives it the ``latest`` drop policy.

URI options: ``timeout`` (s, default 2), ``retry`` (s, default 30; ``inf`` never gives up),
``n`` (stop after n frames), ``fps`` (the sender's rate, when known: enables deadline counting),
``bits`` (significant bits of uint16 pixels, default 16).

>>> from rtecho.io.igtl import parse_igtl
>>> parse_igtl("igtl://127.0.0.1:18944/Image_Reference?timeout=1&n=60")
{'host': '127.0.0.1', 'port': 18944, 'device': 'Image_Reference', 'timeout': 1.0, 'n_frames': 60}
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rtecho.errors import SourceError
from rtecho.io.base import Source
from rtecho.io.igtl_codec import HEADER_SIZE, IgtlMessageError, decode_image, parse_header
from rtecho.types import Frame, SourceInfo

log = logging.getLogger(__name__)
DEFAULT_PORT = 18944
_SLICE = 0.25  # longest single blocking read: bounds how late a stall or close() is noticed


class _Lost(Exception):
    """The connection is gone (closed, reset, stalled or unframeable)."""

    def __init__(self, reason: str, stall: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.stall = reason, stall


def parse_igtl(uri: str) -> dict[str, Any]:
    """Keyword arguments of :class:`IgtlSource` from ``igtl://HOST[:PORT][/DEVICE][?key=value&...]``."""
    parts = urlsplit(uri)
    if parts.scheme != "igtl" or not parts.hostname:
        raise SourceError(f"bad OpenIGTLink URI {uri!r} (expected igtl://HOST:PORT[/DEVICE])")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise SourceError(f"bad port in OpenIGTLink URI {uri!r}") from None
    kw: dict[str, Any] = {"host": parts.hostname, "port": port}
    if parts.path.strip("/"):
        kw["device"] = parts.path.strip("/")
    names = {"timeout": ("timeout", float), "retry": ("retry", float), "n": ("n_frames", int)}
    names |= {"fps": ("fps", float), "bits": ("bits", int)}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in names:
            raise SourceError(f"unknown option {key!r} in {uri!r} (known: {', '.join(names)})")
        name, kind = names[key]
        try:
            kw[name] = kind(value)
        except ValueError:
            raise SourceError(f"bad value {key}={value!r} in {uri!r}") from None
    return kw


class IgtlSource(Source):
    """Frames from an OpenIGTLink server's IMAGE messages (``live=True``); see the module docstring.

    The first connection is made when the source is created: a server that is not there raises
    SourceError at once. :meth:`stats` counts messages, frames, skipped and malformed messages,
    stalls, disconnects, reconnects and the last gaps; :meth:`report` says it in one line.

    >>> with IgtlSource("127.0.0.1", 18944, "Image_Reference") as src:  # doctest: +SKIP
    ...     for frame in src:
    ...         print(frame.index, frame.timestamp, frame.size_hw, frame.source.pixel_spacing_mm)
    """

    kind = "igtl"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        device: str | None = None,
        *,
        timeout: float = 2.0,
        retry: float = 30.0,
        n_frames: int | None = None,
        fps: float | None = None,
        bits: int = 16,
        connect_timeout: float = 2.0,
    ) -> None:
        if not (timeout > 0 and retry >= 0 and connect_timeout > 0):
            raise SourceError(
                f"timeout and connect_timeout must be > 0 and retry >= 0 (got {timeout}, {retry})"
            )
        if not 8 <= bits <= 16:
            raise SourceError(f"bits must be 8-16 (significant bits of uint16 pixels), got {bits}")
        if n_frames is not None and n_frames < 0:
            raise SourceError(f"n must be >= 0, got {n_frames}")
        self.host, self.port, self.device = host, int(port), device
        self.timeout, self.retry, self.bits = float(timeout), float(retry), bits
        self.connect_timeout, self.n_frames = float(connect_timeout), n_frames
        uri = f"igtl://{host}:{port}" + (f"/{device}" if device else "")
        self._wake = threading.Event()
        self._sock_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("messages", "frames", "skipped", "malformed", "stalls", "disconnects", "reconnects"), 0
        )
        self._gaps: deque[dict[str, Any]] = deque(maxlen=20)
        self._last_error: str | None = None
        self._pending_gap: dict[str, Any] | None = None
        self._sock: socket.socket | None = None
        super().__init__(
            SourceInfo(uri=uri, kind=self.kind, fps=fps, live=True, extra={"protocol": "OpenIGTLink"})
        )
        try:
            self._sock = self._connect()
        except OSError as exc:
            raise SourceError(
                f"cannot connect to OpenIGTLink server {host}:{port} ({exc.strerror or exc}); is PLUS/Slicer serving?"
            ) from None

    # -- connection ---------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(min(_SLICE, self.timeout))
        return sock

    def _drop(self, lost: _Lost, frames: int) -> None:
        with self._sock_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        with self._stats_lock:
            self._counts["stalls" if lost.stall else "disconnects"] += 1
            self._last_error = lost.reason
        if self._pending_gap is None:
            self._pending_gap = {"reason": lost.reason, "after_frame": frames - 1, "lost_at": time.time()}
        log.warning(
            "%s: connection lost after %d frames: %s; reconnecting", self.info.uri, frames, lost.reason
        )

    def _reconnect(self) -> bool:
        """Connect again (backoff 0.05-1 s); False if closed meanwhile; SourceError after ``retry`` s."""
        t0, delay = time.monotonic(), 0.05
        while not self.closed:
            try:
                sock = self._connect()
            except OSError as exc:
                if time.monotonic() - t0 >= self.retry:
                    gap = self._pending_gap or {}
                    raise SourceError(
                        f"{self.info.uri}: server gone for {self.retry:g} s ({gap.get('reason', 'lost')}; "
                        f"last attempt: {exc.strerror or exc}) after {self._counts['frames']} frames"
                    ) from None
                self._wake.wait(delay)
                delay = min(2 * delay, 1.0)
                continue
            with self._sock_lock:
                if self.closed:
                    sock.close()
                    return False
                self._sock = sock
            with self._stats_lock:
                self._counts["reconnects"] += 1
            log.warning("%s: reconnected after %.2f s", self.info.uri, time.monotonic() - t0)
            return True
        return False

    def _recv(self, sock: socket.socket, n: int) -> bytes | None:
        """Exactly ``n`` bytes; None when closed; _Lost on EOF, reset or ``timeout`` s without a byte."""
        buf = bytearray(n)
        view, got, last = memoryview(buf), 0, time.monotonic()
        while got < n:
            try:
                k = sock.recv_into(view[got:])
            except TimeoutError:
                if self.closed:
                    return None
                if time.monotonic() - last >= self.timeout:
                    raise _Lost(f"stalled: no data for {self.timeout:g} s", stall=True) from None
                continue
            except OSError as exc:
                if self.closed:
                    return None
                raise _Lost(f"connection error: {exc.strerror or exc}") from None
            if k == 0:
                if self.closed:
                    return None
                raise _Lost("server closed the connection")
            got, last = got + k, time.monotonic()
        return bytes(buf)

    # -- frames ---------------------------------------------------------------------------------
    def _frames(self) -> Iterator[Frame]:
        index = 0
        last_ts: float | None = None
        geometry: tuple[Any, ...] | None = None
        while self.n_frames is None or index < self.n_frames:
            sock = self._sock
            if sock is None:
                if not self._reconnect():
                    return
                continue
            t0 = time.perf_counter()
            try:
                raw = self._recv(sock, HEADER_SIZE)
                if raw is None:
                    return
                try:
                    header = parse_header(raw)
                except IgtlMessageError as exc:  # the stream cannot be re-framed: start over
                    self._count_error(exc)
                    raise _Lost(f"unframeable data: {exc}") from None
                body = self._recv(sock, header.body_size) if header.body_size else b""
                if body is None:
                    return
            except _Lost as lost:
                self._drop(lost, index)
                continue
            arrival = time.perf_counter()
            with self._stats_lock:
                self._counts["messages"] += 1
            if header.type != "IMAGE" or (self.device and header.device != self.device):
                with self._stats_lock:
                    self._counts["skipped"] += 1
                continue
            try:
                image = decode_image(header, body, self.bits)
            except IgtlMessageError as exc:
                self._count_error(exc)
                continue
            ts = header.timestamp or time.time()
            shape = (image.pixels.shape[:2], image.spacing_mm, header.device)
            if shape != geometry:
                geometry = shape
                extra = {**self._info.extra, "device": header.device, "dtype": image.dtype}
                self._info = dataclasses.replace(
                    self._info, size_hw=shape[0], pixel_spacing_mm=image.spacing_mm, extra=extra
                )
            if self._pending_gap is not None:
                gap, self._pending_gap = self._pending_gap, None
                gap |= {
                    "resumed_frame": index,
                    "gap_s": round(ts - last_ts, 6) if last_ts is not None else None,
                }
                gap["down_s"] = round(time.time() - gap.pop("lost_at"), 3)
                with self._stats_lock:
                    self._gaps.append(gap)
                log.warning(
                    "%s: resumed at frame %d; gap %s s (%s)",
                    self.info.uri,
                    index,
                    gap["gap_s"],
                    gap["reason"],
                )
            with self._stats_lock:
                self._counts["frames"] += 1
            last_ts = ts
            yield Frame(
                image.pixels,
                index=index,
                timestamp=ts,
                arrival=arrival,
                decode_ms=(arrival - t0) * 1e3,
                source=self._info,
            )
            index += 1

    def _count_error(self, exc: IgtlMessageError) -> None:
        with self._stats_lock:
            self._counts["malformed"] += 1
            self._last_error = str(exc)
        log.warning("%s: %s (message skipped)", self.info.uri, exc)

    # -- reporting and teardown --------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts so far, the last gaps (at most 20) and the last error; safe from any thread."""
        with self._stats_lock:
            return {**self._counts, "gaps": list(self._gaps), "last_error": self._last_error}

    def report(self) -> str:
        """One line: what arrived and what went wrong."""
        s = self.stats()
        text = (
            f"{self.info.uri}: {s['frames']} frames from {s['messages']} messages; skipped {s['skipped']}, "
            f"malformed {s['malformed']}; stalls {s['stalls']}, disconnects {s['disconnects']}, "
            f"reconnects {s['reconnects']}"
        )
        gaps = [g["gap_s"] for g in s["gaps"] if g.get("gap_s") is not None]
        if gaps:
            text += f"; gaps (s) {', '.join(f'{g:.2f}' for g in gaps)}"
        return text + (f"; last error: {s['last_error']}" if s["last_error"] else "")

    def _on_close(self) -> None:
        self._wake.set()
        with self._sock_lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # wakes a blocked read in the reader thread
                sock.shutdown(socket.SHUT_RDWR)

    def _release(self) -> None:
        with self._sock_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
