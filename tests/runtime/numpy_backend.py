"""A backend written outside rtecho, for the plug-in test: numpy running the tiny test classifier.

It is everything a new backend brings, in one module: the Engine class with its facts (precisions,
the name of its fp16 variant file ``NAME.fp16.npz``, how that file is made). Registering it is one
line: ``register_backend(BackendSpec("numpy-ref", "tests.runtime.numpy_backend", "NumpyEngine",
"numpy", "dev", "numpy, tiny-cnn only"))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rtecho.card import ModelCard
from rtecho.errors import EngineError
from rtecho.runtime.base import Engine


def read_weights(onnx_path: Path) -> dict[str, np.ndarray]:
    """The initializers of an ONNX file, by name."""
    import onnx
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_path)).graph.initializer}


def forward(weights: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """The tiny classifier (stride-2 3x3 convs with ReLU, global average pool, linear) in numpy."""
    i = 0
    while f"conv{i}.w" in weights:
        w, b = weights[f"conv{i}.w"].astype(np.float32), weights[f"conv{i}.b"].astype(np.float32)
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        windows = sliding_window_view(padded, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
        x = np.maximum(np.einsum("nchwij,ocij->nohw", windows, w, optimize=True) + b[:, None, None], 0)
        i += 1
    feat = x.mean(axis=(2, 3))
    return (feat @ weights["fc.w"].astype(np.float32).T + weights["fc.b"].astype(np.float32)).astype(
        np.float32
    )


class NumpyEngine(Engine):
    """numpy on the CPU, for ``tiny-cnn`` cards only; fp16 runs half-precision weights from ``NAME.fp16.npz``."""

    backend: ClassVar[str] = "numpy-ref"
    precisions: ClassVar[tuple[str, ...]] = ("fp32", "fp16")
    variant_tags: ClassVar[dict[str, str]] = {"fp16": "fp16"}

    @classmethod
    def variant_name(cls, model_path: Path, precision: str) -> str | None:
        tag = cls.variant_tags.get(precision)
        return None if tag is None else f"{Path(model_path).stem}.{tag}.npz"

    @classmethod
    def make_variant(
        cls, model_path: Path, card: ModelCard, precision: str, frames: Any = None, quantisation: Any = None
    ) -> Path:
        if precision != "fp16":
            raise EngineError(f"{cls.backend} makes fp16 variants only, not {precision}")
        out = Path(model_path).with_name(cls.variant_name(model_path, precision))
        with out.open("wb") as f:
            np.savez(f, **{k: v.astype(np.float16) for k, v in read_weights(model_path).items()})
        return out

    def _open(self) -> None:
        if self.card.architecture != "tiny-cnn":
            raise EngineError(
                f"{self.backend} runs the tiny-cnn test model only, not {self.card.architecture!r}"
            )
        path = self.model_file()
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                self._weights = {k: npz[k] for k in npz.files}
        else:
            self._weights = read_weights(path)
        self._settings = {"file": path.name}

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        return forward(self._weights, batch)

    def _close(self) -> None:
        self._weights = {}
