"""``rtecho build engines/NAME.onnx --backend tensorrt --precision fp16``: prepare and build an engine.

Prepares the variant file the backend reads for the precision when it is missing (the backend's
facts: ``Engine.variant_tags``, ``Engine.quantisation``; for TensorRT ``NAME.fp16.onnx`` from the
FP32 graph, or the symmetric Q/DQ graph ``NAME.int8-sym.onnx`` from ``--calib``), records it in the
model card, then loads the model on the backend: for TensorRT this builds the engine into the engine
cache (or reuses a cached one) and reports where it is.
"""

from __future__ import annotations

import argparse

NAME = "build"
HELP = "build an engine (TensorRT) or prepare fp16/int8 variants of an exported ONNX model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from rtecho.card import PRECISIONS

    p.add_argument("model", metavar="MODEL", help="path to NAME.onnx (or a model name in engines/)")
    p.add_argument("--backend", default="tensorrt", help="tensorrt (default) or another registered backend")
    p.add_argument(
        "--precision", choices=PRECISIONS, default="fp32", help="backend permitting (default fp32)"
    )
    p.add_argument("--max-batch", type=int, default=8, metavar="N", help="largest batch of the engine")
    p.add_argument("--calib", metavar="DIR", help="calibration set for int8 (calibration/SET)")
    p.add_argument("--n", type=int, default=200, metavar="N", help="calibration frames (default 200)")
    p.add_argument(
        "--cache-dir", metavar="DIR", help="engine cache (default $RTECHO_CACHE or ~/.cache/rtecho)"
    )
    p.add_argument("--force", action="store_true", help="re-create the fp16/int8 ONNX variant")


def prepare_variant(model, card, precision: str, backend: str, calib: str | None, n: int, force: bool) -> str:  # noqa: ANN001
    """Create the variant file ``backend`` reads for ``precision`` when missing (or ``force``) and
    record it in the card; returns its tag (``fp32`` when the backend runs the fp32 graph)."""
    from rtecho.card import CalibrationFrames
    from rtecho.errors import EngineError
    from rtecho.runtime import get_backend
    from rtecho.runtime.precision import record_variant

    cls = get_backend(backend).engine_class()
    name = cls.variant_name(model, precision)
    if name is None:
        return "fp32"
    tag, out = cls.variant_tags[precision], model.with_name(name)
    if out.is_file() and not force:
        return tag
    frames, provenance = None, None
    if precision == "int8":
        if not calib:
            raise EngineError(
                f"{out.name} does not exist: give a calibration set with --calib calibration/SET"
            )
        from rtecho.commands.calibrate import calibration_frames

        frames, _, _ = calibration_frames(calib, n)
        provenance = CalibrationFrames(set=str(calib), frames=len(frames))
    cls.make_variant(model, card, precision, frames)
    quantisation = cls.quantisation if precision == "int8" else None
    record_variant(model, tag, out, backend=backend, quantisation=quantisation, calibration=provenance)
    return tag


def run(args: argparse.Namespace) -> int:
    from rtecho.errors import EngineError
    from rtecho.runtime import get_backend, load_engine
    from rtecho.runtime.model_file import load_card, resolve_model

    if args.max_batch < 1:
        raise EngineError("--max-batch must be at least 1")
    model = resolve_model(args.model)
    card = load_card(model)
    key = prepare_variant(model, card, args.precision, args.backend, args.calib, args.n, args.force)
    given = {"max_batch": args.max_batch, "cache_dir": args.cache_dir}
    wanted = get_backend(args.backend).engine_class().build_options
    options = {k: v for k, v in given.items() if k in wanted and v is not None}
    with load_engine(model, backend=args.backend, precision=args.precision, **options) as engine:
        info = engine.info
    where = info.settings.get("engine_file") or info.settings.get("file") or model.name
    print(f"{card.name}: {args.backend}/{args.precision} ready ({key} graph) -> {where}")
    for name, value in sorted(info.settings.items()):
        print(f"  {name}: {value}")
    return 0
