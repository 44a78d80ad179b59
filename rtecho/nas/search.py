"""The DARTS search loop behind ``rtecho search``: alternate alpha and weight steps, checkpoint, derive.

Each epoch, for every pair of batches (train half, val half): the architect sets the alpha
gradients (first order, or second order with xi = the current weight learning rate) and Adam steps
the alphas; then SGD (momentum, cosine schedule, gradient clipping) steps the weights on the train
batch. After every epoch the run directory ``out`` receives:

- ``checkpoint.pt``: a dict of tensors (network, optimizers, scheduler, RNG), loaded with
  ``torch.load(weights_only=True)``; ``state.json``: config, classes, per-epoch history (losses,
  accuracies, softmax(alpha), derived genotype, seconds) and total wall time;
- ``genotype.json`` (the current derived genotype), ``search.log``, and the PNGs
  ``alphas_normal.png``, ``alphas_reduce.png``, ``cell_normal.png``, ``cell_reduce.png``.

``resume=True`` continues from the last completed epoch (``epochs`` may be raised to extend a run).
"""

from __future__ import annotations

import json
import logging
import os
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rtecho._lazy import require
from rtecho.errors import RtechoError
from rtecho.models.genotypes import Genotype, save_genotype
from rtecho.nas.architect import Architect
from rtecho.nas.data import load_image_folder, split_halves
from rtecho.nas.plot import plot_alpha_history, plot_cell
from rtecho.nas.search_cnn import SearchCNN

log = logging.getLogger("rtecho.nas.search")

#: Config fields that must match to resume a run.
RESUME_KEYS = (
    "size",
    "layers",
    "init_channels",
    "n_nodes",
    "stem_stride",
    "seed",
    "first_order",
    "batch_size",
)


class SearchError(RtechoError):
    """A search cannot start or resume (existing run directory, incompatible checkpoint)."""


