"""``rtecho calibrate NAME --data calibration/SET/ --backend openvino``: static INT8 from calibration frames.

Writes ``NAME.int8.onnx`` (Q/DQ) beside the model and records its sha256, settings and calibration
provenance in the model card (``extra["variants"]["int8"]``). The settings follow the backend, as
measured in ``benchmarks/INT8.md``: OpenVINO and TensorRT get symmetric s8 activations (zero point
0; TensorRT's file is ``NAME.int8-sym.onnx``, biases left float, as its parser demands), ONNX Runtime gets u8 activations (its fast x86
kernels are u8 x s8). Weights are s8, per channel. When the set is labelled (subfolders named after
views), accuracy and median latency of FP32 vs INT8 on that backend are printed and recorded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "calibrate"
HELP = "INT8 post-training quantisation of an exported model from a calibration set"

#: backend -> (variant precision key, quantize_qdq settings)
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "openvino": ("int8", {"activation_type": "s8"}),
    "onnxruntime": ("int8", {"activation_type": "u8"}),
    "tensorrt": ("int8-sym", {"activation_type": "s8", "quantize_bias": False}),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME", help="model name in engines/ or path to its .onnx")
    p.add_argument(
        "--data", required=True, metavar="DIR", help="calibration set folder (calibration/README.md)"
    )
    p.add_argument("--backend", choices=tuple(SETTINGS), default="openvino", help="backend to tune for")
    p.add_argument(
        "--per-channel",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="per-output-channel weight scales (default: on)",
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


def compare(
    model: Path, backend: str, precision: str, images: list[Any], labels: list[str]
) -> dict[str, Any]:
    """Accuracy and median batch-1 latency (ms, 100 runs) of FP32 and INT8 on ``backend``."""
    import statistics
    import time

    import numpy as np

    from rtecho.runtime import load_engine
    from rtecho.runtime.preprocess import Preprocessor

    result: dict[str, Any] = {"n": len(images), "backend": backend}
    for prec in ("fp32", precision if backend == "tensorrt" else "int8"):
        engine = load_engine(model, backend=backend, precision="int8" if prec.startswith("int8") else prec)
        with engine:
            x = np.concatenate([Preprocessor(engine.card)(im) for im in images])
            pred = [engine.card.labels[i] for i in engine.infer(x).argmax(1)]
            times = []
            for _ in range(100):
                t0 = time.perf_counter()
                engine.infer(x[:1])
                times.append(time.perf_counter() - t0)
        key = "fp32" if prec == "fp32" else "int8"
        result[f"accuracy_{key}"] = float(np.mean([p == t for p, t in zip(pred, labels, strict=True)]))
        result[f"latency_ms_{key}"] = round(statistics.median(times) * 1000, 3)
    return result


def run(args: argparse.Namespace) -> int:
    import hashlib

    from rtecho.errors import EngineError
    from rtecho.runtime.model_file import load_card, resolve_model, variant_path
    from rtecho.runtime.precision import quantize_qdq, record_variant

    if args.n < 1:
        raise EngineError("--n must be at least 1")
    model = resolve_model(args.model)
    card = load_card(model)
    images, labels, names = calibration_frames(args.data, args.n, args.seed)
    key, settings = SETTINGS[args.backend]
    out = variant_path(model, key)
    if args.op_types:
        settings = {**settings, "op_types": tuple(args.op_types)}
    if args.float_tail:
        settings = {**settings, "float_tail": args.float_tail}
    quantize_qdq(model, out, images, card, per_channel=args.per_channel, **settings)
    record = {
        "format": "qdq",
        "activations": settings["activation_type"],
        "weights": "s8",
        "per_channel": args.per_channel,
        "symmetric_activations": settings["activation_type"] == "s8",
        "tuned_for": args.backend,
        "op_types": list(args.op_types) if args.op_types else "all",
        "float_tail_nodes": args.float_tail,
        "calibration": {
            "set": str(args.data),
            "frames": len(images),
            "seed": args.seed,
            "files_sha256": hashlib.sha256("\n".join(names).encode()).hexdigest(),
            "method": "minmax",
        },
    }
    record_variant(model, key, out, record)
    print(f"{card.name}: wrote {out} ({settings['activation_type']} activations, tuned for {args.backend})")
    if all(label is not None for label in labels) and args.backend != "tensorrt":
        metrics = compare(model, args.backend, key, images, labels)  # type: ignore[arg-type]
        record_variant(model, key, out, record | {"check": metrics})
        print(
            f"  {args.backend} on {metrics['n']} calibration frames: accuracy fp32 {metrics['accuracy_fp32']:.4f} "
            f"int8 {metrics['accuracy_int8']:.4f}; median latency fp32 {metrics['latency_ms_fp32']} ms "
            f"int8 {metrics['latency_ms_int8']} ms"
        )
    return 0
