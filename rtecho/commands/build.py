"""``rtecho build engines/NAME.onnx --backend tensorrt --precision fp16``: prepare and build an engine.

Prepares the precision variant the backend needs when it is missing (``NAME.fp16.onnx`` from the
FP32 graph; for TensorRT INT8 a symmetric Q/DQ graph ``NAME.int8-sym.onnx`` from ``--calib``),
records it in the model card, then loads the model on the backend: for TensorRT this builds the
engine into the engine cache (or reuses a cached one) and reports where it is.
"""

from __future__ import annotations

import argparse

NAME = "build"
HELP = "build an engine (TensorRT) or prepare fp16/int8 variants of an exported ONNX model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="path to NAME.onnx (or a model name in engines/)")
    p.add_argument("--backend", default="tensorrt", help="tensorrt (default), onnxruntime or openvino")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32")
    p.add_argument("--max-batch", type=int, default=8, metavar="N", help="largest batch of the engine")
    p.add_argument("--calib", metavar="DIR", help="calibration set for int8 (calibration/SET)")
    p.add_argument("--n", type=int, default=200, metavar="N", help="calibration frames (default 200)")
    p.add_argument(
        "--cache-dir", metavar="DIR", help="engine cache (default $RTECHO_CACHE or ~/.cache/rtecho)"
    )
    p.add_argument("--force", action="store_true", help="re-create the fp16/int8 ONNX variant")


def prepare_variant(model, card, precision: str, backend: str, calib: str | None, n: int, force: bool) -> str:  # noqa: ANN001
    """Create the fp16/int8 ONNX variant when missing (or ``force``); returns its card key."""
    from rtecho.errors import EngineError
    from rtecho.runtime.model_file import variant_path
    from rtecho.runtime.precision import quantize_qdq, record_variant, to_fp16

    if precision == "fp32":
        return "fp32"
    if precision == "fp16":
        out = variant_path(model, "fp16")
        if force or not out.is_file():
            to_fp16(model, out)
            record_variant(model, "fp16", out, {"format": "fp16", "io": "float32"})
        return "fp16"
    key = "int8-sym" if backend == "tensorrt" else "int8"
    out = variant_path(model, key)
    if out.is_file() and not force:
        return key
    if not calib:
        raise EngineError(f"{out.name} does not exist: give a calibration set with --calib calibration/SET")
    from rtecho.commands.calibrate import SETTINGS, calibration_frames

    images, _, names = calibration_frames(calib, n)
    settings = SETTINGS.get(backend, SETTINGS["tensorrt"])[1]
    quantize_qdq(model, out, images, card, **settings)
    record_variant(
        model,
        key,
        out,
        {
            "format": "qdq",
            "activations": settings["activation_type"],
            "weights": "s8",
            "per_channel": True,
            "tuned_for": backend,
            "calibration": {"set": str(calib), "frames": len(images), "method": "minmax"},
        },
    )
    return key


def run(args: argparse.Namespace) -> int:
    from rtecho.errors import EngineError
    from rtecho.runtime import load_engine
    from rtecho.runtime.model_file import load_card, resolve_model

    if args.max_batch < 1:
        raise EngineError("--max-batch must be at least 1")
    model = resolve_model(args.model)
    card = load_card(model)
    key = prepare_variant(model, card, args.precision, args.backend, args.calib, args.n, args.force)
    options = {}
    if args.backend == "tensorrt":
        options = {"max_batch": args.max_batch}
        if args.cache_dir:
            options["cache_dir"] = args.cache_dir
    with load_engine(model, backend=args.backend, precision=args.precision, **options) as engine:
        info = engine.info
    where = info.settings.get("engine_file") or info.settings.get("file") or model.name
    print(f"{card.name}: {args.backend}/{args.precision} ready ({key} graph) -> {where}")
    for name, value in sorted(info.settings.items()):
        print(f"  {name}: {value}")
    return 0
