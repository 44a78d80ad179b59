"""The training loop: :func:`fit` with Adam/SGD, a cosine schedule, early stopping, checkpoints and resume.

A checkpoint is ``torch.save({'model': state_dict, 'optimizer': state_dict, 'epoch': int,
'config': plain dict, 'scheduler': state_dict, 'state': plain dict}, path)`` and is read back only
with ``torch.load(path, weights_only=True)``: no pickled code. ``epoch`` is the last completed epoch
(1-based); resuming continues with the next one.

Loss: cross-entropy on the logits; when the model returns ``(logits, aux_logits)`` in train mode
(an auxiliary head, as UIAC and DARTS), ``loss = CE(logits) + aux_weight * CE(aux_logits)``.
The learning rate follows ``lr_t = eta_min + (lr - eta_min)(1 + cos(pi t / T)) / 2`` per epoch.

>>> result = fit(model, train_ds, val_ds, epochs=30, checkpoint_dir="runs/darts2")  # doctest: +SKIP
>>> result.best_epoch, result.best_val_loss  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import pickle
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from rtecho._lazy import require
from rtecho.errors import RtechoError
from rtecho.train.sampling import ClassBalancedSampler, OnlineBatchSelector

log = logging.getLogger(__name__)


class CheckpointError(RtechoError):
    """A checkpoint is missing, unreadable, unsafe, or made for another architecture."""


def _plain(obj: Any) -> Any:
    """A JSON/weights_only-safe copy: dataclasses and mappings -> dict, sequences -> list."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def model_config(model: nn.Module) -> dict[str, Any]:
    """The model's registry config (``model.config``) as a plain dict; class name when it has none."""
    cfg = getattr(model, "config", None)
    if cfg is not None:
        out = _plain(cfg)
        if isinstance(out, dict):
            return out
    name = type(model).__name__
    return {"name": name, "architecture": name}


def _identity(cfg: Mapping[str, Any]) -> str:
    arch, name = cfg.get("architecture"), cfg.get("name")
    return f"{arch!r}" if name in (None, arch) else f"{arch!r} ({name})"


def load_checkpoint(
    path: str | Path,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; load it into ``model``/``optimizer`` when given.

    Raises CheckpointError when the file is missing or unsafe, or when it was saved from another
    architecture (the message names both).

    >>> ckpt = load_checkpoint("runs/darts2/best.pt", model)  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} cannot be loaded safely (weights_only): {first}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a torch file: {exc}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"{path} is not an rtecho checkpoint (no 'model' state dict)")
    if model is not None or optimizer is not None:
        apply_checkpoint(ckpt, model, optimizer, where=str(path))
    return ckpt


def apply_checkpoint(
    ckpt: Mapping[str, Any],
    model: nn.Module | None,
    optimizer: torch.optim.Optimizer | None = None,
    where: str = "checkpoint",
) -> None:
    """Load a checkpoint dict (from :func:`load_checkpoint`) into a model and optimizer, checking the architecture."""
    saved = ckpt.get("config") or {}
    if model is not None:
        expected = model_config(model)
        if saved.get("architecture") and saved.get("architecture") != expected.get("architecture"):
            raise CheckpointError(
                f"checkpoint {where} is for architecture {_identity(saved)}, "
                f"not for the model's architecture {_identity(expected)}"
            )
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as exc:
            detail = str(exc).strip().splitlines()
            hint = detail[1].strip() if len(detail) > 1 else detail[0] if detail else ""
            raise CheckpointError(
                f"checkpoint {where} (architecture {_identity(saved) if saved else 'unknown'}) does not fit "
                f"the model {_identity(expected)}: {hint[:200]}"
            ) from None
    if optimizer is not None and ckpt.get("optimizer"):
        try:
            optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"optimizer state in {where} does not match the optimizer: {exc}") from None


