"""Inference engines: ``load_engine(path_or_name, backend=None, precision="fp32")``.

>>> from rtecho.runtime import list_backends
>>> "onnxruntime" in list_backends()
True
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rtecho.errors import EngineError
from rtecho.runtime.base import (
    PRECISIONS,
    BackendSpec,
    Engine,
    EngineInfo,
    available_backends,
    get_backend,
    list_backends,
    register_backend,
    unregister_backend,
)
from rtecho.runtime.model_file import list_models, load_card, open_model, resolve_model, sha256_file

log = logging.getLogger(__name__)

#: The classifier ``rtecho run`` uses when none is named (the bench's full-resolution rows use it too).
DEFAULT_MODEL = "darts2"


def default_backend() -> str:
    """The first installed backend in order of preference (ONNX Runtime when installed)."""
    installed = available_backends()
    if not installed:
        raise EngineError('no inference backend is installed; install one with: pip install "rtecho[onnx]"')
    return installed[0]


def load_engine(
    path_or_name: str | Path,
    backend: str | None = None,
    precision: str | None = None,
    verify: bool = True,
    warn: bool = True,
    **options: Any,
) -> Engine:
    """Load a model (an ONNX path, a variant file, or a name in ``engines/``) on a backend; returns an
    unopened engine.

    The model card beside the file is loaded and the file's sha256 checked against it. A variant file
    (``engines/darts1.int8.onnx``) finds the card of its model (``darts1.json``) and runs at the
    variant's precision, on the backend it was made for when none is named and that one is installed.
    ``precision`` defaults to fp32 (or the variant's). Options go to the backend (for ONNX Runtime:
    ``threads``, ``spinning``; for OpenVINO: ``threads``, ``hint``). A precision the backend runs but
    does not offer for this model (slower than fp32 there: see ``Engine.not_offered``) loads with a
    logged warning unless ``warn=False``.
    """
    if precision is not None and precision not in PRECISIONS:
        raise EngineError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    model = open_model(path_or_name, verify=verify)
    card = model.card
    if model.variant is not None:
        variant = model.variant[1]
        if precision not in (None, variant.precision):
            raise EngineError(
                f"{model.file.name} is the {variant.precision} variant of {card.name!r}; it cannot run as "
                f"{precision} (leave --precision out, or name {model.path.name})"
            )
        precision = variant.precision
        if backend is None and variant.backend in available_backends():
            backend = variant.backend
    precision = precision or "fp32"
    spec = get_backend(backend or default_backend())
    cls = spec.load_class()
    engine = cls(model.path, card, precision=precision, file=model.file, **options)
    why = cls.not_offered(card, precision) if warn else None
    if why:
        log.warning(
            "%s/%s is not offered for %s: %s; running it as asked", spec.name, precision, card.name, why
        )
    return engine


__all__ = [
    "DEFAULT_MODEL",
    "PRECISIONS",
    "BackendSpec",
    "Engine",
    "EngineInfo",
    "available_backends",
    "default_backend",
    "get_backend",
    "list_backends",
    "list_models",
    "load_card",
    "load_engine",
    "open_model",
    "register_backend",
    "resolve_model",
    "sha256_file",
    "unregister_backend",
]
