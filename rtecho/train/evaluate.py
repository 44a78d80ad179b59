"""Evaluate a trained model (registry name + checkpoint, or an exported ONNX) on a labelled folder.

Images are scored one by one; clips frame by frame and, per clip, by majority vote of the frame
labels (ties go to the higher mean probability) or by the arg-max of the mean probability. With
``use_coarse`` both the truth and the predicted label are mapped through :func:`rtecho.views.coarse`.
The headline metrics count each image and each clip once; ``levels`` adds images, frames and clips
separately.

>>> with scorer_for("engines/darts2.onnx") as scorer:  # doctest: +SKIP
...     result = evaluate_samples(scorer, scan_folder("data/test"))
>>> result["accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rtecho.errors import RtechoError
from rtecho.runtime.model_file import sha256_file
from rtecho.runtime.preprocess import Preprocessor, softmax
from rtecho.train.data import Sample, iter_clip_frames, read_image
from rtecho.train.metrics import classification_report
from rtecho.views import COARSE_VIEWS, VIEWS, coarse

log = logging.getLogger(__name__)

_FINE_ORDER = {v: i for i, v in enumerate(dict.fromkeys(VIEWS + COARSE_VIEWS))}
_COARSE_ORDER = {v: i for i, v in enumerate(COARSE_VIEWS)}


class EvalError(RtechoError):
    """A model cannot be evaluated as asked (no checkpoint, unknown model, unreadable data)."""


class Scorer(Protocol):
    """Turns uint8 images into class probabilities ``(N, K)`` over ``labels``."""

    labels: tuple[str, ...]
    identity: dict[str, Any]

    def probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


class TorchScorer(AbstractContextManager):
    """A torch model in eval mode, fed through the runtime's Preprocessor for its config's input."""

    def __init__(self, model: Any, config: dict[str, Any], identity: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.labels = tuple(config["labels"])
        self.size_hw = tuple(config["input_size_hw"])
        self.channels = int(config.get("channels", 1))
        self.mean = tuple(config.get("mean", (0.0,) * self.channels))
        self.std = tuple(config.get("std", (1.0,) * self.channels))
        self.equalize = bool(config.get("equalize", False))
        self.pre = Preprocessor.for_input(self.size_hw, self.channels, self.mean, self.std, self.equalize)
        self.identity = {"backend": "torch", **(identity or {})}

    def probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        batch = np.concatenate([self.pre(im) for im in images], axis=0)
        with torch.no_grad():
            out = self.model(torch.from_numpy(batch))
        logits = out[0] if isinstance(out, tuple | list) else out
        return softmax(logits.numpy().astype(np.float64), axis=1)

    def __exit__(self, *exc: object) -> None:
        return None


class EngineScorer(AbstractContextManager):
    """An exported ONNX model run by :func:`rtecho.runtime.load_engine`, preprocessed from its model card."""

    def __init__(self, path: str | Path, backend: str | None = None, precision: str = "fp32") -> None:
        from rtecho.runtime import load_engine
        from rtecho.runtime.preprocess import Preprocessor

        self.path = Path(path)
        self.engine = load_engine(str(self.path), backend=backend, precision=precision)
        self._entered = self.engine.__enter__()
        card = self._entered.card if hasattr(self._entered, "card") else self.engine.card
        self.labels = tuple(card.labels)
        self.pre = Preprocessor(card)
        self.identity = {
            "name": card.name,
            "architecture": card.architecture,
            "source": "onnx",
            "path": str(self.path),
            "sha256": sha256_file(self.path),
            "labels": list(card.labels),
            "input_size_hw": list(card.input_size_hw),
            "channels": card.channels,
            "backend": str(_backend_name(self.engine) or backend or "default"),
            "precision": precision,
        }

    def probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray:
        batch = np.concatenate([self.pre(im) for im in images], axis=0).astype(np.float32)
        return softmax(np.asarray(self._entered.infer(batch), dtype=np.float64), axis=1)

    def __exit__(self, *exc: object) -> None:
        self.engine.__exit__(None, None, None)


def _backend_name(engine: Any) -> str | None:
    for owner in (engine, getattr(engine, "info", None)):
        name = getattr(owner, "backend", None) if owner is not None else None
        if isinstance(name, str):
            return name
    return None


def load_trained_model(name: str, checkpoint: str | Path) -> tuple[Any, dict[str, Any]]:
    """A registry model rebuilt from a checkpoint's config (labels, channels, input size), weights loaded."""
    from rtecho.train.loop import apply_checkpoint, load_checkpoint

    try:
        from rtecho.models import create_model
    except ImportError as exc:
        raise EvalError(f"rtecho.models could not be imported ({exc})") from exc
    ckpt = load_checkpoint(checkpoint)
    cfg = ckpt.get("config") or {}
    if "labels" not in cfg or "input_size_hw" not in cfg:
        raise EvalError(f"checkpoint {checkpoint} has no labels/input size in its config")
    # the searched genotype travels in the checkpoint; only meaningful for the model it was saved from
    extra = {"genotype": cfg["genotype"]} if cfg.get("genotype") and cfg.get("name") == name else {}
    model = create_model(
        name,
        labels=tuple(cfg["labels"]),
        in_chans=int(cfg.get("channels", 1)),
        img_size=tuple(cfg["input_size_hw"]),
        equalize=bool(cfg.get("equalize", False)),
        **extra,
    )
    apply_checkpoint(ckpt, model, where=str(checkpoint))
    return model.eval(), {**cfg, "epoch": ckpt.get("epoch")}