def _save(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


@dataclass
class FitResult:
    """What :func:`fit` did: epochs run, the best epoch and its validation loss, the per-epoch history."""

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    best_path: Path | None = None
    last_path: Path | None = None


def _loss(out: Any, y: torch.Tensor, ce: nn.Module, aux_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(out, tuple | list):
        logits, aux = out[0], out[1]
        return ce(logits, y) + aux_weight * ce(aux, y), logits
    return ce(out, y), out


def _make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float, momentum: float):
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0
        )
    raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd', got {name!r}")


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, ds: Dataset, batch_size: int = 64, device: str = "cpu", channels_last: bool = False
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` (eval mode) on ``ds``."""
    model.eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    ce = nn.CrossEntropyLoss(reduction="sum")
    total, correct, n = 0.0, 0, 0
    for x, y in DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0):
        x, y = x.to(device, memory_format=fmt), y.to(device)
        out = model(x)
        logits = out[0] if isinstance(out, tuple | list) else out
        total += float(ce(logits, y))
        correct += int((logits.argmax(1) == y).sum())
        n += int(y.numel())
    return total / max(n, 1), correct / max(n, 1)


def fit(
    model: nn.Module,
    train_ds: Dataset,
    val_ds: Dataset | None,
    epochs: int = 30,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 32,
    patience: int = 5,
    min_delta: float = 0.0,
    checkpoint_dir: str | Path | None = None,
    resume: bool | str | Path = False,
    aux_weight: float | None = None,
    balanced: bool = False,
    select_ratio: float = 1.0,
    momentum: float = 0.9,
    eta_min_frac: float = 0.01,
    label_smoothing: float = 0.0,
    num_threads: int = 2,
    seed: int = 0,
    device: str = "cpu",
    channels_last: bool = True,
    progress: bool = True,
    extra_config: Mapping[str, Any] | None = None,
) -> FitResult:
    """Train ``model`` on ``train_ds``, validating on ``val_ds`` each epoch; see the module docstring.

    Early stopping: stop when the validation loss has not improved by more than ``min_delta`` for
    ``patience`` epochs (``patience <= 0`` disables it). ``balanced`` samples classes equally;
    ``select_ratio > 1`` turns on online batch selection. ``aux_weight`` defaults to the model's
    ``aux_weight`` attribute, else 0.25. In ``checkpoint_dir``: ``last.pt`` every
    epoch, ``best.pt`` at the best validation loss, ``log.jsonl`` (one JSON object per epoch) and
    ``config.json``. ``resume=True`` continues from ``checkpoint_dir/last.pt``; a path resumes from it.
    ``channels_last`` trains in NHWC memory layout: measured here (1 thread, batch 32, 128 px) a
    training step takes 0.18 s instead of 0.35 s for darts1 and 0.49 s instead of 0.94 s for
    EfficientNet-B0+CBAM (oneDNN's depthwise kernels); the weights saved are the same either way.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    if len(train_ds) == 0:
        raise RtechoError("the training set is empty")
    tqdm = require("tqdm", "train", "progress bars").tqdm
    if aux_weight is None:
        aux_weight = float(getattr(model, "aux_weight", 0.0) or 0.25)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(num_threads, os.cpu_count() or 1)))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device, memory_format=fmt)
    opt = _make_optimizer(model, optimizer, lr, weight_decay, momentum)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=lr * eta_min_frac)
    hyper = {
        "epochs": epochs, "optimizer": optimizer, "lr": lr, "weight_decay": weight_decay,
        "batch_size": batch_size, "patience": patience, "aux_weight": aux_weight, "balanced": balanced,
        "select_ratio": select_ratio, "seed": seed, "label_smoothing": label_smoothing,
    }  # fmt: skip
    config = {**model_config(model), "train": hyper, **_plain(dict(extra_config or {}))}
    state: dict[str, Any] = {"best_val_loss": math.inf, "best_epoch": 0, "bad_epochs": 0}
    start = 1
    ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume:
        if isinstance(resume, str | Path):
            resume_path = Path(resume)
        elif ckdir is not None:
            resume_path = ckdir / "last.pt"
        else:
            raise ValueError("resume=True needs checkpoint_dir")
        if not resume_path.is_file():
            raise CheckpointError(f"nothing to resume: {resume_path} does not exist")
        ckpt = load_checkpoint(resume_path, model, opt, map_location=device)
        state.update(ckpt.get("state") or {})
        start = int(ckpt["epoch"]) + 1
        if ckpt.get("scheduler"):
            sched.load_state_dict(ckpt["scheduler"])
            if sched.T_max != epochs:
                # more (or fewer) epochs stretch the cosine: the chained update only follows the closed
                # form lr_t = eta_min + (lr_0 - eta_min)(1 + cos(pi t / T)) / 2 if lr_t is reset to it
                sched.T_max = epochs
                t = start - 1
                for group, base in zip(opt.param_groups, sched.base_lrs, strict=True):
                    group["lr"] = (
                        sched.eta_min + (base - sched.eta_min) * (1 + math.cos(math.pi * t / epochs)) / 2
                    )
                sched._last_lr = [g["lr"] for g in opt.param_groups]
        log.info("resuming from %s at epoch %d", resume_path, start)
    if ckdir is not None:
        ckdir.mkdir(parents=True, exist_ok=True)
        (ckdir / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    ce = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    ce_items = nn.CrossEntropyLoss(reduction="none")
    selector = OnlineBatchSelector(batch_size, select_ratio) if select_ratio > 1.0 else None
    load_bs = selector.candidate_size if selector else batch_size
    sampler = ClassBalancedSampler(train_ds.targets, len(train_ds), seed) if balanced else None
    history: list[dict[str, Any]] = []
    stopped = False
    epoch = start - 1
    try:
        for epoch in range(start, epochs + 1):
            t0 = time.perf_counter()
            for obj in (train_ds, sampler):
                if hasattr(obj, "set_epoch"):
                    obj.set_epoch(epoch)
            gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
            loader = DataLoader(
                train_ds, batch_size=load_bs, shuffle=sampler is None, sampler=sampler, generator=gen,
                num_workers=0, drop_last=len(train_ds) > load_bs,
            )  # fmt: skip
            model.train()
            tot_loss, tot_correct, tot_n = 0.0, 0, 0
            bar = tqdm(
                loader, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not progress, unit="batch"
            )
            for x, y in bar:
                x, y = x.to(device, memory_format=fmt), y.to(device)
                if selector is not None:
                    x, y = selector(model, x, y, ce_items)
                out = model(x)
                loss, logits = _loss(out, y, ce, aux_weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                k = int(y.numel())
                tot_loss += float(loss.detach()) * k
                tot_correct += int((logits.detach().argmax(1) == y).sum())
                tot_n += k
                bar.set_postfix(loss=f"{tot_loss / tot_n:.4f}", acc=f"{tot_correct / tot_n:.3f}")
            bar.close()
            lr_now = opt.param_groups[0]["lr"]
            sched.step()
            train_loss, train_acc = tot_loss / max(tot_n, 1), tot_correct / max(tot_n, 1)
            if val_ds is not None:
                val_loss, val_acc = evaluate_loss(model, val_ds, max(batch_size, 64), device, channels_last)
            else:
                val_loss, val_acc = train_loss, train_acc
            improved = val_loss < state["best_val_loss"] - min_delta
            if improved:
                state.update(best_val_loss=val_loss, best_epoch=epoch, bad_epochs=0)
            else:
                state["bad_epochs"] = int(state["bad_epochs"]) + 1
            row = {
                "epoch": epoch, "train_loss": round(train_loss, 6), "train_acc": round(train_acc, 6),
                "val_loss": round(val_loss, 6), "val_acc": round(val_acc, 6), "lr": lr_now,
                "time_s": round(time.perf_counter() - t0, 3), "best": improved, "n_train": tot_n,
            }  # fmt: skip
            history.append(row)
            log.info("epoch %s", row)
            if ckdir is not None:
                payload = {
                    "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                    "config": config, "scheduler": sched.state_dict(), "state": dict(state),
                }  # fmt: skip
                _save(ckdir / "last.pt", payload)
                if improved:
                    _save(ckdir / "best.pt", payload)
                with (ckdir / "log.jsonl").open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
            if patience > 0 and state["bad_epochs"] >= patience:
                stopped = True
                log.info("early stop at epoch %d: no improvement for %d epochs", epoch, patience)
                break
    finally:
        torch.set_num_threads(old_threads)
    return FitResult(
        epochs_run=epoch,
        best_epoch=int(state["best_epoch"]),
        best_val_loss=float(state["best_val_loss"]),
        stopped_early=stopped,
        history=history,
        best_path=(ckdir / "best.pt") if ckdir is not None and (ckdir / "best.pt").exists() else None,
        last_path=(ckdir / "last.pt") if ckdir is not None and (ckdir / "last.pt").exists() else None,
    )
