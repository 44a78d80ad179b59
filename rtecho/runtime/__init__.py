"""Inference engines: ``load_engine(path_or_name, backend=None, precision="fp32")``.

>>> from rtecho.runtime import list_backends
>>> list_backends()[:2]
['onnxruntime', 'openvino']
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
)
from rtecho.runtime.model_file import list_models, load_card, resolve_model, sha256_file

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
    precision: str = "fp32",
    verify: bool = True,
    warn: bool = True,
    **options: Any,
) -> Engine:
    """Load a model (an ONNX path, or a name in ``engines/``) on a backend; returns an unopened engine.

    The model card beside the file is loaded and the file's sha256 checked against it. Options go to
    the backend (for ONNX Runtime: ``threads``, ``spinning``; for OpenVINO: ``threads``, ``hint``).
    A precision the backend runs but does not offer for this model (slower than fp32 there: see
    ``Engine.not_offered``) loads with a logged warning unless ``warn=False``.
    """
    if precision not in PRECISIONS:
        raise EngineError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    path = resolve_model(path_or_name)
    card = load_card(path, verify=verify)
    spec = get_backend(backend or default_backend())
    cls = spec.load_class()
    engine = cls(path, card, precision=precision, **options)
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
    "register_backend",
    "resolve_model",
    "sha256_file",
]
