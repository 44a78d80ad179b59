"""TensorRT on an NVIDIA GPU (TensorRT 10 and 11), engines built from ONNX and cached.

Precision is in the ONNX graph: fp32 runs ``NAME.onnx``, fp16 runs ``NAME.fp16.onnx`` and int8 the
symmetric Q/DQ graph ``NAME.int8-sym.onnx`` (or ``NAME.int8.onnx`` when all its zero points are 0),
each verified against the sha256 its card records (``rtecho build`` makes them: s8 activations,
float biases, as TensorRT's ONNX parser demands). Running: one execution context, device buffers sized for ``max_batch``,
``set_input_shape`` + ``set_tensor_address`` + ``execute_async_v3`` on a private CUDA stream.
Buffers come from cuda-python (``cuda.bindings.runtime``, or ``cuda.cudart`` before 12.6), or from
torch CUDA tensors when cuda-python is absent. Options: ``max_batch`` (default 8), ``engine_file``
(a prebuilt ``.engine``), ``cache_dir``, ``device`` (GPU index).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rtecho._lazy import require
from rtecho.card import ModelCard, Quantisation
from rtecho.errors import EngineError, MissingExtraError
from rtecho.runtime.base import Engine
from rtecho.runtime.model_file import sha256_file
from rtecho.runtime.trt_build import (
    EngineKey,
    build_serialized,
    load_or_build,
    load_user_engine,
    timing_cache_path,
)


def int8_variant(model_path: Path, card: ModelCard) -> Path:
    """The INT8 graph TensorRT can parse: ``NAME.int8-sym.onnx``, else a symmetric ``NAME.int8.onnx``."""
    return TensorRTEngine(model_path, card, precision="int8").model_file()


class CudaRuntime:
    """The few CUDA runtime calls the engine needs, via cuda-python."""

    name = "cuda-python"

    def __init__(self, device: int = 0) -> None:
        try:
            self.rt = importlib.import_module("cuda.bindings.runtime")
        except ImportError:
            self.rt = require("cuda.cudart", "trt", "TensorRT buffers")
        err, count = self.rt.cudaGetDeviceCount()
        if err != self.rt.cudaError_t.cudaSuccess or count <= device:
            raise EngineError(
                f"no CUDA GPU available for TensorRT (cudaGetDeviceCount: {err}, {count} device(s))"
            )
        self._call(self.rt.cudaSetDevice(device))
        props = self._call(self.rt.cudaGetDeviceProperties(device))
        name = props.name
        self.gpu_name = (name.decode() if isinstance(name, bytes) else str(name)).split("\x00")[0].strip()
        self.compute_capability = (int(props.major), int(props.minor))
        self.stream = self._call(self.rt.cudaStreamCreate())

    def _call(self, result: Any) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if err != self.rt.cudaError_t.cudaSuccess:
            raise EngineError(f"CUDA error: {err}")
        return rest[0] if len(rest) == 1 else (rest or None)

    @property
    def stream_handle(self) -> int:
        return int(self.stream)

    def alloc(self, nbytes: int) -> int:
        return int(self._call(self.rt.cudaMalloc(nbytes)))

    def free(self, ptr: int) -> None:
        self._call(self.rt.cudaFree(ptr))

    def h2d(self, ptr: int, arr: np.ndarray) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(self.rt.cudaMemcpyAsync(ptr, arr.ctypes.data, arr.nbytes, kind, self.stream))

    def d2h(self, arr: np.ndarray, ptr: int) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(self.rt.cudaMemcpyAsync(arr.ctypes.data, ptr, arr.nbytes, kind, self.stream))

    def sync(self) -> None:
        self._call(self.rt.cudaStreamSynchronize(self.stream))

    def close(self) -> None:
        self._call(self.rt.cudaStreamDestroy(self.stream))


class TorchCuda:
    """The same calls through torch CUDA tensors (when cuda-python is not installed)."""

    name = "torch"

    def __init__(self, device: int = 0) -> None:
        self.torch = require("torch", "train", "TensorRT buffers via torch")
        if not self.torch.cuda.is_available() or self.torch.cuda.device_count() <= device:
            raise EngineError("no CUDA GPU available for TensorRT (torch.cuda.is_available() is False)")
        self.device = self.torch.device("cuda", device)
        self.gpu_name = self.torch.cuda.get_device_name(self.device)
        self.compute_capability = tuple(self.torch.cuda.get_device_capability(self.device))
        self.stream = self.torch.cuda.Stream(self.device)
        self._tensors: dict[int, Any] = {}

    @property
    def stream_handle(self) -> int:
        return int(self.stream.cuda_stream)

    def alloc(self, nbytes: int) -> int:
        t = self.torch.empty(nbytes, dtype=self.torch.uint8, device=self.device)
        self._tensors[t.data_ptr()] = t
        return t.data_ptr()

    def free(self, ptr: int) -> None:
        self._tensors.pop(ptr, None)

    def h2d(self, ptr: int, arr: np.ndarray) -> None:
        with self.torch.cuda.stream(self.stream):
            src = self.torch.from_numpy(arr.reshape(-1).view(np.uint8))
            self._tensors[ptr][: arr.nbytes].copy_(src, non_blocking=False)

    def d2h(self, arr: np.ndarray, ptr: int) -> None:
        with self.torch.cuda.stream(self.stream):
            arr.reshape(-1).view(np.uint8)[:] = self._tensors[ptr][: arr.nbytes].cpu().numpy()

    def sync(self) -> None:
        self.stream.synchronize()

    def close(self) -> None:
        self._tensors.clear()


def open_cuda(device: int = 0) -> CudaRuntime | TorchCuda:
    """cuda-python when installed, else torch with CUDA; EngineError when there is no GPU."""
    try:
        return CudaRuntime(device)
    except MissingExtraError:
        pass
    try:
        return TorchCuda(device)
    except MissingExtraError:
        raise MissingExtraError(
            'TensorRT needs cuda-python (or torch with CUDA) for GPU buffers; install: pip install "rtecho[trt]"'
        ) from None


class TensorRTEngine(Engine):
    """TensorRT GPU engine (options: ``max_batch``, ``engine_file``, ``cache_dir``, ``device``)."""

    backend: ClassVar[str] = "tensorrt"
    precisions: ClassVar[tuple[str, ...]] = ("fp32", "fp16", "int8")
    variant_tags: ClassVar[dict[str, str]] = {"fp16": "fp16", "int8": "int8-sym"}
    quantisation: ClassVar[Quantisation] = Quantisation(activation_type="s8", quantize_bias=False)
    build_options: ClassVar[tuple[str, ...]] = ("max_batch", "cache_dir")
    runs_on: ClassVar[str] = "gpu"

    @classmethod
    def variant_file(cls, model_path: Path, card: ModelCard, precision: str) -> Path | None:
        """As :meth:`Engine.variant_file`; for int8 without ``NAME.int8-sym.onnx`` (file or card entry)
        the CPU variant ``NAME.int8.onnx``, which :meth:`model_file` accepts only when symmetric."""
        path = super().variant_file(model_path, card, precision)
        if precision == "int8" and not path.is_file() and "int8-sym" not in card.variants:
            cpu = card.variants.get("int8")
            return path.with_name(cpu.file if cpu else f"{Path(model_path).stem}.int8.onnx")
        return path

    def model_file(self) -> Path:
        path = super().model_file()
        if self.precision == "int8":
            from rtecho.runtime.precision import zero_points

            if any(z.dtype != np.int8 or np.any(z != 0) for z in zero_points(path).values()):
                raise EngineError(
                    f"{path.name} has non-zero zero points or int32 biases (a CPU variant); TensorRT needs "
                    f"symmetric int8 Q/DQ with float biases: run `rtecho build {self.model_path} --backend "
                    "tensorrt --precision int8 --calib SET`"
                )
        return path

    def _device(self) -> str:
        return f"cuda:{self.options.get('device', 0)} {getattr(self, '_gpu', '')}".strip()

    def _open(self) -> None:
        trt = require("tensorrt", "trt", "the tensorrt backend")
        self._cuda = open_cuda(int(self.options.get("device", 0)))
        self._gpu = self._cuda.gpu_name
        logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(logger)
        self._runtime = runtime

        def deserialize(plan: bytes) -> Any:
            return runtime.deserialize_cuda_engine(plan)

        max_batch = int(self.options.get("max_batch", 8))
        if self.options.get("engine_file"):
            engine = load_user_engine(Path(self.options["engine_file"]), deserialize)
            info = {"engine_file": str(self.options["engine_file"]), "cache": "user"}
            onnx_path = None
        else:
            onnx_path = self.model_file()
            key = EngineKey(
                gpu_name=self._gpu,
                compute_capability=tuple(self._cuda.compute_capability),
                trt_version=str(trt.__version__),
                onnx_sha256=sha256_file(onnx_path),
                precision=self.precision,
                max_batch=max_batch,
            )
            cache = Path(self.options["cache_dir"]) if self.options.get("cache_dir") else None
            tcache = timing_cache_path(key, cache)
            engine, info = load_or_build(
                key,
                self.card.name,
                lambda: build_serialized(trt, logger, onnx_path, max_batch, tcache),
                deserialize,
                cache,
            )
        self._engine = engine
        self._context = engine.create_execution_context()
        if self._context is None:
            raise EngineError(f"TensorRT could not create an execution context for {self.card.name!r}")
        self._setup_io(trt)
        self._settings = {
            "tensorrt": str(trt.__version__),
            "gpu": self._gpu,
            "compute_capability": ".".join(map(str, self._cuda.compute_capability)),
            "max_batch": self._max_batch,
            "buffers": self._cuda.name,
            "file": onnx_path.name if onnx_path else None,
            **info,
        }

    def _setup_io(self, trt: Any) -> None:
        eng = self._engine
        names = [eng.get_tensor_name(i) for i in range(eng.num_io_tensors)]
        inputs = [n for n in names if eng.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if eng.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or not outputs:
            raise EngineError(
                f"engine for {self.card.name!r} has {len(inputs)} inputs; rtecho models take one"
            )
        self._in, self._out = inputs[0], outputs[0]
        self._in_dtype = np.dtype(trt.nptype(eng.get_tensor_dtype(self._in)))
        self._out_dtype = np.dtype(trt.nptype(eng.get_tensor_dtype(self._out)))
        shape = tuple(eng.get_tensor_shape(self._in))
        if shape[0] == -1:
            self._max_batch = int(eng.get_tensor_profile_shape(self._in, 0)[2][0])
        else:
            self._max_batch = int(shape[0])
        k = len(self.card.labels)
        self._in_bytes = self._max_batch * int(np.prod(self.input_shape)) * self._in_dtype.itemsize
        self._out_bytes = self._max_batch * k * self._out_dtype.itemsize
        self._d_in = self._cuda.alloc(self._in_bytes)
        self._d_out = self._cuda.alloc(self._out_bytes)
        self._context.set_tensor_address(self._in, self._d_in)
        self._context.set_tensor_address(self._out, self._d_out)
        self._dynamic = shape[0] == -1

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        outs = [
            self._run_chunk(batch[i : i + self._max_batch]) for i in range(0, len(batch), self._max_batch)
        ]
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def _run_chunk(self, chunk: np.ndarray) -> np.ndarray:
        n = chunk.shape[0]
        if not self._dynamic and n != self._max_batch:  # a static-batch engine: pad
            chunk = np.concatenate([chunk, np.zeros((self._max_batch - n, *chunk.shape[1:]), chunk.dtype)])
        x = np.ascontiguousarray(chunk, dtype=self._in_dtype)
        out = np.empty((x.shape[0], len(self.card.labels)), self._out_dtype)
        if self._dynamic and not self._context.set_input_shape(self._in, tuple(x.shape)):
            raise EngineError(f"TensorRT rejected input shape {x.shape} for {self.card.name!r}")
        self._cuda.h2d(self._d_in, x)
        if not self._context.execute_async_v3(self._cuda.stream_handle):
            raise EngineError(f"TensorRT execution failed for {self.card.name!r}")
        self._cuda.d2h(out, self._d_out)
        self._cuda.sync()
        return out[:n].astype(np.float32, copy=False)

    def _close(self) -> None:
        for ptr in (getattr(self, "_d_in", None), getattr(self, "_d_out", None)):
            if ptr is not None:
                self._cuda.free(ptr)
        self._d_in = self._d_out = None
        self._context = None
        self._engine = None
        self._runtime = None
        self._cuda.close()
