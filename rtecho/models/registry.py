"""A timm-style model registry: ``@register_model`` fills it, ``create_model`` builds from it.

Every model built by :func:`create_model` carries ``model.config`` (a :class:`ModelConfig`): what the
export writes into the model card (input size, channels, mean/std on the 0..1 scale, labels).

>>> from rtecho.models import create_model
>>> m = create_model("darts1", img_size=64)
>>> m.config.input_size_hw, m.config.num_classes, m.config.labels[:2]
((64, 64), 13, ('A2C', 'A3C'))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rtecho.errors import RtechoError
from rtecho.views import VIEWS

if TYPE_CHECKING:
    from torch import nn

#: Per-channel (RGB) mean/std on the 0..1 scale; grey input uses their channel average.
MEAN_STD: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "echo": ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "cifar": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}

MIN_SIZE = 32


class ModelError(RtechoError, ValueError):
    """Unknown model name, bad model arguments, or a checkpoint that does not fit the architecture."""


@dataclass(frozen=True)
class ModelConfig:
    """What travels with a model into export and its model card."""

    name: str
    architecture: str
    input_size_hw: tuple[int, int]
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    labels: tuple[str, ...]
    num_classes: int
    genotype: Mapping[str, Any] | None = None
    task: str = "classification"
    equalize: bool = False  # per-frame in-sector histogram equalisation before mean/std (model card)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists, not tuples)."""
        d = asdict(self)
        for key in ("input_size_hw", "mean", "std", "labels"):
            d[key] = list(d[key])
        d["genotype"] = dict(self.genotype) if self.genotype is not None else None
        return d


@dataclass(frozen=True)
class _Entry:
    fn: Callable[..., nn.Module]
    architecture: str
    input_size_hw: tuple[int, int]
    num_classes: int | None
    mean_std: str
    task: str = "classification"
    labels: tuple[str, ...] | None = None


_REGISTRY: dict[str, _Entry] = {}


def register_model(
    input_size_hw: tuple[int, int] = (128, 128),
    architecture: str = "",
    num_classes: int | None = None,
    mean_std: str = "echo",
    task: str = "classification",
    labels: tuple[str, ...] | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``fn(num_classes, in_chans=1, **kw) -> nn.Module`` under its name.

    ``num_classes`` is the default class count (None: the 13 VIEWS labels); ``mean_std`` a key of
    :data:`MEAN_STD`; ``task`` what the card says the network gives (``classification`` or
    ``segmentation``); ``labels`` the default labels (e.g. ``("background", "LV")``).
    """

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = fn.__name__
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        default = tuple(labels) if labels is not None else None
        _REGISTRY[name] = _Entry(
            fn, architecture or name, tuple(input_size_hw), num_classes, mean_std, task, default
        )
        return fn

    return deco


def list_models(pattern: str = "") -> list[str]:
    """Registered model names containing ``pattern``, sorted."""
    _load_families()
    return sorted(n for n in _REGISTRY if pattern in n)


def _size_hw(img_size: int | tuple[int, int] | None, default: tuple[int, int]) -> tuple[int, int]:
    if img_size is None:
        return default
    hw = (int(img_size), int(img_size)) if isinstance(img_size, int) else tuple(int(v) for v in img_size)
    if len(hw) != 2 or min(hw) < MIN_SIZE:
        raise ModelError(
            f"img_size must be an int or (height, width) with both sides >= {MIN_SIZE}, got {img_size}"
        )
    return hw  # type: ignore[return-value]


def _labels(
    labels: tuple[str, ...] | None, num_classes: int | None, default_n: int | None
) -> tuple[str, ...]:
    if labels is not None:
        labels = tuple(str(x) for x in labels)
        if num_classes is not None and num_classes != len(labels):
            raise ModelError(f"num_classes={num_classes} disagrees with {len(labels)} labels")
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ModelError(f"labels must be at least two distinct names, got {list(labels)}")
        return labels
    n = num_classes if num_classes is not None else default_n
    if n is None:
        return VIEWS
    if n < 2:
        raise ModelError(f"num_classes must be >= 2, got {n}")
    return VIEWS if n == len(VIEWS) and default_n is None else tuple(f"class_{i}" for i in range(n))


def create_model(
    name: str,
    num_classes: int | None = None,
    in_chans: int = 1,
    img_size: int | tuple[int, int] | None = None,
    labels: tuple[str, ...] | None = None,
    equalize: bool = False,
    **kw: Any,
) -> nn.Module:
    """Build a registered model and attach ``model.config``; ``kw`` goes to the model's builder.

    ``labels`` sets the class count (default: the 13 VIEWS labels, or the reference head size for
    ``darts_v2_cifar``/``efficientnet_b0``); ``img_size`` is the nominal input size written to the
    model card (every model runs at any size >= 32); ``equalize`` is the card's preprocessing flag
    (:class:`~rtecho.types.ModelCard`). Unknown names raise :class:`ModelError`.

    >>> create_model("stanet", labels=("A2C", "A4C"), in_chans=3).config.channels
    3
    """
    _load_families()
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}")
    if in_chans not in (1, 3):
        raise ModelError(f"in_chans must be 1 (grey) or 3 (RGB), got {in_chans}")
    size_hw = _size_hw(img_size, entry.input_size_hw)
    if labels is None and entry.labels is not None and num_classes in (None, len(entry.labels)):
        labels = entry.labels
    labels = _labels(labels, num_classes, entry.num_classes)
    try:
        model = entry.fn(num_classes=len(labels), in_chans=in_chans, **kw)
    except TypeError as exc:
        raise ModelError(f"bad arguments for model {name!r}: {exc}") from None
    mean3, std3 = MEAN_STD[entry.mean_std]
    if in_chans == 1:
        mean, std = (round(sum(mean3) / 3, 4),), (round(sum(std3) / 3, 4),)
    else:
        mean, std = mean3, std3
    genotype = getattr(model, "genotype", None)
    model.config = ModelConfig(
        name=name,
        architecture=entry.architecture,
        input_size_hw=size_hw,
        channels=in_chans,
        mean=mean,
        std=std,
        labels=labels,
        num_classes=len(labels),
        genotype=genotype.to_dict() if genotype is not None else None,
        task=entry.task,
        equalize=bool(equalize),
    )
    return model


def split_aux(output: Any) -> tuple[Any, Any | None]:
    """``(logits, aux_logits or None)`` from a forward's output.

    Networks with an auxiliary head (``uiac``, ``darts_v2_cifar``) return ``(logits, aux)`` in training
    mode; train with ``loss = ce(logits) + model.aux_weight * ce(aux)``. Everything else returns logits.
    """
    if isinstance(output, tuple):
        return output[0], output[1]
    return output, None


def load_weights(model: nn.Module, state_dict: Mapping[str, Any]) -> None:
    """Load ``state_dict`` strictly; a checkpoint for another architecture raises :class:`ModelError`."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [k for k in own if k in state_dict and tuple(own[k].shape) != tuple(state_dict[k].shape)]
    name = getattr(getattr(model, "config", None), "name", type(model).__name__)
    if missing or unexpected or shapes:
        detail = "; ".join(
            f"{what}: {keys[:3]}{' ...' if len(keys) > 3 else ''} ({len(keys)})"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes))
            if keys
        )
        raise ModelError(f"checkpoint does not fit model {name!r} (another architecture or size?): {detail}")
    model.load_state_dict(state_dict)


def _load_families() -> None:
    # Importing a family module runs its @register_model decorators.
    from rtecho.models import darts, efficientnet, lvseg, stanet  # noqa: F401
