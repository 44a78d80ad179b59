"""Results out over OpenIGTLink: STRING messages for 3D Slicer, PLUS-based navigation or a recorder.

:class:`IgtlSink` is an OpenIGTLink *server* (bound to 127.0.0.1 unless told otherwise) that
any number of clients connect to, as 3D Slicer's OpenIGTLinkIF does with a client connector.
For every result it sends, stamped with the frame's timestamp (the sender's clock for an
``igtl://`` source, so results line up with the images in Slicer):

=====================  ===================================================================
device name            text
=====================  ===================================================================
``rtecho_view``        the reported view (smoothed when smoothing runs): ``A4C``, ``unknown``
                       (rejected as no known view), ``none`` (frame not classified: its mode
                       is not B-mode) or ``error``
``rtecho_confidence``  probability of that view, ``0.934``
``rtecho_mode``        ``bmode``, ``color_doppler``, ``spectral_doppler``, ``mmode``, ...
``rtecho_change``      only when the view changes: ``A2C -> A4C``
``rtecho_result``      the whole result as one compact JSON object (frame, timestamp, label,
                       smoothed label, confidence, accepted, mode, view change, error, end to
                       end latency in ms)
=====================  ===================================================================

In Slicer each device becomes a text node of that name. ``write`` never blocks the stream for
long: each client socket has a 0.2 s send timeout and a client that cannot keep up (or has
gone) is dropped and counted. One service thread accepts clients and discards what they send
(a ``select`` with a 0.25 s timeout, no busy loop). Messages are encoded by
:mod:`rtecho.io.igtl_codec` (version-1 headers with CRC-64).

>>> with IgtlSink("127.0.0.1", 0) as sink:  # port 0: any free port  # doctest: +SKIP
...     print(sink.address)
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import threading
from typing import Any

import numpy as np

from rtecho.io.igtl_codec import pack_string
from rtecho.types import Frame, Prediction
from rtecho.viz.sinks import Sink, SinkError

log = logging.getLogger(__name__)
DEFAULT_RESULTS_PORT = 18945


def parse_address(text: str, default_port: int = DEFAULT_RESULTS_PORT) -> tuple[str, int]:
    """``(host, port)`` from ``HOST:PORT``, ``HOST`` or ``:PORT`` (host defaults to 127.0.0.1)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(default_port)
    try:
        number = int(port)
    except ValueError:
        raise SinkError(f"bad OpenIGTLink address {text!r} (expected HOST:PORT)") from None
    if not 0 <= number <= 65535:
        raise SinkError(f"bad port {number} in {text!r}")
    return host.strip("[]") or "127.0.0.1", number


def view_text(p: Prediction) -> str:
    """What ``rtecho_view`` says for a result."""
    if not p.ok:
        return "error"
    label = p.smoothed_label or p.label
    if label is None:
        return "none"
    return label if p.accepted else "unknown"


class IgtlSink(Sink):
    """Serve every result as OpenIGTLink STRING messages on ``host:port``; see the module docstring."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = DEFAULT_RESULTS_PORT, prefix: str = "rtecho"
    ) -> None:
        if len(prefix) > 9 or not prefix.isascii():
            raise SinkError(
                f"device prefix {prefix!r} must be ASCII, 9 characters at most (names are 20 max)"
            )
        self.prefix = prefix
        self.n_written = 0
        self.n_sent = 0
        self.n_clients_dropped = 0
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        try:
            srv = socket.create_server((host, port))
        except OSError as exc:
            raise SinkError(
                f"cannot serve OpenIGTLink results on {host}:{port}: {exc.strerror or exc}"
            ) from None
        self._server = srv
        self.address: tuple[str, int] = srv.getsockname()[:2]
        self._thread = threading.Thread(target=self._serve, name="rtecho-igtl-out", daemon=True)
        self._thread.start()

    @classmethod
    def from_address(cls, text: str, **kw: Any) -> IgtlSink:
        host, port = parse_address(text)
        return cls(host, port, **kw)

    @property
    def n_clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                watched = [self._server, *self._clients]
            try:
                readable, _, _ = select.select(watched, [], [], 0.25)
            except (OSError, ValueError):  # a socket closed under us: look again
                continue
            for sock in readable:
                if sock is self._server:
                    try:
                        client, peer = self._server.accept()
                    except OSError:
                        continue
                    client.settimeout(0.2)
                    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    with self._lock:
                        self._clients.append(client)
                    log.info("OpenIGTLink results: client %s:%d connected", *peer[:2])
                    continue
                try:
                    data = sock.recv(65536)  # clients may send (status, keep-alive): discarded
                except OSError:
                    data = b""
                if not data:
                    self._forget(sock)

    def _forget(self, sock: socket.socket, dropped: bool = False) -> None:
        with self._lock:
            if sock not in self._clients:
                return
            self._clients.remove(sock)
            self.n_clients_dropped += dropped
        sock.close()

    def messages(self, prediction: Prediction) -> list[bytes]:
        """The encoded messages for one result (what ``write`` sends)."""
        p, ts, name = prediction, prediction.timestamp, self.prefix
        out = [
            pack_string(f"{name}_view", view_text(p), ts),
            pack_string(f"{name}_confidence", f"{p.confidence:.3f}", ts),
            pack_string(f"{name}_mode", p.mode, ts),
        ]
        if p.view_change is not None:
            change = f"{p.view_change.from_label or 'none'} -> {p.view_change.to_label}"
            out.append(pack_string(f"{name}_change", change, ts))
        record = {
            "frame": p.frame_index,
            "timestamp": round(ts, 6),
            "label": p.label,
            "smoothed_label": p.smoothed_label,
            "view": view_text(p),
            "confidence": round(p.confidence, 4),
            "accepted": p.accepted,
            "mode": p.mode,
            "view_change": p.view_change.to_dict() if p.view_change else None,
            "error": p.error,
            "end_to_end_ms": round(p.timings_ms["end_to_end"], 3) if "end_to_end" in p.timings_ms else None,
        }
        out.append(pack_string(f"{name}_result", json.dumps(record, separators=(",", ":")), ts))
        return out

    def write(self, frame: Frame | None, prediction: Prediction, image: np.ndarray | None = None) -> None:
        self._check_open()
        payload = b"".join(self.messages(prediction))
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.sendall(payload)
                self.n_sent += 1
            except OSError as exc:  # timeout (a client too slow to read) or gone
                log.warning(
                    "OpenIGTLink results: dropping a client (%s)", exc.strerror or exc or "send timed out"
                )
                self._forget(client, dropped=True)
        self.n_written += 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        self._thread.join(2.0)
        with self._lock:
            clients, self._clients = self._clients, []
        for sock in [*clients, self._server]:
            with contextlib.suppress(OSError):
                sock.close()
