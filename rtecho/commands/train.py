"""``rtecho train MODEL --data DIR | --synth N_PER_VIEW``: train a registry model, with checkpoints and resume.

``--task segmentation`` trains an LV segmenter (``lvseg_lite``, ``lvseg_aspp``, ``lvseg_unet``) on simulator cines
(``--synth N_CINES``, cached as ``OUT/train.npz``) or on such an .npz (``--data FILE.npz``); see
:mod:`rtecho.train.segment`. ``--export engines/NAME.onnx`` exports the best checkpoint with its card.

Writes ``OUT/last.pt`` (every epoch), ``OUT/best.pt`` (best validation loss), ``OUT/log.jsonl`` and
``OUT/config.json``. ``--resume`` continues from ``OUT/last.pt``.
"""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train a view classifier from the model registry on an image folder or on simulated views"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model", metavar="MODEL", help="registry model name (e.g. darts2, uiac, efficientnet_b0_cbam)"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--data", metavar="DIR", help="ImageFolder: one subfolder per view label, images and clips"
    )
    src.add_argument("--synth", type=int, metavar="N_PER_VIEW", help="train on N simulated images per view")
    p.add_argument("--val-data", metavar="DIR", help="validation ImageFolder (default: a split of --data)")
    p.add_argument(
        "--val-fraction", type=float, default=0.2, help="held-out fraction of --data (default 0.2)"
    )
    p.add_argument(
        "--val-synth", type=int, metavar="N", help="simulated validation images per view (default N/5)"
    )
    p.add_argument(
        "--views", nargs="+", metavar="LABEL", help="view labels to learn (default: all, or the folder's)"
    )
    p.add_argument(
        "--genotype", metavar="NAME|JSON", help="DARTS models: a shipped genotype name or a JSON file"
    )
    p.add_argument(
        "--task", choices=("classification", "segmentation"), default="classification",
        help="classification (views) or segmentation (LV masks from simulator cines)",
    )  # fmt: skip
    p.add_argument("--size", type=int, default=None, help="square input size (default 128; segmentation 112)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=1, help="input channels (default 1, grey)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), default="adam")
    p.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs (0: off)")
    p.add_argument("--balanced", action="store_true", help="class-balanced sampling")
    p.add_argument(
        "--select-ratio", type=float, default=1.0, help="online batch selection: candidates per kept item"
    )
    p.add_argument(
        "--label-smoothing", type=float, default=0.0, help="cross-entropy label smoothing (e.g. 0.1)"
    )
    p.add_argument("--no-augment", action="store_true", help="switch augmentation off")
    p.add_argument(
        "--augment",
        choices=("default", "transfer", "transfer-gain"),
        default="default",
        help="augmentation set: default (geometry, gain, speckle, blur, JPEG, cutout) or transfer "
        "(default + aspect stretch, wall thickening, haze, real intensity curves, random convolution) "
        "or transfer-gain (transfer + high gain, stronger haze); see rtecho.train.transfer",
    )
    p.add_argument(
        "--equalize", action="store_true",
        help="equalise each frame's in-sector grey levels by their own CDF before normalising "
        "(in training and, through the model card, at run time)",
    )  # fmt: skip
    p.add_argument(
        "--sector-crop", type=float, default=0.0, metavar="P",
        help="with --data: each epoch, feed a still as the live ultrasound path frames it (cropped to its "
        "sector's box, blanked outside) with probability P (default 0: as stored)",
    )  # fmt: skip
    p.add_argument("--fresh", action="store_true", help="with --synth: render new images every epoch")
    p.add_argument(
        "--sim", choices=("v1", "v2"), default="v1", help="with --synth: simulator v1 (2-D) or v2 (3-D heart)"
    )
    p.add_argument("--frames-per-clip", type=int, default=8, help="frames sampled from each clip (default 8)")
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--time-limit", type=float, metavar="MIN", help="segmentation: stop after MIN minutes")
    p.add_argument("--export", metavar="ONNX", help="segmentation: export the best checkpoint with its card")
    p.add_argument("--int8", action="store_true", help="segmentation: with --export, also an INT8 variant")


