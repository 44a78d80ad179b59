"""ONNX Runtime on the CPU: rtecho's default, embedded backend.

Low-latency settings for a few cores, each a choice measured with ``python -m rtecho.bench``:

- ``intra_op_num_threads = threads`` (default: 1 on machines with <= 2 cores, else min(4, cores)):
  small CNNs at 128x128 run faster on one thread than on two, because the second core is needed
  by the decoder/reader thread and thread hand-off costs more than the tiny kernels gain;
  ``inter_op_num_threads = 1`` with sequential execution (one image at a time, no op parallelism).
- Spinning off by default (``session.intra_op.allow_spinning = 0``): a spinning worker burns the
  core that the reader thread needs; with one intra-op thread it makes no difference anyway.
- ``ORT_ENABLE_ALL`` graph optimisation (constant folding, Conv+BN+activation fusion, layout
  transformation to NCHWc), CPU memory arena and memory patterns on (allocation-free steady state).
- int8 runs the QDQ graph ``NAME.int8.onnx`` beside the fp32 one; one with s8 activations (the
  OpenVINO/TensorRT form) is not offered here (:meth:`OrtEngine.not_offered`): it is slower than fp32.
  ``rtecho calibrate --backend onnxruntime`` quantises it with u8 activations (its fast x86 kernels
  are u8 x s8), s8 weights per channel (:attr:`OrtEngine.quantisation`).
"""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np

from rtecho._lazy import require
from rtecho.card import ModelCard, Quantisation
from rtecho.errors import EngineError, first_line
from rtecho.runtime.base import Engine


def default_threads() -> int:
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores)


class OrtEngine(Engine):
    """ONNX Runtime CPU engine (options: ``threads``, ``spinning``, ``optimization``)."""

    backend: ClassVar[str] = "onnxruntime"
    precisions: ClassVar[tuple[str, ...]] = ("fp32", "int8")
    variant_tags: ClassVar[dict[str, str]] = {"int8": "int8"}
    quantisation: ClassVar[Quantisation] = Quantisation(activation_type="u8")

    @classmethod
    def not_offered(cls, card: ModelCard, precision: str) -> str | None:
        """INT8 with s8 activations is not offered: ONNX Runtime's fast x86 INT8 kernels (VNNI, MLAS)
        take u8 activations; an s8-activation Q/DQ graph (the OpenVINO/TensorRT form) runs 1.7-3x
        slower than fp32 here (``benchmarks/INT8.md``)."""
        if precision == "int8":
            variant = card.variants.get(cls.variant_tags["int8"])
            q = variant.quantisation if variant is not None else None
            if q is None or q.activation_type == "s8":
                made_for = variant.backend if variant is not None else None
                return (
                    f"int8 of {card.name!r} has s8 activations (tuned for {made_for or '?'}); "
                    "ONNX Runtime's x86 INT8 kernels take u8 activations, so it runs slower than fp32 here"
                )
        return super().not_offered(card, precision)

    def _open(self) -> None:
        ort = require("onnxruntime", "onnx", "the onnxruntime backend")
        path = self.model_file()
        threads = int(self.options.get("threads") or default_threads())
        spinning = bool(self.options.get("spinning", False))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = getattr(
            ort.GraphOptimizationLevel, self.options.get("optimization", "ORT_ENABLE_ALL")
        )
        so.enable_cpu_mem_arena = True
        so.enable_mem_pattern = True
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        so.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=so, providers=["CPUExecutionProvider"]
            )
        except _ort_errors() as exc:
            raise EngineError(f"ONNX Runtime cannot load {path}: {first_line(exc)}") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise EngineError(f"{path} has {len(inputs)} inputs; rtecho models take exactly one image batch")
        self._input = inputs[0].name
        self._output = self._session.get_outputs()[0].name
        self._settings = {
            "intra_op_threads": threads,
            "inter_op_threads": 1,
            "spinning": spinning,
            "optimization": so.graph_optimization_level.name,
            "onnxruntime": ort.__version__,
            "file": path.name,
        }

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        try:
            (out,) = self._session.run([self._output], {self._input: batch})
        except _ort_errors() as exc:
            raise EngineError(f"ONNX Runtime failed on {self.card.name!r}: {first_line(exc)}") from None
        return np.asarray(out, dtype=np.float32)

    def _close(self) -> None:
        self._session = None


def _ort_errors() -> tuple[type[BaseException], ...]:
    """ONNX Runtime's own exception classes (pybind11 classes deriving straight from Exception)."""
    state = require("onnxruntime.capi.onnxruntime_pybind11_state", "onnx")
    names = (
        "Fail",
        "InvalidProtobuf",
        "InvalidGraph",
        "NoSuchFile",
        "RuntimeException",
        "InvalidArgument",
        "NotImplemented",
        "EPFail",
        "ModelLoadCanceled",
    )
    return (RuntimeError, ValueError, OSError, *(getattr(state, n) for n in names if hasattr(state, n)))
