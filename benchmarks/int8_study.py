"""Why ONNX Runtime INT8 was slower than FP32 here, and where INT8 pays: a latency study.

For each model (the tiny test CNN, darts2, EfficientNet-B0+CBAM and a MobileNet-style depthwise-
separable net, random weights, exported from torch) it writes INT8 variants with
:func:`rtecho.runtime.precision.quantize_qdq` under different settings (QDQ vs QOperator, per-channel
vs per-tensor, s8 vs u8 activations, depthwise convs excluded) and times batch-1 inference on
ONNX Runtime and OpenVINO: median of ``--runs`` (default 200) ``time.perf_counter`` timings after 20
warm-up runs, one thread (rtecho's default on a 2-core machine). Argmax agreement and max |logit
difference| against FP32 on simulator frames are reported too (the weights are untrained, so
agreement is indicative only).

    .venv/bin/python benchmarks/int8_study.py --out benchmarks/results/int8_study.json
    .venv/bin/python benchmarks/int8_study.py --models tiny darts2 --runs 200
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rtecho.runtime.precision import quantize_qdq, to_fp16
from rtecho.runtime.preprocess import Preprocessor
from rtecho.types import ModelCard, card_path_for
from rtecho.views import VIEWS

#: name -> (rtecho model name or "tiny"/"dwsep", input size)
MODELS = {
    "tiny": ("tiny", 128),
    "darts2": ("darts2", 128),
    "effb0cbam": ("efficientnet_b0_cbam", 128),
    "effb0cbam224": ("efficientnet_b0_cbam", 224),
    "dwsep": ("dwsep", 128),
}

#: variant name -> quantize_qdq keyword arguments
QUANT = {
    "qdq_s8_pc": dict(activation_type="s8", per_channel=True),
    "qdq_s8_pt": dict(activation_type="s8", per_channel=False),
    "qdq_u8_pc": dict(activation_type="u8", per_channel=True),
    "qdq_s8_pc_nodw": dict(activation_type="s8", per_channel=True, exclude_depthwise=True),
    "qop_u8_pc": dict(activation_type="u8", per_channel=True, quant_format="qoperator"),
    "qop_u8_pc_nodw": dict(
        activation_type="u8", per_channel=True, quant_format="qoperator", exclude_depthwise=True
    ),
    "qdq_s8_pc_conv": dict(activation_type="s8", per_channel=True, op_types=("Conv", "Gemm", "MatMul")),
    "qdq_u8_pc_conv": dict(activation_type="u8", per_channel=True, op_types=("Conv", "Gemm", "MatMul")),
}
#: OpenVINO runs these QDQ variants too (QOperator graphs are ONNX Runtime only)
OV_QUANT = ("qdq_s8_pc", "qdq_s8_pt", "qdq_u8_pc", "qdq_s8_pc_nodw", "qdq_s8_pc_conv", "qdq_u8_pc_conv")


def dwsep_net(num_classes: int):  # noqa: ANN201 - torch module
    """A MobileNet-v1-style net: stem conv, 6 depthwise-separable blocks (BN+ReLU6), pool, fc."""
    from torch import nn

    def block(cin: int, cout: int, stride: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU6(),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(),
        )

    chans = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)]
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, 2, 1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU6(),
        *[block(a, b, s) for a, b, s in chans],
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(512, num_classes),
    )


def settle_batchnorm(model, size: int) -> None:  # noqa: ANN001 - torch module
    """Set BatchNorm running statistics from simulator frames (random weights otherwise shrink the
    activations layer by layer until the logits are constant, which makes agreement meaningless)."""
    import torch
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    card = ModelCard("settle", "x", VIEWS, (size, size), mean=(0.5,), std=(0.25,))
    x = torch.from_numpy(np.concatenate([Preprocessor(card)(f) for f in sim_frames(32, size, seed=3)]))
    model.train()
    with torch.no_grad():
        for batch in x.split(8):
            model(batch)


def export(name: str, arch: str, size: int, folder: Path) -> Path:
    """Export a random-weight model to ``folder/NAME.onnx`` (opset 17, dynamic batch) with a card."""
    import torch

    from rtecho.runtime.model_file import sha256_file
    from rtecho.runtime.tiny import build_tiny_classifier

    path = folder / f"{name}.onnx"
    if arch == "tiny":
        return build_tiny_classifier(path, size_hw=(size, size), name=name)
    torch.manual_seed(0)
    if arch == "dwsep":
        model = dwsep_net(len(VIEWS))
    else:
        from rtecho.models import create_model

        model = create_model(arch, img_size=size)
    settle_batchnorm(model, size)
    model.eval()
    x = torch.zeros(1, 1, size, size)
    torch.onnx.export(
        model,
        (x,),
        str(path),
        opset_version=17,
        dynamo=False,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    ModelCard(
        name=name,
        architecture=arch,
        labels=VIEWS,
        input_size_hw=(size, size),
        mean=(0.5,),
        std=(0.25,),
        onnx_sha256=sha256_file(path),
        trained=False,
    ).save(card_path_for(path))
    return path


def sim_frames(n: int, size: int, seed: int) -> list[np.ndarray]:
    """Simulator stills of every view in turn (the calibration recipe of calibration/README.md)."""
    from rtecho.synth import render_view

    rng = np.random.default_rng(seed)
    return [render_view(VIEWS[i % len(VIEWS)], rng, size_hw=(size, size)) for i in range(n)]


def ort_runner(path: Path, opt: str = "ORT_ENABLE_ALL") -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, opt)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def ov_runner(path: Path, precision: str = "f32") -> Callable[[np.ndarray], np.ndarray]:
    import openvino as ov

    core = ov.Core()
    config = {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": 1,
        "INFERENCE_PRECISION_HINT": precision,
    }
    compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
    req = compiled.create_infer_request()

    def run(x: np.ndarray) -> np.ndarray:
        req.infer({0: x})
        return np.array(req.get_output_tensor(0).data)

    return run


def median_ms(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, runs: int) -> float:
    for _ in range(20):
        run(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def study(name: str, runs: int, folder: Path, n_calib: int, variants: list[str] | None = None) -> list[dict]:
    arch, size = MODELS[name]
    fp32 = export(name, arch, size, folder)
    card = ModelCard.load(card_path_for(fp32))
    calib = sim_frames(n_calib, size, seed=1)
    test = np.concatenate([Preprocessor(card)(f) for f in sim_frames(64, size, seed=2)])
    paths = {"fp32": fp32}
    for variant, kw in QUANT.items():
        if variants and variant not in variants:
            continue
        paths[variant] = quantize_qdq(fp32, folder / f"{name}.{variant}.onnx", calib, card, **kw)
    paths["fp16"] = to_fp16(fp32, folder / f"{name}.fp16.onnx")
    runners: list[tuple[str, str, Callable]] = [("onnxruntime", v, ort_runner(p)) for v, p in paths.items()]
    if "qdq_s8_pc" in paths:
        runners.append(
            ("onnxruntime", "qdq_s8_pc/opt=basic", ort_runner(paths["qdq_s8_pc"], "ORT_ENABLE_BASIC"))
        )
    runners.append(("openvino", "fp32", ov_runner(fp32)))
    runners.append(("openvino", "bf16", ov_runner(fp32, "bf16")))
    for v in OV_QUANT:
        if v in paths:
            runners.append(("openvino", v, ov_runner(paths[v])))
    ref = {}
    rows = []
    x1 = test[:1]
    for backend, variant, run in runners:
        logits = np.concatenate([run(test[i : i + 1]) for i in range(len(test))])
        ref.setdefault(backend, logits) if variant == "fp32" else None
        base = ref.get(backend, ref.get("onnxruntime"))
        ms = median_ms(run, x1, runs)
        row = {
            "model": name,
            "input": size,
            "backend": backend,
            "variant": variant,
            "median_ms": round(ms, 3),
            "argmax_agree": float((logits.argmax(1) == base.argmax(1)).mean()),
            "max_abs_diff": float(np.abs(logits - base).max()),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--variants", nargs="+", choices=list(QUANT), help="INT8 variants to try (default: all)")
    p.add_argument("--calib", type=int, default=64, help="calibration frames")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/int8_study.json"))
    args = p.parse_args(argv)
    import onnxruntime
    import openvino

    meta = {
        "cpu": platform.processor() or platform.machine(),
        "onnxruntime": onnxruntime.__version__,
        "openvino": openvino.__version__.split("-")[0],
        "runs": args.runs,
        "threads": 1,
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="rtecho-int8-") as tmp:
        for name in args.models:
            rows += study(name, args.runs, Path(tmp), args.calib, args.variants)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
