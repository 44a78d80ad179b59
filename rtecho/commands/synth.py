"""``rtecho synth``: generate labelled simulated echo stills (and cines) plus a contact sheet."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "synth"
HELP = "generate simulated echocardiography views, cine loops, LV masks and EF (rtecho.synth)"


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("x", ",").split(",")
    try:
        vals = [int(p) for p in parts if p.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must be N or HxW, got {text!r}") from exc
    if len(vals) == 1:
        return vals[0], vals[0]
    if len(vals) == 2:
        return vals[0], vals[1]
    raise argparse.ArgumentTypeError(f"size must be N or HxW, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--views", nargs="+", default=None, help="view labels (default: every VIEWS.md label)"
    )
    parser.add_argument("--n", type=int, default=10, help="samples per view (default 10)")
    parser.add_argument("--size", type=_size, default=(128, 128), help="N or HxW pixels (default 128)")
    parser.add_argument(
        "--cine", action="store_true", help="also write cine loops, LV masks and FileList.csv"
    )
    parser.add_argument("--frames", type=int, default=32, help="frames per cine (default 32)")
    parser.add_argument("--fps", type=float, default=30.0, help="cine frame rate (default 30)")
    parser.add_argument(
        "--formats", nargs="+", default=["avi"], help="cine formats: avi mp4 dcm (default avi)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    parser.add_argument(
        "--sim",
        choices=("v1", "v2"),
        default="v1",
        help="simulator of the stills: v1 = 2-D view layouts (default), v2 = 3-D heart sliced by probe poses",
    )
    parser.add_argument(
        "--contact-real",
        nargs="*",
        default=None,
        metavar="VIEW=PATH",
        help="local comparison only: put real images beside the simulated ones in the sheet",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rtecho.synth.config import SynthError
    from rtecho.synth.contact import contact_sheet
    from rtecho.synth.export import generate_dataset, write_png
    from rtecho.views import VIEWS

    views = args.views or list(VIEWS)
    out = generate_dataset(
        args.out,
        views,
        args.n,
        size_hw=args.size,
        seed=args.seed,
        cine=args.cine,
        progress=not args.no_progress,
        n_frames=args.frames,
        fps=args.fps,
        formats=args.formats,
        sim=args.sim,
    )
    if args.contact_real:
        real = {}
        for item in args.contact_real:
            view, _, path = item.partition("=")
            if not path or not Path(path).is_file():
                raise SynthError(f"--contact-real wants VIEW=PATH to an image file, got {item!r}")
            real[view] = path
        write_png(
            out / "contact_sheet_vs_real.png",
            contact_sheet(args.seed, args.size, views, real=real, sim=args.sim),
        )
    print(f"wrote {len(views) * args.n} stills{' and cines' if args.cine else ''} to {out}")
    return 0
