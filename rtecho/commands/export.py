"""``rtecho export MODEL --out engines/NAME.onnx``: torch model -> ONNX + model card + parity."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "export"
HELP = "export a registry model (optionally with a checkpoint) to ONNX with its model card"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="registry name (see `rtecho.models.list_models()`)")
    p.add_argument("--out", required=True, help="output ONNX path, e.g. engines/darts1.onnx")
    p.add_argument(
        "--checkpoint", default=None, help="training checkpoint (.pt, loaded with weights_only=True)"
    )
    p.add_argument(
        "--img-size", type=int, default=None, help="input size (default: the checkpoint's or model's)"
    )
    p.add_argument("--name", default=None, help="model name in the card (default: the file stem)")
    p.add_argument("--training-data", default="", help="what the model was trained on (for the card)")
    p.add_argument("--metrics", default=None, help="JSON file of evaluation metrics to put in the card")
    p.add_argument("--parity-data", default=None, help="folder of held-out images for the parity check")
    p.add_argument("--save-torch", action="store_true", help="also write NAME.pt for the torch backend")
    p.add_argument("--no-simplify", action="store_true", help="skip onnxslim graph simplification")


SUMMARY_KEYS = (
    "n",
    "accuracy",
    "per_class_accuracy",
    "macro_precision",
    "macro_recall",
    "weighted_f1",
    "kappa",
)


def summary(result: dict) -> dict:
    """The headline figures of an `rtecho eval` JSON (its per-item list stays in the log, not the card)."""
    return {k: result[k] for k in SUMMARY_KEYS if k in result}


def _parity_batch(folder: str, card_like, n: int = 64):
    import numpy as np

    from rtecho.errors import RtechoError
    from rtecho.io.image import IMAGE_EXTENSIONS, list_files, read_image
    from rtecho.runtime.preprocess import Preprocessor

    files = list_files(folder, IMAGE_EXTENSIONS, recursive=True)[:n]
    if not files:
        raise RtechoError(f"no images under {folder} for the parity check")
    pre = Preprocessor(card_like)
    return np.concatenate([pre(read_image(f)) for f in files])


def run(args: argparse.Namespace) -> int:
    from rtecho._lazy import require
    from rtecho.models import create_model, load_weights
    from rtecho.runtime.export import export_onnx
    from rtecho.types import ModelCard

    torch = require("torch", "train", "export")
    kw: dict = {}
    state = None
    if args.checkpoint:
        ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        cfg = ckpt.get("config") or {}
        if cfg.get("name") and cfg["name"] != args.model:
            from rtecho.models import ModelError

            raise ModelError(f"checkpoint {args.checkpoint} is for model {cfg['name']!r}, not {args.model!r}")
        kw = {
            "labels": tuple(cfg["labels"]) if cfg.get("labels") else None,
            "in_chans": cfg.get("channels", 1),
            "img_size": tuple(cfg["input_size_hw"]) if cfg.get("input_size_hw") else None,
            "equalize": bool(cfg.get("equalize", False)),
        }
        if cfg.get("genotype"):
            kw["genotype"] = cfg["genotype"]
        state = ckpt["model"]
    if args.img_size:
        kw["img_size"] = args.img_size
    model = create_model(args.model, **{k: v for k, v in kw.items() if v is not None})
    if state is not None:
        load_weights(model, state)
    cfg = model.config
    batch = None
    if args.parity_data:
        card_like = ModelCard(
            cfg.name,
            cfg.architecture,
            tuple(cfg.labels),
            cfg.input_size_hw,
            cfg.channels,
            tuple(cfg.mean),
            tuple(cfg.std),
            equalize=cfg.equalize,
        )
        batch = _parity_batch(args.parity_data, card_like)
    metrics = summary(json.loads(Path(args.metrics).read_text())) if args.metrics else None
    card = export_onnx(
        model,
        args.out,
        name=args.name or Path(args.out).stem,
        parity_batch=batch,
        training_data=args.training_data,
        metrics=metrics,
        simplify=not args.no_simplify,
        save_torch=args.save_torch,
    )
    par = card.metrics["parity"]
    print(
        f"wrote {args.out} ({card.params} params, {card.flops / 1e6:.1f} MFLOPs, sha256 {card.onnx_sha256[:12]})"
    )
    print(
        f"parity vs torch on {par['n']} inputs: max |logit diff| {par['max_abs_logit_diff']:.2e}, "
        f"argmax agreement {par['argmax_agreement']:.1%}"
    )
    if state is None:
        print("note: no --checkpoint given: the exported weights are the random initialisation")
    return 0
