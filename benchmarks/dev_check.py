"""Score models on the real development split (../shared/data/dev) and on held-out simulator stills.

Measure-only: nothing here fits anything to the dev split. For each model (an ONNX file in engines/,
or ``NAME=CHECKPOINT`` for a registry model and a torch checkpoint) it runs ``rtecho eval --coarse``
on the dev clips (per clip and per frame) and the dev CAMUS frames, and, with ``--sim DIR``, on
held-out simulator stills; prints one markdown table and writes the eval JSONs under ``--out``.

    .venv/bin/python benchmarks/dev_check.py engines/darts2.onnx darts2=runs/exp/darts2_tr/best.pt \
        --sim runs/zoo/data/test/stills --out runs/dev_check
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="ONNX paths, or NAME=CHECKPOINT")
    p.add_argument("--dev", type=Path, default=DEV, help="the dev split folder")
    p.add_argument("--sim", type=Path, help="held-out simulator stills (ImageFolder)")
    p.add_argument("--out", type=Path, default=Path("runs/dev_check"))
    args = p.parse_args(argv)
    if not (args.dev / "clips").is_dir():
        print(f"no dev split at {args.dev}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    print("| model | dev clips (per clip) | dev frames | dev CAMUS | sim held-out | wrong clips |")
    print("|---|---:|---:|---:|---:|---|")
    for model in args.models:
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