def run(args: argparse.Namespace) -> int:
    if args.task == "segmentation":
        from rtecho.train.segment import run_command

        if args.equalize or args.sector_crop:
            from rtecho.train.data import DatasetError

            raise DatasetError(
                "--equalize and --sector-crop are for view classifiers, not --task segmentation"
            )

        return run_command(args)
    if not 0.0 <= args.sector_crop <= 1.0 or (args.sector_crop and args.synth is not None):
        from rtecho.train.data import DatasetError

        raise DatasetError("--sector-crop takes a probability in [0, 1], with --data (stills) only")
    from pathlib import Path

    import torch

    from rtecho.train.augment import UltrasoundAugment
    from rtecho.train.data import DatasetError, ImageFolderDataset, SynthDataset, scan_folder
    from rtecho.train.loop import fit
    from rtecho.views import VIEWS, check_labels

    try:
        from rtecho.models import create_model
    except ImportError as exc:
        raise DatasetError(f"rtecho.models could not be imported ({exc})") from exc

    if args.views:
        try:
            check_labels(args.views)
        except ValueError as exc:
            raise DatasetError(str(exc)) from None
        views = tuple(args.views)
    elif args.data:
        present = {s.label for s in scan_folder(args.data)}
        views = tuple(v for v in VIEWS if v in present)
    else:
        views = VIEWS
    size_hw = (args.size or 128, args.size or 128)
    torch.manual_seed(args.seed)
    extra = {"genotype": args.genotype} if args.genotype else {}
    model = create_model(
        args.model, labels=views, in_chans=args.channels, img_size=size_hw, equalize=args.equalize, **extra
    )
    cfg = model.config
    norm = {
        "channels": cfg.channels,
        "mean": tuple(cfg.mean),
        "std": tuple(cfg.std),
        "equalize": cfg.equalize,
    }
    if args.no_augment:
        augment = None
    elif args.augment.startswith("transfer"):
        from rtecho.train.transfer import PRESETS

        augment = PRESETS[args.augment]
    else:
        augment = UltrasoundAugment()
    if args.synth is not None:
        kw = {"views": views, "size_hw": size_hw, "seed": args.seed, "sim": args.sim, **norm}
        train_ds = SynthDataset(args.synth, split="train", augment=augment, fresh_per_epoch=args.fresh, **kw)
        val_ds = SynthDataset(args.val_synth or max(2, args.synth // 5), split="val", **kw)
        described = f"rtecho.synth {args.sim}, {args.synth}/view train, seed {args.seed}"
    else:
        kw = {
            "size_hw": size_hw,
            "labels": views,
            "frames_per_clip": args.frames_per_clip,
            "seed": args.seed,
            **norm,
        }
        full = ImageFolderDataset(args.data, augment=augment, sector_crop=args.sector_crop, **kw)
        if args.val_data:
            train_ds, val_ds = full, ImageFolderDataset(args.val_data, **kw)
        else:
            train_ds, val_ds = full.split(args.val_fraction, seed=args.seed)
        described = f"ImageFolder {args.data}"
        if args.sector_crop:
            described += f", sector-framed with p={args.sector_crop:g}"
    out = Path(args.out or f"runs/{args.model}")
    result = fit(
        model,
        train_ds,
        val_ds,
        epochs=args.epochs,
        optimizer=args.optimizer,
        lr=args.lr,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        patience=args.patience,
        checkpoint_dir=out,
        resume=args.resume,
        balanced=args.balanced,
        select_ratio=args.select_ratio,
        label_smoothing=args.label_smoothing,
        num_threads=args.threads,
        seed=args.seed,
        progress=not args.quiet,
        extra_config={"training_data": described, "n_train": len(train_ds), "n_val": len(val_ds)},
    )
    last = result.history[-1] if result.history else {}
    print(
        f"{args.model}: {result.epochs_run} epoch(s), best val loss {result.best_val_loss:.4f} at epoch "
        f"{result.best_epoch}; last val acc {last.get('val_acc', float('nan')):.4f}"
        f"{' (early stop)' if result.stopped_early else ''} -> {out}"
    )
    return 0
