"""The Engine protocol and the backend registry.

An engine runs one exported model on one backend. Engines are context managers that touch the
device (threads, GPU memory) only when entered, in the manner of Polygraphy's runners::

    with load_engine("engines/darts1.onnx") as engine:
        logits = engine.infer(batch)          # float32 NCHW -> float32 (N, K)

Backends register a lazily imported module by name; nothing heavy is imported until an engine of
that backend is loaded.
"""

from __future__ import annotations

import abc
import importlib
import importlib.util
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rtecho.errors import EngineError, MissingExtraError
from rtecho.types import ModelCard

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True)
class EngineInfo:
    """Identity and settings of a loaded engine (what the bench and the JSONL log report)."""

    name: str
    backend: str
    precision: str
    input_size_hw: tuple[int, int]
    channels: int
    labels: tuple[str, ...]
    model_path: str
    onnx_sha256: str | None
    device: str = "cpu"
    settings: Mapping[str, Any] = field(default_factory=dict)


class Engine(abc.ABC):
    """Base class of every backend. Subclasses implement ``_open``, ``_infer`` and ``_close``."""

    backend: ClassVar[str] = ""
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)

    def __init__(self, model_path: Path, card: ModelCard, precision: str = "fp32", **options: Any) -> None:
        if precision not in self.precisions:
            raise EngineError(
                f"backend {self.backend!r} does not support precision {precision!r} "
                f"(supported: {', '.join(self.precisions)})"
            )
        self.model_path = Path(model_path)
        self.card = card
        self.precision = precision
        self.options = dict(options)
        self._open_count = 0
        self._lock = threading.Lock()
        self._settings: dict[str, Any] = {}

    # -- context manager -------------------------------------------------------------------------
    def open(self) -> Engine:
        """Acquire threads/device memory. Re-entrant: nested opens share one session."""
        with self._lock:
            if self._open_count == 0:
                self._open()
            self._open_count += 1
        return self

    def close(self) -> None:
        with self._lock:
            if self._open_count == 0:
                return
            self._open_count -= 1
            if self._open_count == 0:
                self._close()

    def __enter__(self) -> Engine:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._open_count > 0

    # -- inference -------------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input image."""
        return (self.card.channels, *self.card.input_size_hw)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Run the model on a float32 NCHW batch; returns float32 logits of shape (N, K), or (N, K, H, W)
        for a segmentation card (per-pixel logits at the input size)."""
        if not self.is_open:
            raise EngineError(
                f"{self.backend} engine for {self.card.name!r} is not open: use `with load_engine(...) as engine:`"
            )
        if not isinstance(batch, np.ndarray) or batch.dtype != np.float32:
            raise EngineError(
                f"infer() takes a float32 numpy array, got {getattr(batch, 'dtype', type(batch))}"
            )
        if batch.ndim != 4 or batch.shape[1:] != self.input_shape or batch.shape[0] < 1:
            raise EngineError(
                f"infer() takes shape (N, {', '.join(map(str, self.input_shape))}), got {batch.shape}"
            )
        out = self._infer(np.ascontiguousarray(batch))
        want = (batch.shape[0], len(self.card.labels))
        if self.card.task == "segmentation":  # per-pixel logits at the input size
            want = (*want, *self.card.input_size_hw)
        if out.shape != want:
            raise EngineError(f"model {self.card.name!r} returned shape {out.shape}, expected {want}")
        return out

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(
            name=self.card.name,
            backend=self.backend,
            precision=self.precision,
            input_size_hw=self.card.input_size_hw,
            channels=self.card.channels,
            labels=self.card.labels,
            model_path=str(self.model_path),
            onnx_sha256=self.card.onnx_sha256,
            device=self._device(),
            settings=dict(self._settings),
        )

    def transport_ms(self) -> float | None:
        """Milliseconds of this thread's last ``infer`` spent outside the model (network,
        serialisation); None for an in-process engine. The pipeline reports it as ``transport``."""
        return None

    def _device(self) -> str:
        return "cpu"

    @classmethod
    def not_offered(cls, card: ModelCard, precision: str) -> str | None:
        """Why this backend does not offer ``precision`` of ``card``'s model although it can run it
        (None: offered). Here: the card's variant section lists the backends on which the variant
        was measured no faster than fp32 (``extra.variants[precision].slower_than_fp32``, written by
        ``python -m rtecho.bench --record-variants``); a backend adds its own facts."""
        if precision == "fp32":
            return None
        slow = card.extra.get("variants", {}).get(precision, {}).get("slower_than_fp32", {})
        m = slow.get(cls.backend) if isinstance(slow, dict) else None
        if m is None:
            return None
        return (
            f"{precision} of {card.name!r} measured no faster than fp32 on {cls.backend} "
            f"(infer p50 {m.get('infer_ms', '?')} ms vs fp32 {m.get('fp32_infer_ms', '?')} ms)"
        )

    @abc.abstractmethod
    def _open(self) -> None: ...

    @abc.abstractmethod
    def _infer(self, batch: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<{type(self).__name__} {self.card.name} {self.backend}/{self.precision} {state}>"


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: where its Engine class lives and which package it needs."""

    name: str
    module: str
    cls: str
    requires: str
    extra: str
    description: str = ""
    remote: bool = False  # runs elsewhere (a service): never chosen as the default backend

    def is_installed(self) -> bool:
        try:
            return importlib.util.find_spec(self.requires) is not None
        except (ImportError, ValueError):  # a broken or blocked install counts as absent
            return False

    def load_class(self) -> type[Engine]:
        if not self.is_installed():
            raise MissingExtraError(
                f"backend {self.name!r} needs the {self.requires!r} package; "
                f'install it with: pip install "rtecho[{self.extra}]"'
            )
        return getattr(importlib.import_module(self.module), self.cls)


_REGISTRY: dict[str, BackendSpec] = {}


def register_backend(spec: BackendSpec) -> BackendSpec:
    """Register (or replace) a backend. The first registered installed backend is the default."""
    _REGISTRY[spec.name] = spec
    return spec


def get_backend(name: str) -> BackendSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise EngineError(f"unknown backend {name!r}; known: {', '.join(_REGISTRY)}") from None


def list_backends() -> list[str]:
    """Every registered backend name, in order of preference."""
    return list(_REGISTRY)


def available_backends(remote: bool = False) -> list[str]:
    """Registered backends whose package is installed, in order of preference; remote ones (a
    service that must be running somewhere) only with ``remote=True``."""
    return [name for name, spec in _REGISTRY.items() if spec.is_installed() and (remote or not spec.remote)]


for _spec in (
    BackendSpec("onnxruntime", "rtecho.runtime.ort", "OrtEngine", "onnxruntime", "onnx", "ONNX Runtime, CPU"),
    BackendSpec("openvino", "rtecho.runtime.ov", "OpenVinoEngine", "openvino", "openvino", "OpenVINO, CPU"),
    BackendSpec(
        "tensorrt", "rtecho.runtime.trt", "TensorRTEngine", "tensorrt", "trt", "TensorRT, NVIDIA GPU"
    ),
    BackendSpec(
        "torch", "rtecho.runtime.torch_ref", "TorchEngine", "torch", "train", "torch eager, reference"
    ),
    BackendSpec(
        "serve",
        "rtecho.runtime.remote",
        "ServeEngine",
        "http.client",
        "scale",
        "an `rtecho serve` service (Ray Serve) over HTTP; option address=",
        remote=True,
    ),
):
    register_backend(_spec)
