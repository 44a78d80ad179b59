"""OpenVINO on the CPU, compiled for latency (``PERFORMANCE_HINT=LATENCY``).

Precision: fp32 (``INFERENCE_PRECISION_HINT=f32``), bf16 on CPUs with AVX-512 BF16/AMX
(``INFERENCE_PRECISION_HINT=bf16``, compiled from the fp32 graph), int8 from the QDQ graph
``NAME.int8.onnx`` (the file ONNX Runtime reads too), quantised for OpenVINO with symmetric s8
activations and s8 weights per channel (``benchmarks/INT8.md``).
One infer request per engine, guarded by a lock (requests are not thread-safe).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from rtecho._lazy import require
from rtecho.card import Quantisation
from rtecho.errors import EngineError, first_line
from rtecho.runtime.base import Engine


@lru_cache(maxsize=1)
def _core() -> Any:
    """One OpenVINO Core per process: creating a Core per engine and compiling again after worker
    threads used another one crashed the process now and then (seen in the bench's tests)."""
    ov = require("openvino", "openvino", "the openvino backend")
    return ov.Core()


class OpenVinoEngine(Engine):
    """OpenVINO CPU engine (options: ``threads``, ``hint`` = LATENCY|THROUGHPUT)."""

    backend: ClassVar[str] = "openvino"
    precisions: ClassVar[tuple[str, ...]] = ("fp32", "bf16", "int8")
    variant_tags: ClassVar[dict[str, str]] = {"int8": "int8"}
    quantisation: ClassVar[Quantisation] = Quantisation(activation_type="s8")

    def _open(self) -> None:
        ov = require("openvino", "openvino", "the openvino backend")
        path = self.model_file()
        core = _core()
        config = {"PERFORMANCE_HINT": str(self.options.get("hint", "LATENCY")).upper()}
        if self.options.get("threads"):
            config["INFERENCE_NUM_THREADS"] = int(self.options["threads"])
        if self.precision == "bf16":
            caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            if "BF16" not in caps:
                raise EngineError(
                    f"this CPU has no bf16 support in OpenVINO (capabilities: {', '.join(caps)})"
                )
            config["INFERENCE_PRECISION_HINT"] = "bf16"
        elif self.precision == "fp32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        try:
            model = core.read_model(str(path))
            self._compiled = core.compile_model(model, "CPU", config)
        except RuntimeError as exc:
            raise EngineError(f"OpenVINO cannot load {path}: {first_line(exc)}") from None
        self._request = self._compiled.create_infer_request()
        self._req_lock = threading.Lock()
        self._settings = {
            "hint": config["PERFORMANCE_HINT"],
            "threads": self._compiled.get_property("INFERENCE_NUM_THREADS"),
            "inference_precision": str(self._compiled.get_property("INFERENCE_PRECISION_HINT")),
            "openvino": ov.__version__.split("-")[0],
            "file": path.name,
        }

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        with self._req_lock:
            try:
                self._request.infer({0: batch})
            except RuntimeError as exc:
                raise EngineError(
                    f"OpenVINO failed on {self.card.name!r}: {str(exc).strip()[:300]}"
                ) from None
            return np.array(self._request.get_output_tensor(0).data, dtype=np.float32)

    def _close(self) -> None:
        self._request = None
        self._compiled = None