def scorer_for(
    model: str | Path,
    checkpoint: str | Path | None = None,
    backend: str | None = None,
    precision: str = "fp32",
) -> TorchScorer | EngineScorer:
    """A scorer for ``model``: a path to an ``.onnx`` file, or a registry name with ``checkpoint``."""
    if str(model).lower().endswith(".onnx"):
        if not Path(model).is_file():
            raise EvalError(f"ONNX model not found: {model}")
        if checkpoint is not None:
            raise EvalError("--checkpoint is for registry models; an .onnx file carries its own weights")
        return EngineScorer(model, backend, precision)
    if checkpoint is None:
        raise EvalError(f"model {model!r} is a registry name: give its trained weights with --checkpoint")
    net, cfg = load_trained_model(str(model), checkpoint)
    identity = {
        "name": cfg.get("name", str(model)),
        "architecture": cfg.get("architecture"),
        "source": "checkpoint",
        "path": str(checkpoint),
        "sha256": sha256_file(checkpoint),
        "epoch": cfg.get("epoch"),
        "labels": list(cfg["labels"]),
        "input_size_hw": list(cfg["input_size_hw"]),
        "channels": cfg.get("channels", 1),
    }
    return TorchScorer(net, cfg, identity)


def _batches(frames: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    buf: list[np.ndarray] = []
    for f in frames:
        buf.append(f)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def clip_label(probs: np.ndarray, mapped: Sequence[str], rule: str) -> tuple[str, float]:
    """One label for a clip from per-frame probabilities (N, K) over model labels mapped to eval labels."""
    mapped_arr = np.asarray(mapped)
    mean = probs.mean(axis=0)
    if rule == "mean":
        k = int(mean.argmax())
        return mapped[k], float(mean[k])
    if rule != "majority":
        raise EvalError(f"clip rule must be 'majority' or 'mean', got {rule!r}")
    votes = mapped_arr[probs.argmax(axis=1)]
    names, counts = np.unique(votes, return_counts=True)
    tied = names[counts == counts.max()]
    group_p = {n: float(mean[mapped_arr == n].sum()) for n in tied}
    best = max(tied, key=lambda n: group_p[n])
    return str(best), float(counts.max() / len(votes))


def evaluate_samples(
    scorer: Scorer,
    samples: Sequence[Sample],
    use_coarse: bool = False,
    clip_rule: str = "majority",
    frame_stride: int = 1,
    max_frames: int | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[str, Any]:
    """Score ``samples`` and return the result dict (metrics, levels, per-item rows, model identity)."""
    if frame_stride < 1:
        raise EvalError(f"frame stride must be >= 1, got {frame_stride}")
    mapped = [coarse(v) if use_coarse else v for v in scorer.labels]
    truths = [coarse(s.label) if use_coarse else s.label for s in samples]
    unknown = sorted(set(truths) - set(mapped))
    if unknown:
        log.warning("the model has no label for %s: those items always count as wrong", unknown)
    order = _COARSE_ORDER if use_coarse else _FINE_ORDER
    labels = sorted(set(mapped) | set(truths), key=lambda v: order.get(v, len(order)))
    idx = {v: i for i, v in enumerate(labels)}
    from rtecho._lazy import require

    tqdm = require("tqdm", "train", "progress bars").tqdm
    items: list[dict[str, Any]] = []
    levels: dict[str, tuple[list[int], list[int]]] = {k: ([], []) for k in ("images", "frames", "clips")}
    for s, truth in tqdm(list(zip(samples, truths, strict=True)), disable=not progress, unit="item"):
        if s.kind == "image":
            p = scorer.probabilities([read_image(s.path)])[0]
            k = int(p.argmax())
            pred, conf, n_frames = mapped[k], float(p[k]), 1
            levels["images"][0].append(idx[truth])
            levels["images"][1].append(idx[pred])
        else:
            frames = (f for i, f in enumerate(iter_clip_frames(s.path)) if i % frame_stride == 0)
            chunks = []
            for batch in _batches(frames, batch_size):
                chunks.append(scorer.probabilities(batch))
                if max_frames is not None and sum(len(c) for c in chunks) >= max_frames:
                    break
            if not chunks:
                raise EvalError(f"clip {s.path} has no frames")
            probs = np.concatenate(chunks)[:max_frames]
            for k in probs.argmax(axis=1):
                levels["frames"][0].append(idx[truth])
                levels["frames"][1].append(idx[mapped[int(k)]])
            pred, conf = clip_label(probs, mapped, clip_rule)
            n_frames = len(probs)
            levels["clips"][0].append(idx[truth])
            levels["clips"][1].append(idx[pred])
        row = {"path": str(s.path), "kind": s.kind, "truth": truth, "pred": pred}
        items.append({**row, "confidence": round(conf, 6), "n_frames": n_frames})
    y_true = levels["images"][0] + levels["clips"][0]
    y_pred = levels["images"][1] + levels["clips"][1]
    result: dict[str, Any] = {
        "model": dict(scorer.identity),
        "coarse": use_coarse,
        "clip_rule": clip_rule,
        **classification_report(y_true, y_pred, labels),
        "levels": {k: classification_report(t, p, labels) for k, (t, p) in levels.items() if t},
        "n_images": len(levels["images"][0]),
        "n_clips": len(levels["clips"][0]),
        "n_frames": len(levels["frames"][0]),
        "items": items,
    }
    return result
