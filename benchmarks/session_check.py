"""View-change check on rendered scanning sessions with the trained model (issue 8 acceptance).

Each session walks through six views (beating cine loops held 2-3 s at 30 fps) with 0.5 s searching
transitions (cross-fades through off-axis frames), and runs through ``StreamProcessor`` with the
ultrasound stages (sector, mode gate, calibration + rejection, smoothing with hysteresis). The
calibration is fitted on simulator stills of ``--cal-seed`` (the model trained on seed 101, validated
on 202, tested on 303) and its ECE is measured on stills of ``--eval-seed``. Prints events found,
delays (median/max), spurious changes and the ECE before/after temperature scaling.

Run (about 4 s per session on 2 CPU cores)::

    PYTHONPATH=. .venv/bin/python benchmarks/session_check.py --sessions 10 --seed0 100
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from rtecho.runtime import load_engine
    from rtecho.ultrasound.calibration import expected_calibration_error, fit_calibration, softmax_t
    from tests.ultrasound.session import render_session, score_events, session_events, still_logits

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="engines/stanet.onnx")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seed0", type=int, default=100, help="session seeds seed0 .. seed0+N-1")
    ap.add_argument("--cal-seed", type=int, default=404)
    ap.add_argument("--eval-seed", type=int, default=505)
    ap.add_argument("--n-per-view", type=int, default=40, help="stills per label for calibration and ECE")
    ap.add_argument("--tau", type=float, default=None)
    ap.add_argument("--min-stable", type=float, default=None)
    ap.add_argument("--min-prob", type=float, default=None)
    ap.add_argument("--no-calibration", action="store_true")
    args = ap.parse_args(argv)
    post_kw = {
        k: v
        for k, v in (("tau_s", args.tau), ("min_stable_s", args.min_stable), ("min_prob", args.min_prob))
        if v is not None
    }
    engine = load_engine(args.engine)
    t0 = time.perf_counter()
    cal = fit_calibration(*still_logits(engine, np.random.default_rng(args.cal_seed), args.n_per_view))
    z, y = still_logits(engine, np.random.default_rng(args.eval_seed), args.n_per_view)
    ece_before = expected_calibration_error(softmax_t(z), y)
    ece_after = expected_calibration_error(softmax_t(z, cal.temperature), y)
    print(
        f"calibration (seed {args.cal_seed}, {cal.n_val} stills): T={cal.temperature:.3f} "
        f"conf>={cal.conf_threshold:.3f} entropy<={cal.entropy_threshold:.3f}; held-out seed {args.eval_seed} "
        f"({len(y)} stills, accuracy {np.mean(z.argmax(1) == y):.3f}): ECE {ece_before:.4f} -> {ece_after:.4f}"
    )
    delays: list[float] = []
    missed = spurious = n_views = 0
    for seed in range(args.seed0, args.seed0 + args.sessions):
        frames, times, truth = render_session(np.random.default_rng(seed))
        events = session_events(engine, frames, times, None if args.no_calibration else cal, **post_kw)
        d, s = score_events(events, truth)
        n_views += len(truth)
        missed += sum(x is None for x in d)
        spurious += s
        delays += [x for x in d if x is not None]
        print(
            f"session {seed}: {len(frames)} frames, truth {[(v, round(t, 2)) for v, t in truth]}; "
            f"events {[(e.to_label, round(e.timestamp, 2)) for e in events]}"
        )
    dl = np.array(delays) if delays else np.array([np.nan])
    summary = {
        "sessions": args.sessions,
        "views": n_views,
        "found": n_views - missed,
        "within_0.5s": int(np.sum(np.abs(dl) <= 0.5)),
        "missed": missed,
        "spurious": spurious,
        "delay_median_s": round(float(np.median(dl)), 3),
        "delay_max_s": round(float(np.max(dl)), 3),
        "ece_before": round(ece_before, 4),
        "ece_after": round(ece_after, 4),
        "temperature": round(cal.temperature, 3),
        "smoother": post_kw or "defaults",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))
    return 0 if missed == 0 and spurious == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
