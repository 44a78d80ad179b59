"""Quick sim-to-real transfer check of rtecho.synth: train a small model on simulator output only, then
score it on held-out simulator data and on real stills named after their view (coarse labels).

Run (about 5 minutes on 2 CPU cores)::

    .venv/bin/python benchmarks/transfer_check.py [REAL_DIR] --n 200 --size 96 --epochs 8 --log /tmp/rl/log.jsonl

REAL_DIR defaults to ../shared/data/real/raventan95-echo-view-classifier (real images are read at run time
only; nothing of them is written into the repository). Prints per-image predictions, the real-still score
at the coarse level and the held-out simulator accuracy, and appends one JSON line to ``--log``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_REAL = Path(__file__).resolve().parents[1] / ".." / "shared/data/real/raventan95-echo-view-classifier"
VIEWS_TRAINED = ("A2C", "A3C", "A4C", "A5C", "PLAX", "PSAX-AV", "PSAX-MV", "PSAX-PM", "PSAX-AP", "OTHER")


def render_set(n_per_view: int, size: int, seed: int) -> tuple[list[np.ndarray], list[int], tuple[str, ...]]:
    """Simulated grey images at ``size`` x ``size`` (as the runtime sees them) and coarse targets."""
    from rtecho.synth import render_view
    from rtecho.views import coarse

    labels = tuple(dict.fromkeys(coarse(v) for v in VIEWS_TRAINED))
    rng = np.random.default_rng(seed)
    images, targets = [], []
    for _ in range(n_per_view):
        for v in VIEWS_TRAINED:
            images.append(render_view(v, rng, (size, size)))
            targets.append(labels.index(coarse(v)))
    return images, targets, labels


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("real", nargs="?", default=str(DEFAULT_REAL), help="folder of real stills named by view")
    ap.add_argument("--n", type=int, default=200, help="training images per fine view")
    ap.add_argument("--n-test", type=int, default=30, help="held-out simulated images per fine view")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--model", default="stanet")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--unbalanced", action="store_true", help="no class-balanced sampling (PSAX has 4 views)")
    ap.add_argument("--log", default="/tmp/rl/transfer_log.jsonl", help="JSON-lines log (outside the repo)")
    ap.add_argument("--note", default="", help="free text stored with the result")
    args = ap.parse_args(argv)

    import torch

    from rtecho.models import create_model
    from rtecho.runtime.preprocess import Preprocessor
    from rtecho.train.augment import UltrasoundAugment
    from rtecho.train.data import ArrayDataset, read_image, real_stills
    from rtecho.train.loop import fit
    from rtecho.views import coarse

    t0 = time.perf_counter()
    tr_x, tr_y, labels = render_set(args.n, args.size, args.seed)
    va_x, va_y, _ = render_set(max(4, args.n // 10), args.size, args.seed + 1000)
    te_x, te_y, _ = render_set(args.n_test, args.size, args.seed + 2000)
    t_render = time.perf_counter() - t0
    torch.manual_seed(args.seed)
    model = create_model(args.model, labels=labels, in_chans=1, img_size=(args.size, args.size))
    cfg = model.config
    norm = {"channels": cfg.channels, "mean": tuple(cfg.mean), "std": tuple(cfg.std)}
    train_ds = ArrayDataset(tr_x, tr_y, labels, augment=UltrasoundAugment(), seed=args.seed, **norm)
    val_ds = ArrayDataset(va_x, va_y, labels, **norm)
    out = Path(args.log).parent / "transfer_run"
    shutil.rmtree(out, ignore_errors=True)  # a fresh run: no stale log or checkpoint
    fit(
        model,
        train_ds,
        val_ds,
        epochs=args.epochs,
        patience=0,
        balanced=not args.unbalanced,
        checkpoint_dir=out,
        num_threads=args.threads,
        seed=args.seed,
        progress=False,
    )
    state = torch.load(out / "best.pt", weights_only=True)
    model.load_state_dict(state.get("model", state))
    model.eval()

    def predict(images: list[np.ndarray]) -> np.ndarray:
        pre = Preprocessor.for_input((args.size, args.size), **norm)
        x = np.concatenate([pre(im) for im in images])
        with torch.no_grad():
            out_ = model(torch.from_numpy(x))
        out_ = out_[0] if isinstance(out_, tuple) else out_
        return out_.softmax(1).numpy()

    sim_pred = predict(te_x).argmax(1)
    sim_acc = float(np.mean(sim_pred == np.asarray(te_y)))
    real = real_stills(args.real)
    probs = predict([read_image(p) for p, _ in real])
    right = 0
    rows = []
    for (path, label), p in zip(real, probs, strict=True):
        pred = labels[int(p.argmax())]
        ok = pred == coarse(label)
        right += ok
        rows.append({"file": path.name, "true": coarse(label), "pred": pred, "p": round(float(p.max()), 3)})
        print(
            f"{path.name:22s} true {coarse(label):6s} pred {pred:6s} p={p.max():.2f} {'OK' if ok else '--'}"
        )
    result = {
        "time": time.strftime("%H:%M:%S"),
        "note": args.note,
        "real_right": int(right),
        "real_n": len(real),
        "sim_acc": round(sim_acc, 4),
        "n": args.n,
        "size": args.size,
        "epochs": args.epochs,
        "render_s": round(t_render, 1),
        "total_s": round(time.perf_counter() - t0, 1),
        "rows": rows,
    }
    print(f"real {right}/{len(real)} coarse; held-out sim acc {sim_acc:.3f}; {result['total_s']} s")
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "a") as fh:
        fh.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
