"""LV segmentation training on simulator cines: data as the runtime sees it, Dice + cross-entropy loop.

Data: :mod:`rtecho.train.seg_data` (simulator cines cropped and resized exactly as the runtime does).

Loss: ``CE(logits, mask) + (1 - soft Dice)`` with soft Dice ``2 sum(p m) / (sum p + sum m)`` over each
image's LV probability ``p = softmax(logits)[:, 1]`` (averaged over the batch).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from rtecho.train.seg_data import (  # noqa: F401  (re-exported: the data half of this module's API)
    SIMS,
    crop_resize,
    load_seg_set,
    render_cine_sample,
    render_seg_set,
    sector_crop,
)


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice ``2|A and B| / (|A| + |B|)`` of two boolean masks (1.0 when both are empty)."""
    a, b = pred.astype(bool), truth.astype(bool)
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * int((a & b).sum()) / s


def _augment(x: Any, m: Any, gen: Any) -> tuple[Any, Any]:
    """Batch augmentation on (B,1,H,W) tensors: small affine (scale, rotation, shift) shared by image
    and mask, then gain/gamma on the image; no flips (the LV side of an apical view is meaningful)."""
    import torch
    import torch.nn.functional as F

    b = x.shape[0]
    u = torch.rand(b, 5, generator=gen)
    scale = 0.9 + 0.2 * u[:, 0]
    rot = (u[:, 1] - 0.5) * math.radians(16)
    tx, ty = (u[:, 2] - 0.5) * 0.12, (u[:, 3] - 0.5) * 0.12
    cos, sin = torch.cos(rot) / scale, torch.sin(rot) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    m = (F.grid_sample(m, grid, mode="bilinear", padding_mode="zeros", align_corners=False) > 0.5).float()
    gamma = torch.exp((u[:, 4] - 0.5) * 0.6).view(b, 1, 1, 1)
    gain = 0.8 + 0.4 * torch.rand(b, 1, 1, 1, generator=gen)
    x = (255.0 * (x.clamp(0, 255) / 255.0) ** gamma * gain).clamp(0, 255)
    return x, m


def seg_loss(logits: Any, m: Any) -> Any:
    """Cross-entropy + (1 - soft Dice of the LV channel), see the module docstring."""
    import torch.nn.functional as F

    ce = F.cross_entropy(logits, m[:, 0].long())
    p = logits.softmax(1)[:, 1]
    t = m[:, 0]
    inter = (p * t).sum((1, 2))
    soft_dice = (2 * inter + 1.0) / (p.sum((1, 2)) + t.sum((1, 2)) + 1.0)
    return ce + (1 - soft_dice).mean()


def evaluate(
    model: Any, data: dict[str, np.ndarray], mean: float, std: float, batch: int = 64
) -> dict[str, float]:
    """Mean Dice of ``model``'s masks on ``data`` (at the network resolution): all, ED, ES frames."""
    import torch

    model.eval()
    scores = np.zeros(len(data["images"]))
    with torch.no_grad():
        for i in range(0, len(scores), batch):
            x = torch.from_numpy(data["images"][i : i + batch].astype(np.float32))[:, None]
            pred = model((x / 255.0 - mean) / std).argmax(1).numpy()
            for j, p in enumerate(pred):
                scores[i + j] = dice(p, data["masks"][i + j])
    kinds = data["kinds"]
    return {
        "dice": float(scores.mean()),
        "dice_ed": float(scores[kinds == 1].mean()),
        "dice_es": float(scores[kinds == 2].mean()),
    }


