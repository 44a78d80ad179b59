"""Score models on the real development split (../shared/data/dev) and on held-out simulator stills.

Measure-only: nothing here fits anything to the dev split. For each model (an ONNX file in engines/,
or ``NAME=CHECKPOINT`` for a registry model and a torch checkpoint) it runs ``rtecho eval --coarse``
on the dev clips (per clip and per frame) and the dev CAMUS frames, and, with ``--sim DIR``, on
held-out simulator stills; prints one markdown table and writes the eval JSONs under ``--out``.

``--ultrasound`` (ONNX models): the same figures through the live path's ultrasound stages instead
(``build_pipeline(engine, ultrasound=True)``, one fresh stream per clip or still: sector, mode gate,
crop to the sector's box and blank outside it), as ``rtecho run --ultrasound`` classifies a file; a
frame the mode gate does not classify counts as wrong; simulator stills are rendered (v1, seed 303,
``--sim-n`` a view) instead of read from ``--sim``.

    .venv/bin/python benchmarks/dev_check.py engines/darts2.onnx darts2=runs/exp/darts2_tr/best.pt \
        --sim runs/zoo/data/test/stills --out runs/dev_check
    .venv/bin/python benchmarks/dev_check.py engines/darts2.onnx --ultrasound
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from rtecho.cli import main as rtecho

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"


def _eval(model: str, data: Path, out: Path, coarse: bool = True) -> dict:
    name, _, ckpt = model.partition("=")
    argv = ["eval", name if ckpt else model, str(data), "--json", str(out), "--no-png"]
    if ckpt:
        argv += ["--checkpoint", ckpt]
    if coarse:
        argv.append("--coarse")
    with contextlib.redirect_stdout(io.StringIO()):
        code = rtecho(argv)
    if code:
        raise SystemExit(f"rtecho {' '.join(argv)} failed ({code})")
    return json.loads(out.read_text())


def _wrong(result: dict) -> str:
    return ", ".join(f"{i['truth']}->{i['pred']}" for i in result["items"] if i["truth"] != i["pred"]) or "-"


def _ultrasound(model: str, dev: Path, sim_n: int) -> tuple[int, int, float, float, str, str]:
    """(clips right, clips, frames, CAMUS, simulator) accuracies and the wrong clips, through the
    ultrasound stages (coarse labels for the dev split); the simulator figure says how many stills the
    mode gate did not classify and the accuracy among the others."""
    from collections import Counter

    import numpy as np

    from rtecho.io import open_source
    from rtecho.pipeline import build_pipeline
    from rtecho.pipeline.ultrasound import simulator_logits
    from rtecho.runtime import load_engine
    from rtecho.views import coarse

    def labels_of(pipe, frames) -> list[str | None]:
        pipe.reset()
        out = []
        for f in frames:
            rec = pipe.run(f)
            out.append(None if rec.logits is None else coarse(names[int(np.argmax(rec.logits))]))
        return out

    with load_engine(model) as engine, build_pipeline(engine, ultrasound=True) as pipe:
        names = engine.card.labels
        n_ok = n_clips = fr_ok = fr_n = 0
        wrong = []
        for path in sorted((dev / "clips").glob("*/*")):
            truth = path.parent.name
            with open_source(str(path)) as src:
                got = labels_of(pipe, src)
            votes = Counter(x for x in got if x is not None)
            clip = votes.most_common(1)[0][0] if votes else "no view"
            n_clips += 1
            n_ok += clip == truth
            fr_ok += sum(x == truth for x in got)
            fr_n += len(got)
            if clip != truth:
                wrong.append(f"{truth}->{clip}")
        cam = []
        for path in sorted((dev / "camus").glob("*/*")):
            with open_source(str(path)) as src:
                cam += [x == path.parent.name for x in labels_of(pipe, src)]
        z, y = simulator_logits(engine, np.random.default_rng(303), sim_n, (160, 160))  # gated: left out
    right, total = int((z.argmax(1) == y).sum()), sim_n * len(names)
    sim = f"{right / total:.3f} ({total - len(y)} gated; {right / max(len(y), 1):.3f} of the rest)"
    return (
        n_ok,
        n_clips,
        fr_ok / max(fr_n, 1),
        float(np.mean(cam)),
        sim,
        ", ".join(wrong) or "-",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="ONNX paths, or NAME=CHECKPOINT")
    p.add_argument("--dev", type=Path, default=DEV, help="the dev split folder")
    p.add_argument("--sim", type=Path, help="held-out simulator stills (ImageFolder)")
    p.add_argument("--out", type=Path, default=Path("runs/dev_check"))
    p.add_argument("--ultrasound", action="store_true", help="through the live path's ultrasound stages")
    p.add_argument("--sim-n", type=int, default=20, help="with --ultrasound: simulator stills per view")
    args = p.parse_args(argv)
    if not (args.dev / "clips").is_dir():
        print(f"no dev split at {args.dev}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    print("| model | dev clips (per clip) | dev frames | dev CAMUS | sim held-out | wrong clips |")
    print("|---|---:|---:|---:|---:|---|")
    for model in args.models:
        if args.ultrasound:
            n_ok, n, frames, camus, sim, wrong = _ultrasound(model, args.dev, args.sim_n)
            print(
                f"| {model} (ultrasound) | {n_ok}/{n} | {frames:.3f} | {camus:.3f} | {sim} | {wrong} |",
                flush=True,
            )
            continue
        tag = Path(model.partition("=")[2] or model).with_suffix("").as_posix().replace("/", "_")
        clips = _eval(model, args.dev / "clips", args.out / f"{tag}.clips.json")
        camus = _eval(model, args.dev / "camus", args.out / f"{tag}.camus.json")
        sim = (
            f"{_eval(model, args.sim, args.out / f'{tag}.sim.json', coarse=False)['accuracy']:.3f}"
            if args.sim
            else "-"
        )
        n_ok = round(clips["accuracy"] * clips["n"])
        frames = clips["levels"]["frames"]["accuracy"]
        print(
            f"| {model} | {n_ok}/{clips['n']} | {frames:.3f} | {camus['accuracy']:.3f} | {sim} | {_wrong(clips)} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
