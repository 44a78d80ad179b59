"""A tiny UNTRAINED classifier built with onnx's helper API (no torch), for tests and smoke runs.

Its weights are random: its labels are meaningless. It exists so that the runtime, the stream
processor and the bench can run before (and without) any trained model::

    from rtecho.runtime.tiny import build_tiny_classifier
    onnx_path = build_tiny_classifier("out/tiny-untrained.onnx")   # writes the card beside it
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtecho._lazy import require
from rtecho._version import __version__
from rtecho.runtime.model_file import sha256_file
from rtecho.types import ModelCard, card_path_for
from rtecho.views import VIEWS

TINY_NAME = "tiny-untrained"


def build_tiny_classifier(
    path: str | Path,
    size_hw: tuple[int, int] = (128, 128),
    channels: int = 1,
    labels: tuple[str, ...] = VIEWS,
    widths: tuple[int, ...] = (8, 16, 32),
    seed: int = 0,
    name: str = TINY_NAME,
) -> Path:
    """Write a random-weight CNN (stride-2 3x3 convs + ReLU, global pool, linear) and its card.

    Deterministic for a seed: the same arguments give a byte-identical file.
    """
    onnx = require("onnx", "dev", "building the tiny test model")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    cin, x = channels, "input"
    flops = 0
    h, w = size_hw
    for i, cout in enumerate(widths):
        wt = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)
        bs = np.zeros(cout, np.float32)
        inits += [numpy_helper.from_array(wt, f"conv{i}.w"), numpy_helper.from_array(bs, f"conv{i}.b")]
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"conv{i}.w", f"conv{i}.b"],
                [f"c{i}"],
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
                strides=[2, 2],
            )
        )
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        h, w = (h + 1) // 2, (w + 1) // 2
        flops += 2 * h * w * cout * cin * 9
        cin, x = cout, f"r{i}"
    k = len(labels)
    fc = (rng.standard_normal((k, cin)) / np.sqrt(cin)).astype(np.float32)
    inits += [numpy_helper.from_array(fc, "fc.w"), numpy_helper.from_array(np.zeros(k, np.float32), "fc.b")]
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["feat"], axis=1),
        helper.make_node("Gemm", ["feat", "fc.w", "fc.b"], ["logits"], transB=1),
    ]
    flops += 2 * cin * k
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", channels, *size_hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", k])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="rtecho.tiny")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    params = int(sum(np.prod(t.dims) for t in inits))
    ModelCard(
        name=name,
        architecture="tiny-cnn",
        labels=tuple(labels),
        input_size_hw=tuple(size_hw),
        channels=channels,
        mean=(0.5,) * channels,
        std=(0.25,) * channels,
        params=params,
        flops=int(flops),
        onnx_sha256=sha256_file(path),
        rtecho_version=__version__,
        training_data="none: random weights (UNTRAINED; predictions are meaningless)",
        trained=False,
        description="Tiny untrained CNN built with onnx.helper for tests and smoke runs.",
    ).save(card_path_for(path))
    return path
