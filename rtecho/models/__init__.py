"""Model zoo (torch): DARTS networks from genotypes, EfficientNet-B0 (+CBAM), soft-threshold net.

Training side only; the runtime never imports this package. Build models by name:

>>> from rtecho.models import create_model, list_models
>>> "darts1" in list_models()
True
>>> create_model("darts1").config.input_size_hw
(128, 128)
"""

from __future__ import annotations

from rtecho.models.registry import (
    ModelConfig,
    ModelError,
    create_model,
    list_models,
    load_weights,
    register_model,
    split_aux,
)

__all__ = [
    "ModelConfig",
    "ModelError",
    "create_model",
    "list_models",
    "load_weights",
    "register_model",
    "split_aux",
]
