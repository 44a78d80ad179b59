"""``rtecho search``: DARTS architecture search on an ImageFolder of labelled views (torch)."""

from __future__ import annotations

import argparse

NAME = "search"
HELP = "DARTS architecture search on an ImageFolder (writes genotype.json, checkpoints, log and plots)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="ImageFolder: one subfolder of images per class")
    parser.add_argument("--out", required=True, help="run directory, e.g. runs/search_a")
    parser.add_argument("--size", type=int, default=64, help="square input size in pixels (default 64)")
    parser.add_argument("--epochs", type=int, default=50, help="search epochs (default 50)")
    parser.add_argument("--layers", type=int, default=5, help="cells in the search network (default 5)")
    parser.add_argument(
        "--init-channels", type=int, default=8, help="channels per node in the first cells (8)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of both halves (default 32)")
    parser.add_argument("--nodes", type=int, default=4, help="intermediate nodes per cell (default 4)")
    parser.add_argument("--first-order", action="store_true", help="first-order DARTS (no unrolled step)")
    parser.add_argument(
        "--alpha-lr", type=float, default=3e-4, help="architecture learning rate (Adam; DARTS: 3e-4)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (split, init, batches)")
    parser.add_argument(
        "--max-per-class", type=int, default=None, help="use at most this many images per class"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from rtecho._lazy import require

    require("torch", "train", "architecture search")
    import torch

    from rtecho.nas.search import SearchConfig, run_search

    if args.threads:
        torch.set_num_threads(args.threads)

    if args.size < 16 or args.epochs < 1 or args.layers < 1 or args.init_channels < 2 or args.batch_size < 1:
        from rtecho.nas.search import SearchError

        raise SearchError(
            "need --size >= 16, --epochs >= 1, --layers >= 1, --init-channels >= 2, --batch-size >= 1"
        )
    cfg = SearchConfig(
        data=args.data,
        out=args.out,
        size=args.size,
        epochs=args.epochs,
        layers=args.layers,
        init_channels=args.init_channels,
        batch_size=args.batch_size,
        n_nodes=args.nodes,
        first_order=args.first_order,
        alpha_lr=args.alpha_lr,
        seed=args.seed,
        max_per_class=args.max_per_class,
        device=args.device,
        progress=not args.no_progress,
    )
    result = run_search(cfg, resume=args.resume)
    print(f"genotype after {result.epochs} epochs ({result.wall_s:.1f} s): {result.out / 'genotype.json'}")
    return 0
