"""The Engine protocol and the backend registry.

An engine runs one exported model on one backend. Engines are context managers that touch the
device (threads, GPU memory) only when entered, in the manner of Polygraphy's runners::

    with load_engine("engines/darts1.onnx") as engine:
        logits = engine.infer(batch)          # float32 NCHW -> float32 (N, K)

Every fact about a backend sits on its Engine class (its module): the precisions it runs, the
variant file it reads for each (:attr:`Engine.variant_tags`), how its INT8 file is quantised
(:attr:`Engine.quantisation`), what ``rtecho build`` passes it, what the bench runs it with. The
commands and the bench ask the class. A backend is registered with one :class:`BackendSpec` line
naming its module; nothing heavy is imported until an engine of that backend is opened, so a class's
facts can be read without its library installed.
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

from rtecho.card import PRECISIONS as PRECISIONS  # re-exported: the precisions an engine can run
from rtecho.card import ModelCard, Quantisation
from rtecho.errors import EngineError, MissingExtraError


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
    """Base class of every backend. Subclasses implement ``_open``, ``_infer`` and ``_close``, and
    state their facts as class variables (the defaults: fp32 only, no variant files)."""

    backend: ClassVar[str] = ""
    #: Precisions the backend runs.
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    #: precision -> tag of the variant file the backend reads for it (``NAME.TAG.onnx``); a precision
    #: not listed runs the fp32 graph (compiled at that precision, e.g. OpenVINO's bf16).
    variant_tags: ClassVar[Mapping[str, str]] = {}
    #: How ``rtecho calibrate`` / ``rtecho build`` quantise this backend's int8 variant.
    quantisation: ClassVar[Quantisation | None] = None
    #: ``rtecho build`` options passed on to the engine (TensorRT: ``max_batch``, ``cache_dir``).
    build_options: ClassVar[tuple[str, ...]] = ()
    #: Where it runs: ``cpu``, ``gpu`` or ``remote``; ``rtecho calibrate`` checks int8 on CPU backends.
    runs_on: ClassVar[str] = "cpu"
    #: Options the bench loads the engine with; ``bench_baseline``: the bench's speed-up baseline.
    bench_options: ClassVar[Mapping[str, Any]] = {}
    bench_baseline: ClassVar[bool] = False

    def __init__(
        self,
        model_path: Path,
        card: ModelCard,
        precision: str = "fp32",
        file: str | Path | None = None,
        **options: Any,
    ) -> None:
        if precision not in self.precisions:
            raise EngineError(
                f"backend {self.backend!r} does not support precision {precision!r} "
                f"(supported: {', '.join(self.precisions)})"
            )
        self.model_path = Path(model_path)
        self._file = Path(file) if file is not None else None  # a variant file named at load
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

    # -- variant files -----------------------------------------------------------------------------
    @classmethod
    def variant_name(cls, model_path: Path, precision: str) -> str | None:
        """File name of the variant this backend reads for ``precision`` (None: the fp32 graph)."""
        tag = cls.variant_tags.get(precision)
        return None if tag is None else f"{Path(model_path).stem}.{tag}.onnx"

    @classmethod
    def variant_file(cls, model_path: Path, card: ModelCard, precision: str) -> Path | None:
        """The file this backend reads for ``precision`` of the model (None: the fp32 graph);
        the file name the card records for the variant's tag, else :meth:`variant_name`."""
        tag = cls.variant_tags.get(precision)
        if tag is None:
            return None
        recorded = card.variants.get(tag)
        return Path(model_path).with_name(
            recorded.file if recorded else cls.variant_name(model_path, precision)
        )

    @classmethod
    def make_variant(
        cls,
        model_path: Path,
        card: ModelCard,
        precision: str,
        frames: list[np.ndarray] | None = None,
        quantisation: Quantisation | None = None,
    ) -> Path:
        """Write the variant file this backend reads for ``precision`` (fp16: converted from the
        fp32 graph; int8: Q/DQ from calibration ``frames`` with ``quantisation``, by default
        :attr:`quantisation`) and return its path. The caller records it in the card."""
        from rtecho.runtime import precision as prec

        name = cls.variant_name(model_path, precision)
        if name is None:
            raise EngineError(f"{cls.backend} runs {precision} from the fp32 graph: there is no file to make")
        out = Path(model_path).with_name(name)
        if precision == "fp16":
            return prec.to_fp16(model_path, out)
        quantisation = quantisation or cls.quantisation
        if precision == "int8" and quantisation is not None:
            if not frames:
                raise EngineError(f"{out.name} needs calibration frames (--calib / --data calibration/SET)")
            return prec.quantize_qdq(model_path, out, frames, card, **quantisation.kwargs())
        raise EngineError(f"backend {cls.backend!r} does not make {precision} variants")

    @classmethod
    def how_to_make(cls, card: ModelCard, precision: str) -> str:
        """The command that makes this backend's ``precision`` variant of ``card``'s model."""
        if precision == "int8":
            return f"`rtecho calibrate {card.name} --backend {cls.backend} --data calibration/SET`"
        return f"`rtecho build {card.name} --backend {cls.backend} --precision {precision}`"

    def model_file(self) -> Path:
        """The file this engine reads (the variant named at load, else the backend's rule for its
        precision), checked against the sha256 its card records."""
        path = self._file or self.variant_file(self.model_path, self.card, self.precision)
        if path is None:
            return self.model_path
        if not path.is_file():
            raise EngineError(
                f"no {self.precision} variant of {self.card.name!r} at {path}; make it with "
                f"{self.how_to_make(self.card, self.precision)} or use --precision fp32"
            )
        check_recorded(path, self.card)
        return path

    @classmethod
    def not_offered(cls, card: ModelCard, precision: str) -> str | None:
        """Why this backend does not offer ``precision`` of ``card``'s model although it can run it
        (None: offered). Here: the card's variant lists the backends on which it was measured no
        faster than fp32 (``variants[TAG].slower_than_fp32``, written by ``python -m rtecho.bench
        --record-variants``); a backend adds its own facts."""
        tag = cls.variant_tags.get(precision)
        variant = card.variants.get(tag) if tag is not None else None
        m = variant.slower_than_fp32.get(cls.backend) if variant is not None else None
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


