"""The ``serve`` backend: stateless inference in an ``rtecho serve`` service (Ray Serve), over HTTP.

The scanner side keeps everything that belongs to a stream (stream processor, sector, mode gate,
smoothing, beats, overlay); only the preprocessed network input crosses the wire, so one service
can serve many scanners. The client needs no Ray, only the standard library::

    from rtecho.runtime import load_engine
    engine = load_engine("darts2", backend="serve", address="http://127.0.0.1:8000/rtecho")
    with engine:
        logits = engine.infer(batch)     # float32 (N, C, H, W) -> float32 (N, K), computed remotely

Wire format (raw bytes, no pickle): ``POST {address}/infer`` with the float32 C-order batch as
body and headers ``X-Rtecho-Shape: N,C,H,W``, ``X-Rtecho-Dtype: float32``, ``X-Rtecho-Model:
<onnx sha256>``; the reply is the float32 (N, K) logits with ``X-Rtecho-Shape``,
``X-Rtecho-Service-Ms`` (time the request spent in the service: batching wait plus the model run)
and ``X-Rtecho-Batch`` (images in the batch the service ran it in). An error is a 4xx/5xx reply
with ``{"error": "..."}``. ``GET {address}/info`` describes the served model.

Concurrent ``infer`` calls on one engine (several streams of one scanner sharing it) are coalesced:
``connections`` sender threads each take whatever calls are waiting (up to ``max_batch`` images)
and send them as one request, so a busy scanner sends fewer, larger requests; a lone stream's call
goes out at once. ``transport_ms()`` is the round trip less the service's own time.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections import Counter, deque
from typing import Any, ClassVar
from urllib.parse import urlsplit

import numpy as np

from rtecho.errors import EngineError, first_line
from rtecho.runtime.base import PRECISIONS, Engine

DEFAULT_ADDRESS = "http://127.0.0.1:8000/rtecho"
SHAPE, DTYPE, MODEL = "X-Rtecho-Shape", "X-Rtecho-Dtype", "X-Rtecho-Model"
SERVICE_MS, BATCH, REPLICA = "X-Rtecho-Service-Ms", "X-Rtecho-Batch", "X-Rtecho-Replica"


def parse_address(address: str | None) -> tuple[str, int, str]:
    """``http://host:port/prefix`` or ``host:port`` (prefix ``/rtecho``) -> (host, port, prefix)."""
    text = address or os.environ.get("RTECHO_SERVE_ADDRESS") or DEFAULT_ADDRESS
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme != "http" or not parts.hostname:
        raise EngineError(f"serve backend: address must be http://HOST:PORT[/PREFIX], got {address!r}")
    try:
        port = parts.port or 80
    except ValueError:
        raise EngineError(f"serve backend: bad port in address {address!r}") from None
    prefix = parts.path.rstrip("/") if parts.path not in ("", "/") else "/rtecho"
    return parts.hostname, port, prefix


def shape_header(shape: tuple[int, ...]) -> str:
    return ",".join(str(int(v)) for v in shape)


class _Call:
    __slots__ = ("x", "t0", "done", "out", "error", "service_ms")

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.t0 = time.perf_counter()
        self.done = threading.Event()
        self.out: np.ndarray | None = None
        self.error: str | None = None
        self.service_ms = 0.0