@dataclass
class SearchConfig:
    """Search hyper-parameters (DARTS defaults, scaled down to fit a CPU and avoid running out of memory)."""

    data: str
    out: str
    size: int = 64
    epochs: int = 50
    layers: int = 5
    init_channels: int = 8
    batch_size: int = 32
    n_nodes: int = 4
    stem_stride: int = 2
    first_order: bool = False
    seed: int = 0
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    w_grad_clip: float = 5.0
    alpha_lr: float = 3e-4
    alpha_weight_decay: float = 1e-3
    max_per_class: int | None = None
    device: str = "cpu"
    progress: bool = True


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a search: the derived genotype, the run directory and the accumulated wall time."""

    genotype: Genotype
    out: Path
    epochs: int
    wall_s: float


def _batches(x: torch.Tensor, y: torch.Tensor, idx: np.ndarray, batch: int, rng: np.random.Generator):  # noqa: ANN202
    order = rng.permutation(idx)
    for i in range(0, len(order) - batch + 1, batch):
        sel = torch.from_numpy(order[i : i + batch])
        yield x[sel], y[sel]


def _atomic_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def _evaluate(
    net: SearchCNN, x: torch.Tensor, y: torch.Tensor, idx: np.ndarray, batch: int
) -> tuple[float, float]:
    net.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(idx), batch):
            sel = torch.from_numpy(idx[i : i + batch])
            logits = net(x[sel])
            loss += float(F.cross_entropy(logits, y[sel], reduction="sum"))
            correct += int((logits.argmax(1) == y[sel]).sum())
    net.train()
    return loss / max(1, len(idx)), correct / max(1, len(idx))


def _write_outputs(out: Path, state: dict[str, Any], genotype: Genotype) -> None:
    note = f"DARTS search by rtecho, epoch {state['epoch']}, seed {state['config']['seed']}, data {state['config']['data']}"
    save_genotype(genotype, out / "genotype.json", note=note)
    for kind in ("normal", "reduce"):
        hist = [h[f"alpha_{kind}"] for h in state["history"]]
        plot_alpha_history(hist, out / f"alphas_{kind}.png", f"{kind} cell: softmax(alpha) per edge")
        edges = genotype.normal if kind == "normal" else genotype.reduce
        concat = genotype.normal_concat if kind == "normal" else genotype.reduce_concat
        plot_cell(edges, concat, out / f"cell_{kind}.png", f"{kind} cell, epoch {state['epoch']}")


def run_search(cfg: SearchConfig, resume: bool = False) -> SearchResult:
    """Run (or resume) a DARTS search as configured; returns the derived genotype.

    >>> # run_search(SearchConfig(data="data/train", out="runs/search_a", epochs=50))
    """
    tqdm = require("tqdm", "train", "search progress bars").tqdm
    out = Path(cfg.out)
    state_path, ckpt_path = out / "state.json", out / "checkpoint.pt"
    if resume:
        if not state_path.exists() or not ckpt_path.exists():
            raise SearchError(f"nothing to resume in {out} (no state.json/checkpoint.pt)")
        try:
            state = json.loads(state_path.read_text())
            old = state["config"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SearchError(f"cannot resume {out}: state.json is damaged ({exc})") from None
        bad = [k for k in RESUME_KEYS if old.get(k) != getattr(cfg, k)]
        if bad:
            detail = ", ".join(f"{k}: {old.get(k)} != {getattr(cfg, k)}" for k in bad)
            raise SearchError(f"cannot resume {out}: config differs ({detail})")
        state["config"] = asdict(cfg)
    else:
        if state_path.exists():
            raise SearchError(
                f"{out} already holds a search; pass --resume to continue it or choose another --out"
            )
        state = {"config": asdict(cfg), "epoch": 0, "history": [], "wall_s": 0.0}
    data = load_image_folder(cfg.data, cfg.size, cfg.max_per_class)  # bad data fails before out is made
    out.mkdir(parents=True, exist_ok=True)

    handler = logging.FileHandler(out / "search.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    level = log.level
    if level == logging.NOTSET or level > logging.INFO:
        log.setLevel(logging.INFO)  # the run log always gets the per-epoch lines
    try:
        return _search(cfg, state, out, resume, tqdm, data)
    finally:
        log.removeHandler(handler)
        handler.close()
        log.setLevel(level)


def _search(
    cfg: SearchConfig,
    state: dict[str, Any],
    out: Path,
    resume: bool,
    tqdm: Any,
    data: tuple[np.ndarray, np.ndarray, tuple[str, ...]],
) -> SearchResult:
    images, labels, classes = data
    if resume and state.get("classes") and tuple(state["classes"]) != classes:
        raise SearchError(f"cannot resume {out}: classes changed ({state['classes']} -> {list(classes)})")
    state["classes"] = list(classes)
    if len(images) < 4:
        raise SearchError(f"{cfg.data}: {len(images)} images are too few to search on")
    trn_idx, val_idx = split_halves(len(images), cfg.seed)
    x, y = torch.from_numpy(images).to(cfg.device), torch.from_numpy(labels).to(cfg.device)
    batch = min(cfg.batch_size, len(trn_idx), len(val_idx))

    torch.manual_seed(cfg.seed)
    net = SearchCNN(1, cfg.init_channels, len(classes), cfg.layers, cfg.n_nodes, stem_stride=cfg.stem_stride)
    # channels-last runs the depthwise convs of the search about 1.2-3x faster on CPU
    net = net.to(cfg.device, memory_format=torch.channels_last)
    w_optim = torch.optim.SGD(
        net.weights(), cfg.w_lr, momentum=cfg.w_momentum, weight_decay=cfg.w_weight_decay
    )
    alpha_optim = torch.optim.Adam(
        net.alphas(), cfg.alpha_lr, betas=(0.5, 0.999), weight_decay=cfg.alpha_weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(w_optim, cfg.epochs, eta_min=cfg.w_lr_min)
    if resume:
        if not zipfile.is_zipfile(out / "checkpoint.pt"):  # torch.save writes a zip archive
            raise SearchError(f"cannot resume {out}: checkpoint.pt is not a torch checkpoint")
        try:
            ckpt = torch.load(out / "checkpoint.pt", map_location=cfg.device, weights_only=True)
            net.load_state_dict(ckpt["net"])
            w_optim.load_state_dict(ckpt["w_optim"])
            alpha_optim.load_state_dict(ckpt["alpha_optim"])
            sched.load_state_dict(ckpt["scheduler"])
        except (RuntimeError, KeyError, ValueError, EOFError) as exc:
            raise SearchError(
                f"cannot resume {out}: checkpoint.pt does not fit this search ({exc})"
            ) from None
        sched.T_max = cfg.epochs  # an extended run re-spreads the cosine over the new length
        torch.set_rng_state(ckpt["rng"].cpu())
        log.info("resumed %s at epoch %d of %d", out, state["epoch"], cfg.epochs)
    else:
        log.info(
            "search on %s: %d images, classes %s, config %s",
            cfg.data,
            len(images),
            list(classes),
            asdict(cfg),
        )
    architect = Architect(net, cfg.w_momentum, cfg.w_weight_decay, first_order=cfg.first_order)

    for epoch in range(state["epoch"] + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        lr = w_optim.param_groups[0]["lr"]
        rng = np.random.default_rng([cfg.seed, epoch])
        pairs = zip(_batches(x, y, trn_idx, batch, rng), _batches(x, y, val_idx, batch, rng), strict=False)
        n_steps = max(1, min(len(trn_idx), len(val_idx)) // batch)
        bar = tqdm(
            pairs, total=n_steps, desc=f"epoch {epoch}/{cfg.epochs}", disable=not cfg.progress, leave=False
        )
        loss_sum, correct, seen = 0.0, 0, 0
        for (trn_x, trn_y), (val_x, val_y) in bar:
            alpha_optim.zero_grad()
            architect.backward(trn_x, trn_y, val_x, val_y, lr, w_optim)
            alpha_optim.step()
            w_optim.zero_grad()
            logits = net(trn_x)
            loss = F.cross_entropy(logits, trn_y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(net.weights()), cfg.w_grad_clip)
            w_optim.step()
            loss_sum += float(loss.detach()) * len(trn_y)
            correct += int((logits.argmax(1) == trn_y).sum())
            seen += len(trn_y)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        sched.step()
        val_loss, val_acc = _evaluate(net, x, y, val_idx, batch)
        genotype = net.genotype()
        seconds = time.perf_counter() - t0
        state["epoch"] = epoch
        state["wall_s"] = state.get("wall_s", 0.0) + seconds
        state["history"].append(
            {
                "epoch": epoch,
                "lr": lr,
                "train_loss": loss_sum / max(1, seen),
                "train_acc": correct / max(1, seen),
                "val_loss": val_loss,
                "val_acc": val_acc,
                "seconds": seconds,
                "genotype": genotype.to_dict(),
                "alpha_normal": F.softmax(net.alpha_normal.detach(), -1).cpu().tolist(),
                "alpha_reduce": F.softmax(net.alpha_reduce.detach(), -1).cpu().tolist(),
            }
        )
        ckpt = {
            "net": net.state_dict(),
            "w_optim": w_optim.state_dict(),
            "alpha_optim": alpha_optim.state_dict(),
            "scheduler": sched.state_dict(),
            "rng": torch.get_rng_state(),
        }
        torch.save(ckpt, out / "checkpoint.pt.tmp")
        os.replace(out / "checkpoint.pt.tmp", out / "checkpoint.pt")
        _atomic_json(out / "state.json", state)
        _write_outputs(out, state, genotype)
        log.info(
            "epoch %d/%d lr %.4g train loss %.4f acc %.3f val loss %.4f acc %.3f (%.1f s) genotype %s",
            epoch, cfg.epochs, lr, loss_sum / max(1, seen), correct / max(1, seen), val_loss, val_acc,
            seconds, json.dumps(genotype.to_dict()),
        )  # fmt: skip
    if not state["history"]:
        raise SearchError(f"{out}: no epoch ran (epochs={cfg.epochs})")
    genotype = Genotype.from_dict(state["history"][-1]["genotype"])
    log.info("search done: %d epochs, %.1f s wall; genotype %s", state["epoch"], state["wall_s"], genotype)
    return SearchResult(genotype, out, state["epoch"], state["wall_s"])