def check_recorded(path: Path, card: ModelCard) -> None:
    """EngineError when the card records ``path`` as a variant with another sha256."""
    from rtecho.runtime.model_file import sha256_file

    found = card.variant_for_file(path.name)
    if found is not None and sha256_file(path) != found[1].sha256:
        raise EngineError(
            f"{path} does not match the sha256 recorded in {card.name}'s card (damaged or replaced)"
        )


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: where its Engine class lives and which package it needs (the facts
    about what it runs are on the class: :meth:`engine_class`)."""

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

    def engine_class(self) -> type[Engine]:
        """The backend's Engine class, for its facts; its library need not be installed."""
        try:
            cls = getattr(importlib.import_module(self.module), self.cls)
        except (ImportError, AttributeError) as exc:
            raise EngineError(
                f"backend {self.name!r}: cannot import {self.module}.{self.cls}: {exc}"
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, Engine)):
            raise EngineError(f"backend {self.name!r}: {self.module}.{self.cls} is not an Engine class")
        return cls

    def load_class(self) -> type[Engine]:
        """The Engine class, when the backend's package is installed (MissingExtraError otherwise)."""
        if not self.is_installed():
            raise MissingExtraError(
                f"backend {self.name!r} needs the {self.requires!r} package; "
                f'install it with: pip install "rtecho[{self.extra}]"'
            )
        return self.engine_class()


_REGISTRY: dict[str, BackendSpec] = {}


def register_backend(spec: BackendSpec) -> BackendSpec:
    """Register (or replace) a backend. The first registered installed backend is the default."""
    _REGISTRY[spec.name] = spec
    return spec


def unregister_backend(name: str) -> BackendSpec:
    """Remove a registered backend (a plug-in's, or a test's); returns its spec."""
    try:
        return _REGISTRY.pop(name)
    except KeyError:
        raise EngineError(f"unknown backend {name!r}; known: {', '.join(_REGISTRY)}") from None


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
