"""``rtecho serve``: one rtecho engine behind Ray Serve, batching requests across streams.

The deployment is stateless: it validates each request (shape, dtype, model), runs the engine on
batches formed by ``@serve.batch`` across every request waiting (``max_batch`` images, waiting at
most ``batch_wait_ms`` for more), and answers in the wire format of :mod:`rtecho.runtime.remote`.
Replicas (``replicas``) or autoscaling (``autoscale=(min, max)``) come from Ray Serve; its HTTP
proxy listens on 127.0.0.1 unless told otherwise. Example::

    from rtecho.scale.serve import start_service
    url = start_service("darts2", port=8000)      # -> "http://127.0.0.1:8000/rtecho"
    # scanner side: load_engine("darts2", backend="serve", address=url)
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from rtecho.errors import EngineError, RtechoError, first_line
from rtecho.runtime.remote import BATCH, DTYPE, MODEL, REPLICA, SERVICE_MS, SHAPE, shape_header

APP_NAME = "rtecho"
ROUTE_PREFIX = "/rtecho"


class RequestError(RtechoError, ValueError):
    """A request the service refuses (wrong shape, dtype, size or model)."""


def decode_request(
    headers: Any, body: bytes, input_shape: tuple[int, int, int], sha256: str | None
) -> np.ndarray:
    """The float32 (N, C, H, W) batch of one request, or RequestError saying what is wrong."""
    if sha256 and headers.get(MODEL.lower()) not in (None, "", sha256):
        raise RequestError(
            f"request is for model sha256 {headers.get(MODEL.lower())[:12]}, this service runs {sha256[:12]}"
        )
    dtype = headers.get(DTYPE.lower(), "float32")
    if dtype != "float32":
        raise RequestError(f"dtype must be float32, got {dtype!r}")
    try:
        shape = tuple(int(v) for v in headers.get(SHAPE.lower(), "").split(","))
    except ValueError:
        raise RequestError(f"bad {SHAPE} header {headers.get(SHAPE.lower())!r} (want N,C,H,W)") from None
    if len(shape) != 4 or shape[1:] != tuple(input_shape) or not 1 <= shape[0] <= 4096:
        raise RequestError(
            f"shape must be (N, {', '.join(map(str, input_shape))}) with 1 <= N <= 4096, got {shape}"
        )
    if len(body) != int(np.prod(shape)) * 4:
        raise RequestError(
            f"body has {len(body)} bytes, shape {shape} float32 needs {int(np.prod(shape)) * 4}"
        )
    x = np.frombuffer(body, dtype="<f4").reshape(shape)
    if not np.isfinite(x).all():
        raise RequestError("batch contains NaN or infinite values")
    return x


@dataclass(frozen=True)
class ServiceConfig:
    """What a replica loads and how it batches."""

    model: str = "darts2"
    backend: str | None = None
    precision: str = "fp32"
    threads: int | None = None
    max_batch: int = 32
    batch_wait_ms: float = 2.0


class InferenceService:
    """The Ray Serve deployment class (one instance per replica)."""

    def __init__(self, config: dict[str, Any]) -> None:
        from ray import serve

        from rtecho.runtime import load_engine

        self.config = ServiceConfig(**config)
        opts = {"threads": self.config.threads} if self.config.threads else {}
        self.engine = load_engine(
            self.config.model, backend=self.config.backend, precision=self.config.precision, **opts
        ).open()
        self.engine.infer(np.zeros((1, *self.engine.input_shape), np.float32))  # warm
        self.batches: Counter[int] = Counter()
        try:
            self.replica = str(serve.get_replica_context().replica_id.unique_id)
        except (AttributeError, RuntimeError):
            self.replica = f"pid{os.getpid()}"
        self._batched = serve.batch(
            max_batch_size=self.config.max_batch,
            batch_wait_timeout_s=self.config.batch_wait_ms / 1e3,
            batch_size_fn=lambda items: sum(int(x.shape[0]) for x in items),
        )(self._run_batch)

    async def _run_batch(self, xs: list[np.ndarray]) -> list[tuple[np.ndarray | str, int]]:
        n = sum(int(x.shape[0]) for x in xs)
        self.batches[n] += 1
        try:
            out = self.engine.infer(np.concatenate(xs) if len(xs) > 1 else xs[0])
        except EngineError as exc:
            return [(first_line(exc), n)] * len(xs)
        res, i = [], 0
        for x in xs:
            res.append((out[i : i + x.shape[0]], n))
            i += x.shape[0]
        return res

    def info(self) -> dict[str, Any]:
        card = self.engine.card
        return {
            "name": card.name,
            "onnx_sha256": card.onnx_sha256,
            "backend": self.engine.backend,
            "precision": self.engine.precision,
            "input_shape": list(self.engine.input_shape),
            "labels": list(card.labels),
            "max_batch": self.config.max_batch,
            "batch_wait_ms": self.config.batch_wait_ms,
            "replica": self.replica,
            "pid": os.getpid(),
        }

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import JSONResponse, Response

        t0 = time.perf_counter()
        route = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if request.method == "GET" and route == "info":
            return JSONResponse(self.info())
        if request.method == "GET" and route == "stats":
            return JSONResponse({"replica": self.replica, "pid": os.getpid(), "batches": dict(self.batches)})
        if request.method != "POST" or route != "infer":
            return JSONResponse({"error": f"no route {request.method} {request.url.path}"}, status_code=404)
        try:
            x = decode_request(
                request.headers, await request.body(), self.engine.input_shape, self.engine.card.onnx_sha256
            )
        except RequestError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        out, n = await self._batched(x)
        if isinstance(out, str):
            return JSONResponse({"error": out}, status_code=500)
        headers = {
            SHAPE: shape_header(out.shape),
            SERVICE_MS: f"{(time.perf_counter() - t0) * 1e3:.4f}",
            BATCH: str(n),
            REPLICA: self.replica,
        }
        return Response(
            np.ascontiguousarray(out, "<f4").tobytes(), media_type="application/octet-stream", headers=headers
        )


def build_app(
    config: ServiceConfig,
    replicas: int = 1,
    autoscale: tuple[int, int] | None = None,
    num_cpus: float = 1.0,
) -> Any:
    """The Serve application: ``replicas`` fixed, or ``autoscale=(min, max)`` replicas."""
    from ray import serve

    from rtecho.runtime import resolve_model

    resolve_model(config.model)  # a bad name fails here, in one line, not in a replica's log
    opts: dict[str, Any] = {
        "name": "rtecho",
        "ray_actor_options": {"num_cpus": num_cpus},
        "max_ongoing_requests": max(16, 4 * config.max_batch),
        "health_check_period_s": 2.0,
        "health_check_timeout_s": 10.0,
    }
    if autoscale:
        lo, hi = autoscale
        opts["autoscaling_config"] = {
            "min_replicas": lo,
            "max_replicas": hi,
            "target_ongoing_requests": config.max_batch,
        }
    else:
        opts["num_replicas"] = replicas
    return serve.deployment(InferenceService, **opts).bind(config.__dict__)


def start_service(
    model: str = "darts2",
    *,
    backend: str | None = None,
    precision: str = "fp32",
    threads: int | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    replicas: int = 1,
    autoscale: tuple[int, int] | None = None,
    max_batch: int = 32,
    batch_wait_ms: float = 2.0,
    num_cpus: float = 1.0,
    address: str | None = None,
    ready_timeout: float = 300.0,
) -> str:
    """Start Serve (HTTP proxy on ``host:port``) and the rtecho app on the Ray cluster; returns its URL
    once it answers ``/info`` (or raises RtechoError after ``ready_timeout`` s)."""
    from rtecho.scale.cluster import connect

    connect(address)
    from ray import serve

    config = ServiceConfig(model, backend, precision, threads, max_batch, batch_wait_ms)
    t_end = time.monotonic() + ready_timeout
    while True:
        try:
            serve.start(http_options={"host": host, "port": port})
            break
        except TimeoutError:  # Ray waits 60 s for its HTTP proxy; a loaded machine may need longer
            if time.monotonic() > t_end:
                raise RtechoError(
                    f"Ray Serve's HTTP proxy did not start within {ready_timeout:.0f} s"
                ) from None
    serve.run(build_app(config, replicas, autoscale, num_cpus), name=APP_NAME, route_prefix=ROUTE_PREFIX)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}{ROUTE_PREFIX}"
    wait_ready(url, ready_timeout)
    return url


def wait_ready(url: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``url/info`` until the service answers; returns the info, or raises RtechoError."""
    t_end, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < t_end:
        try:
            with urllib.request.urlopen(f"{url}/info", timeout=2.0) as resp:
                return json.loads(resp.read())
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = first_line(exc)
        time.sleep(0.2)
    raise RtechoError(f"rtecho service at {url} not ready within {timeout:.0f} s ({last})")


def stop_service() -> None:
    """Delete the rtecho app and shut Serve down (Ray itself stays up)."""
    from ray import serve

    serve.shutdown()