def fit_segmenter(
    model: Any,
    train: dict[str, np.ndarray],
    val: dict[str, np.ndarray],
    out: str | Path,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    augment: bool = True,
    seed: int = 0,
    time_limit_s: float | None = None,
    log: Any = print,
    best: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train with AdamW, linear warm-up then cosine decay; keeps ``OUT/best.pt`` (best val Dice) and
    ``OUT/log.jsonl``. The schedule runs over ``epochs`` or, with ``time_limit_s``, over that wall time
    (``lr(f) = lr * min(1, f / 0.05) * (1 + cos(pi f)) / 2``, ``f`` the elapsed fraction), whichever ends first.
    ``best``: the row of an earlier run's best checkpoint (a warm start keeps it unless it is beaten)."""
    import torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    mean, std = float(cfg.mean[0]), float(cfg.std[0])
    gen = torch.Generator().manual_seed(seed)
    images = torch.from_numpy(train["images"].astype(np.float32))[:, None]
    masks = torch.from_numpy(train["masks"].astype(np.float32))[:, None]
    n = len(images)
    per_epoch = max(1, n // batch_size)
    steps = epochs * per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    best = dict(best) if best else {"dice": -1.0}
    t0 = time.monotonic()
    step, done = 0, False

    def fraction() -> float:
        f = step / steps
        if time_limit_s is not None:
            f = max(f, (time.monotonic() - t0) / time_limit_s)
        return min(f, 1.0)

    with (out / "log.jsonl").open("a") as logf:
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            total, count = 0.0, 0
            for k in range(per_epoch):
                f = fraction()
                if f >= 1.0:
                    done = True
                    break
                for group in opt.param_groups:
                    group["lr"] = lr * min(1.0, f / 0.05) * 0.5 * (1 + math.cos(math.pi * f))
                idx = perm[k * batch_size : (k + 1) * batch_size]
                x, m = images[idx], masks[idx]
                if augment:
                    x, m = _augment(x, m, gen)
                loss = seg_loss(model((x / 255.0 - mean) / std), m)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                total += float(loss.detach())
                count += 1
            metrics = evaluate(model, val, mean, std)
            row = {"epoch": epoch + 1, "steps": step, "loss": total / max(1, count), **metrics}
            row["time_s"] = round(time.monotonic() - t0, 1)
            logf.write(json.dumps(row) + "\n")
            logf.flush()
            log(
                f"epoch {epoch + 1} step {step} loss {row['loss']:.4f} val dice {metrics['dice']:.4f} "
                f"(ED {metrics['dice_ed']:.4f}, ES {metrics['dice_es']:.4f}) {row['time_s']:.0f}s"
            )
            if metrics["dice"] > best["dice"]:
                best = {**row}
                torch.save({"config": cfg.to_dict(), "model": model.state_dict()}, out / "best.pt")
            if done:
                break
    model.load_state_dict(torch.load(out / "best.pt", weights_only=True)["model"])
    (out / "best.json").write_text(json.dumps(best, indent=2) + "\n")
    return best


def _dataset(
    path: Path, n_cines: int, seed: int, size_hw: tuple[int, int], log: Any
) -> dict[str, np.ndarray]:
    """Load ``path`` if it holds ``n_cines`` cines from ``seed``, else render them (2 workers) and save."""
    if path.exists():
        data = load_seg_set(path)
        if (
            len(data["seeds"]) == n_cines
            and int(data["seeds"][0]) == seed
            and data["images"].shape[1:] == size_hw
        ):
            log(f"using {path} ({len(data['images'])} frames of {n_cines} cines)")
            return data
    t0 = time.monotonic()
    data = render_seg_set(range(seed, seed + n_cines), workers=2 if n_cines >= 8 else 1, size_hw=size_hw)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **data)
    log(f"rendered {n_cines} cines -> {len(data['images'])} frames in {time.monotonic() - t0:.0f}s -> {path}")
    return data


#: Seed ranges: training cines start at ``--seed`` + TRAIN_BASE, validation at VAL_BASE; the held-out
#: check (benchmarks/seg_check.py) uses seeds from 900000, which training never draws.
TRAIN_BASE, VAL_BASE = 100_000, 200_000


def describe(data: dict[str, np.ndarray], seeds_from: int) -> str:
    """The model card's plain-words ``training_data``."""
    sims = ", ".join(f"{s} x{int((data['sims'] == s).sum())}" for s in SIMS)
    return (
        f"SIMULATED data only (no patient data, no real images): {len(data['seeds'])} rtecho.synth cines ({sims}; v1 2-D, "
        f"v2 3-D heart sliced by a virtual probe), apical A4C/A2C, EF 15-80, heart rate 45-130/min, "
        f"20-80 frames/s, source sizes 112-176 px, the simulators' realism randomisation; seeds "
        f"{seeds_from}..{seeds_from + len(data['seeds']) - 1}; ED, ES and random frames "
        f"({len(data['images'])} in all), sector crop resized to the input as the runtime does"
    )


def export_int8(onnx_path: str | Path, images: np.ndarray, n: int = 64) -> Path:
    """Static INT8 (Q/DQ, u8 activations for ONNX Runtime's x86 kernels, reduce_range weights) of an
    exported segmenter, calibrated on ``n`` of ``images`` (0..255, already at the input size);
    written as ``NAME.int8.onnx`` and recorded in the card's variants."""
    from rtecho.card import CalibrationFrames
    from rtecho.runtime.model_file import load_card
    from rtecho.runtime.ort import OrtEngine
    from rtecho.runtime.precision import record_variant

    onnx_path = Path(onnx_path)
    card = load_card(onnx_path)
    pick = np.linspace(0, len(images) - 1, min(n, len(images))).astype(int)
    frames = [np.clip(np.rint(images[i].astype(np.float32)), 0, 255).astype(np.uint8) for i in pick]
    # ONNX Runtime's own variant (the file it reads, its u8-activation quantisation), as rtecho calibrate makes it
    out = OrtEngine.make_variant(onnx_path, card, "int8", frames)
    record_variant(
        onnx_path,
        "int8",
        out,
        backend=OrtEngine.backend,
        quantisation=OrtEngine.quantisation,
        calibration=CalibrationFrames(
            set="simulator cines (validation split of the training run)", frames=len(frames)
        ),
    )
    return out


def export_segmenter(
    model: Any,
    out: str | Path,
    train: dict[str, np.ndarray],
    train_from: int,
    val: dict[str, np.ndarray],
    best: dict[str, Any],
) -> Any:
    """Export a trained segmenter with its card (training data in words, validation Dice, parity on val frames)."""
    from rtecho.runtime.export import export_onnx

    cfg = model.config
    mean, std = float(cfg.mean[0]), float(cfg.std[0])
    batch = ((val["images"][:16].astype(np.float32) / 255.0 - mean) / std)[:, None]
    metrics = {
        "val_sim": {
            "dice": round(best["dice"], 4),
            "dice_ed": round(best["dice_ed"], 4),
            "dice_es": round(best["dice_es"], 4),
            "n_cines": int(len(val["seeds"])),
            "n_frames": int(len(val["images"])),
            "note": "validation cines (model selection), network resolution",
        }
    }
    return export_onnx(
        model,
        out,
        name=Path(out).stem,
        parity_batch=batch,
        training_data=describe(train, train_from),
        metrics=metrics,
        description=(
            f"LV segmenter ({cfg.architecture}): output 'logits' (N, 2, H, W) over (background, LV) at the "
            "input size; LV mask = logits[:, 1] > logits[:, 0]. Input: the ultrasound sector crop resized "
            "to the input size (Preprocessor with this card); rtecho.runtime.masks.mask_to_source maps it back."
        ),
        extra={"epochs_run": int(best["epoch"])},
    )


def run_command(args: Any) -> int:
    """``rtecho train MODEL --task segmentation (--synth N_CINES | --data FILE.npz) [--export ONNX]``;
    ``--resume`` warm-starts from ``OUT/best.pt`` with a fresh schedule."""
    import torch

    from rtecho.models import create_model

    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    size = args.size or 112
    model = create_model(args.model, img_size=size)
    cfg = model.config
    if cfg.task != "segmentation":
        from rtecho.models import ModelError

        raise ModelError(f"model {args.model!r} is a {cfg.task} model; --task segmentation needs lvseg_*")
    out = Path(args.out or f"runs/{args.model}")
    quiet = print if not args.quiet else (lambda *_a, **_k: None)
    if args.resume:  # warm start from OUT/best.pt with a fresh schedule (--lr sets its peak)
        from rtecho.models import load_weights

        load_weights(model, torch.load(out / "best.pt", weights_only=True)["model"])
        quiet(f"warm start from {out / 'best.pt'}")
        previous = json.loads((out / "best.json").read_text()) if (out / "best.json").exists() else None
    else:
        previous = None
    if args.data:
        train = load_seg_set(args.data)
        train_from = int(train["seeds"][0])
    else:
        train_from = TRAIN_BASE + args.seed
        train = _dataset(out / "train.npz", args.synth, train_from, cfg.input_size_hw, quiet)
    if args.val_data:
        val = load_seg_set(args.val_data)
    else:
        n_val = args.val_synth or max(8, (args.synth or len(train["seeds"])) // 10)
        val = _dataset(out / "val.npz", n_val, VAL_BASE + args.seed, cfg.input_size_hw, quiet)
    best = fit_segmenter(
        model,
        train,
        val,
        out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        augment=not args.no_augment,
        seed=args.seed,
        time_limit_s=None if args.time_limit is None else 60.0 * args.time_limit,
        log=quiet,
        best=previous,
    )
    print(
        f"{args.model}: best val Dice {best['dice']:.4f} (ED {best['dice_ed']:.4f}, ES {best['dice_es']:.4f}) "
        f"at epoch {best['epoch']} -> {out / 'best.pt'}"
    )
    if args.export:
        card = export_segmenter(model, args.export, train, train_from, val, best)
        par = card.metrics["parity"]
        print(
            f"wrote {args.export} ({card.params} params, {card.flops / 1e6:.1f} MFLOPs); parity max |diff| "
            f"{par['max_abs_logit_diff']:.2e}, per-pixel argmax agreement {par['argmax_agreement']:.2%}"
        )
        if getattr(args, "int8", False):
            print(f"wrote {export_int8(args.export, val['images'])} (INT8, u8 activations)")
    return 0