class ServeEngine(Engine):
    """Client of an ``rtecho serve`` service (options: ``address``, ``timeout`` s per request,
    ``connections`` sender threads, ``max_batch`` images per request)."""

    backend: ClassVar[str] = "serve"
    precisions: ClassVar[tuple[str, ...]] = PRECISIONS
    runs_on: ClassVar[str] = "remote"

    def _open(self) -> None:
        self._host, self._port, self._prefix = parse_address(self.options.get("address"))
        self._timeout = float(self.options.get("timeout", 5.0))
        self._max_batch = int(self.options.get("max_batch", 64))
        url = f"http://{self._host}:{self._port}{self._prefix}"
        try:
            status, headers, body = self._request(self._connect(), "GET", "/info")
        except OSError as exc:
            raise EngineError(
                f"no rtecho service reachable at {url} ({first_line(exc)}); start one with `rtecho serve`"
            ) from None
        if status != 200:
            raise EngineError(f"{url}/info answered HTTP {status}: {_error_text(body)}")
        info = json.loads(body)
        if info.get("onnx_sha256") != self.card.onnx_sha256:
            raise EngineError(
                f"the service at {url} serves {info.get('name')!r} (sha256 {str(info.get('onnx_sha256'))[:12]}), "
                f"not {self.card.name!r} (sha256 {str(self.card.onnx_sha256)[:12]})"
            )
        if info.get("precision") != self.precision:
            raise EngineError(
                f"the service at {url} runs {info.get('precision')}, not {self.precision}; "
                f"ask for precision={info.get('precision')!r}"
            )
        self.service_info = info
        self._settings = {
            "address": url,
            "service_backend": f"{info.get('backend')}/{info.get('precision')}",
            "connections": int(self.options.get("connections", 2)),
            "timeout_s": self._timeout,
        }
        self._local = threading.local()
        self._pending: deque[_Call] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self.batch_sizes: Counter[int] = Counter()  # images per service batch, one count per request
        self.requests = 0
        self._senders = [
            threading.Thread(target=self._send_loop, name=f"rtecho-serve-send{i}", daemon=True)
            for i in range(self._settings["connections"])
        ]
        for t in self._senders:
            t.start()

    def _device(self) -> str:
        return f"remote:{self._host}:{self._port}" if self.is_open else "remote"

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def _request(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes | None = None,
        headers=None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn.request(method, self._prefix + path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        call = _Call(batch)
        with self._cond:
            if self._closing:
                raise EngineError("serve engine is closing")
            self._pending.append(call)
            self._cond.notify()
        if not call.done.wait(self._timeout + 1.0):
            call.error = call.error or f"no answer from the service within {self._timeout:.1f} s"
            call.done.set()  # a sender that has not taken it yet skips it
        elapsed = (time.perf_counter() - call.t0) * 1e3
        self._local.transport_ms = max(0.0, elapsed - call.service_ms)
        if call.error is not None or call.out is None:
            raise EngineError(f"serve backend: {call.error}")
        return call.out

    def transport_ms(self) -> float | None:
        return getattr(self._local, "transport_ms", None) if self.is_open else None

    def _take(self) -> list[_Call] | None:
        with self._cond:
            while not self._pending:
                if self._closing:
                    return None
                self._cond.wait(0.1)
            calls, n = [], 0
            while self._pending and (not calls or n + self._pending[0].x.shape[0] <= self._max_batch):
                call = self._pending.popleft()
                if not call.done.is_set():  # else its caller gave up waiting
                    calls.append(call)
                    n += call.x.shape[0]
            return calls

    def _send_loop(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while (calls := self._take()) is not None:
            if not calls:
                continue
            x = calls[0].x if len(calls) == 1 else np.concatenate([c.x for c in calls])
            headers = {
                SHAPE: shape_header(x.shape),
                DTYPE: "float32",
                MODEL: self.card.onnx_sha256 or "",
                "Content-Type": "application/octet-stream",
            }
            try:
                conn = conn or self._connect()
                status, rh, body = self._request(conn, "POST", "/infer", x.tobytes(), headers)
            except (OSError, http.client.HTTPException) as exc:
                if conn is not None:
                    conn.close()
                conn = None
                self._fail(calls, f"request to the service failed: {first_line(exc)}")
                continue
            if status != 200:
                self._fail(calls, f"the service answered HTTP {status}: {_error_text(body)}")
                continue
            try:
                out = _decode_logits(rh, body, x.shape[0], len(self.card.labels))
            except EngineError as exc:
                self._fail(calls, str(exc))
                continue
            service_ms = float(rh.get(SERVICE_MS) or 0.0)
            with self._cond:
                self.requests += 1
                self.batch_sizes[int(rh.get(BATCH) or x.shape[0])] += 1
            i = 0
            for c in calls:
                n = c.x.shape[0]
                c.out, c.service_ms = out[i : i + n], service_ms
                i += n
                c.done.set()
        if conn is not None:
            conn.close()

    @staticmethod
    def _fail(calls: list[_Call], message: str) -> None:
        for c in calls:
            c.error = message
            c.done.set()

    def _close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for t in self._senders:
            t.join(self._timeout + 1.0)
        with self._cond:
            left, self._pending = list(self._pending), deque()
        self._fail(left, "serve engine closed")

    def stats(self) -> dict[str, Any]:
        """Requests sent and the batch sizes the service formed (images per batch -> requests)."""
        with self._cond:
            return {"requests": self.requests, "batch_sizes": dict(sorted(self.batch_sizes.items()))}


def _decode_logits(headers: Any, body: bytes, n: int, k: int) -> np.ndarray:
    if headers.get(SHAPE) != f"{n},{k}" or len(body) != n * k * 4:
        raise EngineError(
            f"the service replied shape {headers.get(SHAPE)} ({len(body)} bytes), expected ({n}, {k})"
        )
    return np.frombuffer(body, dtype="<f4").reshape(n, k).astype(np.float32)


def _error_text(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return first_line(Exception(body[:300].decode("utf-8", "replace"))) if body else "(empty reply)"
