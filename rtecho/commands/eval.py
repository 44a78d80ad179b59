"""``rtecho eval MODEL DATA_DIR --json OUT``: accuracy, precision/recall, F1, kappa and confusion of a model.

MODEL is an exported ``.onnx`` (run through rtecho.runtime, preprocessed from its model card) or a
registry name with ``--checkpoint``. DATA_DIR is an ImageFolder whose subfolders are view labels,
holding images (scored per image) and clips (scored per frame and per clip); with
``--labels-from-names`` it is a flat folder of images named after their view (``a4c.png``).
The confusion-matrix PNG is written beside the JSON (``OUT`` with ``_confusion.png``).
"""

from __future__ import annotations

import argparse

NAME = "eval"
HELP = "evaluate a model (ONNX, or registry name + checkpoint) on a labelled folder of images and clips"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model", metavar="MODEL", help="path to an .onnx file, or a registry model name with --checkpoint"
    )
    p.add_argument("data", metavar="DATA_DIR", help="folder with one subfolder per view label (VIEWS.md)")
    p.add_argument("--json", required=True, metavar="OUT", help="where to write the result JSON")
    p.add_argument("--checkpoint", metavar="CKPT", help="trained weights (.pt) for a registry model name")
    p.add_argument("--coarse", action="store_true", help="map truth and prediction to coarse labels")
    p.add_argument("--backend", help="runtime backend for an .onnx model (default: the runtime's choice)")
    p.add_argument(
        "--precision", default="fp32", help="fp32, bf16 or int8 for an .onnx model (backend permitting)"
    )
    p.add_argument("--clip-rule", choices=("majority", "mean"), default="majority", help="per-clip decision")
    p.add_argument("--frame-stride", type=int, default=1, metavar="N", help="score every Nth frame of a clip")
    p.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="score at most N frames per clip"
    )
    p.add_argument(
        "--labels-from-names",
        action="store_true",
        help="DATA_DIR is a flat folder of images named after their view (a4c.png, test1_plax.jpg)",
    )
    p.add_argument("--no-png", action="store_true", help="do not draw the confusion-matrix PNG")
    p.add_argument("--progress", action="store_true", help="show a progress bar")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from rtecho.train.data import Sample, real_stills, scan_folder
    from rtecho.train.evaluate import evaluate_samples, scorer_for
    from rtecho.train.metrics import save_confusion_png

    if args.labels_from_names:
        samples = [Sample(path, label, "image") for path, label in real_stills(args.data)]
    else:
        samples = scan_folder(args.data, use_coarse=args.coarse)
    out = Path(args.json)
    with scorer_for(args.model, args.checkpoint, args.backend, args.precision) as scorer:
        result = evaluate_samples(
            scorer,
            samples,
            use_coarse=args.coarse,
            clip_rule=args.clip_rule,
            frame_stride=args.frame_stride,
            max_frames=args.max_frames,
            progress=args.progress,
        )
    result["data_dir"] = str(args.data)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not args.no_png:
        png = out.with_name(out.stem + "_confusion.png")
        title = f"{result['model'].get('name', args.model)} on {Path(args.data).name}: acc {result['accuracy']:.3f}"
        save_confusion_png(result["confusion_matrix"], result["labels"], png, title=title)
        result["confusion_png"] = png.name
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{result['model'].get('name', args.model)}: accuracy {result['accuracy']:.4f} "
        f"(n={result['n']}, kappa {result['kappa']:.4f}, weighted F1 {result['weighted_f1']:.4f}) -> {out}"
    )
    return 0
