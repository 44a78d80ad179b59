"""torch eager: the reference backend (parity checks, and the speed-up baseline of the bench).

The model is rebuilt from its card (``extra.model_name``, genotype, labels, channels) with
:func:`rtecho.models.create_model`. Weights come from ``NAME.pt`` beside the ONNX file (a state
dict, loaded with ``weights_only=True``; ``rtecho export --save-torch`` writes it). Without it the
engine refuses, unless ``allow_random=True`` (the bench's timing baseline: speed does not depend on
the weights, and the engine reports ``weights: random`` in its settings).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rtecho._lazy import require
from rtecho.errors import EngineError
from rtecho.runtime.base import Engine


class TorchEngine(Engine):
    """torch eager on the CPU (options: ``threads``, ``allow_random``)."""

    backend: ClassVar[str] = "torch"
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    bench_baseline: ClassVar[bool] = True
    bench_options: ClassVar[dict[str, Any]] = {"allow_random": True}  # speed does not depend on weights

    def _open(self) -> None:
        torch = require("torch", "train", "the torch backend")
        from rtecho.models import ModelError, create_model, load_weights

        card = self.card
        name = card.extra.get("model_name")
        if not name:
            raise EngineError(
                f"model card {card.name!r} names no registry model (extra.model_name): not a torch export"
            )
        kw: dict[str, Any] = {
            "labels": card.labels,
            "in_chans": card.channels,
            "img_size": card.input_size_hw,
        }
        if card.genotype:
            kw["genotype"] = dict(card.genotype)
        try:
            model = create_model(name, **kw)
        except ModelError as exc:
            raise EngineError(f"cannot rebuild {card.name!r} in torch: {exc}") from None
        weights = self.model_path.with_suffix(".pt")
        if weights.is_file():
            load_weights(model, torch.load(weights, map_location="cpu", weights_only=True))
            source = weights.name
        elif self.options.get("allow_random"):
            source = "random (timing only)"
        else:
            raise EngineError(
                f"no torch weights for {card.name!r} at {weights} (export with --save-torch), "
                "or pass allow_random=True for timing only"
            )
        self._threads = int(self.options.get("threads") or 1)
        self._prev_threads = torch.get_num_threads()
        torch.set_num_threads(self._threads)
        self._model = model.eval()
        self._torch = torch
        self._settings = {"threads": self._threads, "weights": source, "torch": torch.__version__}

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            return self._model(self._torch.from_numpy(batch)).numpy().astype(np.float32, copy=False)

    def _close(self) -> None:
        self._torch.set_num_threads(self._prev_threads)
        self._model = None
