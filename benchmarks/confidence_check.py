"""Which unknown-rejection rule keeps correct real answers? Rules are fitted on simulator stills only;
the real frames (the dev split, pydicom's A4C cine) are only scored.

Rules (temperature T and thresholds from ``rtecho.ultrasound.calibration.fit_calibration``, keep 0.95):
- ``none``: accept everything;
- ``sim``: T and thresholds on simulator stills (what ``rtecho confidence`` did before);
- ``shift``: T and thresholds on simulator stills shifted by the transfer augmentation;
- ``sim-T+shift-thr``: T from plain stills, thresholds chosen on shifted stills calibrated with that T.

Each real frame goes through the stream's ultrasound preprocessing (sector crop, mode gate); the
table gives, per rule, how many correct and wrong real answers are accepted (coarse labels) and the
ECE on the real frames. Measure-only: nothing is fitted to the real frames.

    .venv/bin/python benchmarks/confidence_check.py engines/darts2.onnx
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np

from rtecho.pipeline import build_pipeline
from rtecho.pipeline.ultrasound import simulator_logits
from rtecho.runtime import load_engine
from rtecho.train.transfer import TransferAugment
from rtecho.ultrasound.calibration import (
    choose_thresholds,
    expected_calibration_error,
    fit_calibration,
    softmax_t,
)
from rtecho.views import coarse

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"


def real_logits(engine, dev: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Logits, coarse truths and sources of every classified frame of the dev clips and CAMUS frames,
    then of pydicom's real A4C cine (source ``pydicom``)."""
    import pydicom.examples

    from rtecho.io import open_source

    pipe = build_pipeline(engine, ultrasound=True)
    zs, truths, srcs = [], [], []
    paths = sorted(glob.glob(str(dev / "clips/*/*"))) + sorted(glob.glob(str(dev / "camus/*/*")))
    items = [(p, Path(p).parent.name) for p in paths] + [(str(pydicom.examples.get_path("ybr_color")), "A4C")]
    for path, truth in items:
        pipe.reset()
        with open_source(path) as src:
            for frame in src:
                rec = pipe.run(frame)
                if rec.logits is None:
                    continue
                zs.append(rec.logits)
                truths.append(truth)
                srcs.append("pydicom" if "examples" in path else path)
    return np.array(zs, np.float64), truths, srcs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--n", type=int, default=40, help="simulator stills per view for fitting")
    p.add_argument("--seed", type=int, default=404)
    p.add_argument("--dev", type=Path, default=DEV)
    args = p.parse_args(argv)
    with load_engine(args.model) as engine:
        labels = engine.card.labels
        z_sim, y_sim = simulator_logits(engine, np.random.default_rng(args.seed), args.n, (160, 160))
        z_shift, y_shift = simulator_logits(
            engine, np.random.default_rng(args.seed + 1), args.n, (160, 160), TransferAugment()
        )
        z_real, truths, srcs = real_logits(engine, args.dev)
    plain, shifted = fit_calibration(z_sim, y_sim), fit_calibration(z_shift, y_shift)
    mixed_thr = choose_thresholds(softmax_t(z_shift, plain.temperature), y_shift)
    rules = {
        "none": (1.0, 0.0, np.inf),
        "sim": (plain.temperature, plain.conf_threshold, plain.entropy_threshold),
        "shift": (shifted.temperature, shifted.conf_threshold, shifted.entropy_threshold),
        "sim-T+shift-thr": (plain.temperature, *mixed_thr),
    }
    pred = np.array([coarse(labels[i]) for i in z_real.argmax(1)])
    correct = pred == np.array(truths)
    dev = np.array([s != "pydicom" for s in srcs])
    print(
        f"{args.model}: {dev.sum()} dev frames ({correct[dev].sum()} right), {(~dev).sum()} pydicom A4C frames"
    )
    print(
        "| rule | T | conf thr | dev correct accepted | dev wrong accepted | dev ECE | pydicom accepted | pydicom clip |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    from rtecho.ultrasound.calibration import entropy

    for name, (t, ct, et) in rules.items():
        prob = softmax_t(z_real, t)
        acc = (prob.max(1) >= ct) & (entropy(prob) <= et)
        c, w = correct & dev, ~correct & dev
        ece = expected_calibration_error(prob[dev], np.where(correct[dev], prob[dev].argmax(1), -1))
        kept = pred[~dev][acc[~dev]]
        vals, counts = np.unique(kept, return_counts=True)
        clip = vals[counts.argmax()] if len(kept) else "no view"
        print(
            f"| {name} | {t:.2f} | {ct:.3f} | {acc[c].sum()}/{c.sum()} | {acc[w].sum()}/{w.sum()} | {ece:.3f} "
            f"| {acc[~dev].sum()}/{(~dev).sum()} | {clip} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
