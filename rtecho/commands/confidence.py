"""``rtecho confidence NAME``: fit temperature scaling and unknown-rejection thresholds on held-out
simulator stills, report the expected calibration error before and after on another held-out set,
and (``--write``) store the calibration in the model card (its ``calibration`` section)."""

from __future__ import annotations

import argparse
import json

NAME = "confidence"
HELP = "fit temperature scaling and unknown-rejection thresholds of an exported model (simulator stills)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model name in engines/ or path to its .onnx")
    p.add_argument("--n", type=int, default=40, help="stills per view in each of the two sets (default 40)")
    p.add_argument(
        "--seed", type=int, default=404, help="seed of the fitting set (training used 101, val 202)"
    )
    p.add_argument(
        "--test-seed", type=int, default=505, help="seed of the held-out set the ECE is reported on"
    )
    p.add_argument("--keep", type=float, default=0.95, help="fraction of correct frames the thresholds keep")
    p.add_argument("--size", type=int, default=160, help="rendered still size (default 160)")
    p.add_argument(
        "--shift",
        choices=("none", "transfer"),
        default="none",
        help="fit on stills shifted by the transfer augmentation (rtecho.train.transfer), "
        "so that thresholds suit frames unlike the training images (real ones)",
    )
    p.add_argument("--write", action="store_true", help="store the calibration in the model card")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np

    from rtecho.pipeline.ultrasound import simulator_logits
    from rtecho.runtime import load_engine, resolve_model
    from rtecho.types import card_path_for
    from rtecho.ultrasound.calibration import expected_calibration_error, fit_calibration, softmax_t

    path = resolve_model(args.model)
    size_hw = (args.size, args.size)
    shift = None
    if args.shift == "transfer":
        from rtecho.train.transfer import TransferAugment

        shift = TransferAugment()
    with load_engine(path) as engine:
        z_fit, y_fit = simulator_logits(engine, np.random.default_rng(args.seed), args.n, size_hw, shift)
        z_test, y_test = simulator_logits(engine, np.random.default_rng(args.test_seed), args.n, size_hw)
        card = engine.card
    cal = fit_calibration(z_fit, y_fit, keep=args.keep)
    before = expected_calibration_error(softmax_t(z_test), y_test)
    after_p = softmax_t(z_test, cal.temperature)
    after = expected_calibration_error(after_p, y_test)
    correct = after_p.argmax(1) == y_test
    accepted = cal.accept(after_p)
    report = {
        "temperature": round(cal.temperature, 4),
        "conf_threshold": round(cal.conf_threshold, 4),
        "entropy_threshold": cal.entropy_threshold,
        "fit": {
            "seed": args.seed,
            "shift": args.shift,
            "n": int(len(y_fit)),
            "ece_before": cal.ece_before,
            "ece_after": cal.ece_after,
        },
        "heldout": {
            "seed": args.test_seed,
            "n": int(len(y_test)),
            "accuracy": float(correct.mean()),
            "ece_before": before,
            "ece_after": after,
            "accepted_correct": float(accepted[correct].mean()) if correct.any() else None,
            "accepted_wrong": float(accepted[~correct].mean()) if (~correct).any() else None,
        },
    }
    print(json.dumps(report, indent=2))
    if args.write:
        out = cal.to_card(card)
        dataclasses.replace(out, extra={**out.extra, "calibration_report": report}).save(card_path_for(path))
        print(f"calibration stored in {card_path_for(path)}")
    return 0
