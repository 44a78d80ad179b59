"""``rtecho calibrate NAME --data calibration/SET/ --backend openvino``: static INT8 from calibration frames.

Writes the int8 file the backend reads (``NAME.int8.onnx``, Q/DQ) beside the model and records its
sha256, quantisation settings and calibration provenance in the model card (``variants[TAG]``). The
file's name and settings are the backend's facts (``Engine.variant_tags``, ``Engine.quantisation``,
as measured in ``benchmarks/INT8.md``: OpenVINO s8 activations, ONNX Runtime u8, TensorRT s8 with
float biases in ``NAME.int8-sym.onnx``); ``--per-channel``, ``--op-types`` and ``--float-tail``
override them. When the set is labelled (subfolders named after views) and the backend runs on the
CPU, accuracy and median latency of FP32 vs INT8 on that backend are printed and recorded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "calibrate"
HELP = "INT8 post-training quantisation of an exported model from a calibration set"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME", help="model name in engines/ or path to its .onnx")
    p.add_argument(
        "--data", required=True, metavar="DIR", help="calibration set folder (calibration/README.md)"
    )
    p.add_argument(
        "--backend", default="openvino", help="backend to make the int8 file for (default openvino)"
    )
    p.add_argument(
        "--per-channel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="per-output-channel weight scales (default: the backend's, on for every shipped one)",
    )
    p.add_argument("--n", type=int, default=200, metavar="N", help="calibration frames to use (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the frame subsample")
    p.add_argument(
        "--op-types",
        nargs="+",
        default=None,
        metavar="OP",
        help="quantise only these ONNX op types (e.g. Conv Gemm); the rest stays float (default: all)",
    )
    p.add_argument(
        "--float-tail",
        type=int,
        default=0,
        metavar="N",
        help="keep the last N graph nodes (classifier head, attention before it) in float (default 0)",
    )


def calibration_frames(
    folder: str | Path, n: int | None = None, seed: int = 0
) -> tuple[list[Any], list[str | None], list[str]]:
    """(images, labels, relative file names) of a calibration set, a seeded subsample of ``n``.

    Listed by :func:`rtecho.io.labelled.scan_labelled` (recursively, natural order, labels
    optional) and read by :func:`rtecho.io.image.read_image`, as the runtime reads stills: images
    (png/jpg/...) and ``.npy`` arrays (HxW, HxWx3 or a stack NxHxW). A file's label is its folder's
    name when that is a view label (VIEWS.md), else None.
    """
    import numpy as np

    from rtecho.errors import SourceError
    from rtecho.io.image import read_image
    from rtecho.io.labelled import DatasetError, scan_labelled

    root = Path(folder)
    if not root.is_dir():
        raise SourceError(f"calibration set {root} is not a folder")
    try:
        samples = scan_labelled(root, clips=False, arrays=True, require_labels=False)
    except DatasetError:
        raise SourceError(f"calibration set {root} holds no images (.png/.jpg/...) or .npy frames") from None
    if n is not None and len(samples) > n:
        pick = np.random.default_rng(seed).choice(len(samples), size=n, replace=False)
        samples = [samples[i] for i in sorted(pick)]
    images, labels, names = [], [], []
    for s in samples:
        if s.kind == "array":
            arr = np.load(s.path, allow_pickle=False)
            stack = arr if arr.ndim == 3 and arr.shape[-1] != 3 else arr[None]
        else:
            stack = [read_image(s.path)]
        for image in stack:
            if image.dtype != np.uint8:
                raise SourceError(f"{s.path}: calibration frames must be uint8, got {image.dtype}")
            images.append(image)
            labels.append(s.label)
            names.append(str(s.path.relative_to(root)))
    return images, labels, names


def compare(model: Path, backend: str, images: list[Any], labels: list[str]) -> dict[str, Any]:
    """Accuracy and median batch-1 latency (ms, 100 runs) of FP32 and INT8 on ``backend``."""
    import statistics
    import time

    import numpy as np

    from rtecho.runtime import load_engine
    from rtecho.runtime.preprocess import Preprocessor

    result: dict[str, Any] = {"n": len(images), "backend": backend}
    for prec in ("fp32", "int8"):
        with load_engine(model, backend=backend, precision=prec) as engine:
            x = np.concatenate([Preprocessor(engine.card)(im) for im in images])
            pred = [engine.card.labels[i] for i in engine.infer(x).argmax(1)]
            times = []
            for _ in range(100):
                t0 = time.perf_counter()
                engine.infer(x[:1])
                times.append(time.perf_counter() - t0)
        result[f"accuracy_{prec}"] = float(np.mean([p == t for p, t in zip(pred, labels, strict=True)]))
        result[f"latency_ms_{prec}"] = round(statistics.median(times) * 1000, 3)
    return result


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import hashlib

    from rtecho.card import CalibrationFrames
    from rtecho.errors import EngineError
    from rtecho.runtime import get_backend, list_backends
    from rtecho.runtime.model_file import load_card, resolve_model
    from rtecho.runtime.precision import record_variant

    if args.n < 1:
        raise EngineError("--n must be at least 1")
    cls = get_backend(args.backend).engine_class()
    if cls.quantisation is None or "int8" not in cls.variant_tags:
        makers = [b for b in list_backends() if get_backend(b).engine_class().quantisation is not None]
        raise EngineError(
            f"backend {args.backend!r} reads no int8 file of its own: nothing to calibrate for it "
            f"(backends that do: {', '.join(makers)})"
        )
    model = resolve_model(args.model)
    card = load_card(model)
    images, labels, names = calibration_frames(args.data, args.n, args.seed)
    overrides: dict[str, Any] = {"op_types": tuple(args.op_types) if args.op_types else None}
    overrides["float_tail"] = args.float_tail
    if args.per_channel is not None:
        overrides["per_channel"] = args.per_channel
    quantisation = dataclasses.replace(cls.quantisation, **overrides)
    out = cls.make_variant(model, card, "int8", images, quantisation)
    provenance = CalibrationFrames(
        set=str(args.data),
        frames=len(images),
        seed=args.seed,
        files_sha256=hashlib.sha256("\n".join(names).encode()).hexdigest(),
    )
    tag = cls.variant_tags["int8"]
    record = {"backend": args.backend, "quantisation": quantisation, "calibration": provenance}
    record_variant(model, tag, out, **record)
    print(f"{card.name}: wrote {out} ({quantisation.activation_type} activations, made for {args.backend})")
    if all(label is not None for label in labels) and cls.runs_on == "cpu":
        metrics = compare(model, args.backend, images, labels)  # type: ignore[arg-type]
        record_variant(model, tag, out, **record, check=metrics)
        print(
            f"  {args.backend} on {metrics['n']} calibration frames: accuracy fp32 {metrics['accuracy_fp32']:.4f} "
            f"int8 {metrics['accuracy_int8']:.4f}; median latency fp32 {metrics['latency_ms_fp32']} ms "
            f"int8 {metrics['latency_ms_int8']} ms"
        )
    return 0
