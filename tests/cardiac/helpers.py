"""Test fixtures for rtecho.cardiac: a thresholding ONNX 'segmenter' and a clip of a beating dark ellipse."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rtecho.cardiac.ef import area_length_volume, ejection_fraction


def build_threshold_segmenter(
    path: Path, size_hw: tuple[int, int] = (112, 112), threshold: float = 0.3
) -> Path:
    """An ONNX 'LV segmenter' whose LV logit is ``20 (threshold - x)``: dark pixels are LV (x on 0..1)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from rtecho.runtime.model_file import sha256_file
    from rtecho.types import ModelCard, card_path_for

    inits = [
        numpy_helper.from_array(np.array(threshold, np.float32), "thr"),
        numpy_helper.from_array(np.array(20.0, np.float32), "k"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("Sub", ["thr", "input"], ["d"]),
        helper.make_node("Mul", ["d", "k"], ["lv"]),
        helper.make_node("Mul", ["input", "zero"], ["bg"]),
        helper.make_node("Concat", ["bg", "lv"], ["logits"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "threshold-seg",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, *size_hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2, *size_hw])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    ModelCard(
        name=path.stem,
        architecture="threshold",
        labels=("background", "LV"),
        input_size_hw=size_hw,
        channels=1,
        mean=(0.0,),
        std=(1.0,),
        onnx_sha256=sha256_file(path),
        trained=False,
        task="segmentation",
        description="test segmenter: dark pixels are LV",
    ).save(card_path_for(path))
    return path


def ellipse_clip(
    n: int = 120, fps: float = 30.0, hr: float = 72.0, ef: float = 55.0, size_hw: tuple[int, int] = (160, 128)
) -> tuple[np.ndarray, float, np.ndarray]:
    """Frames of a dark ellipse (the LV) on a bright background beating at ``hr``; its EF by area-length
    of the drawn ellipse, and the true ED frame times. The long axis shortens 10 % in systole."""
    h, w = size_hw
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    a_ed, b_ed = 0.16 * w, 0.33 * h
    b_es = 0.9 * b_ed
    # EF on V = 8 A^2 / (3 pi L) with A = pi a b, L = 2 b  ->  V ~ a^2 b: choose a_es for the EF
    a_es = a_ed * math.sqrt((1 - ef / 100.0) * b_ed / b_es)
    frames = np.zeros((n, h, w), np.uint8)
    for i in range(n):
        ph = (i / fps * hr / 60.0) % 1.0
        g = 0.5 * (1 + math.cos(2 * math.pi * ph))  # 1 at ED (phase 0), 0 at ES (phase 0.5)
        a, b = a_es + g * (a_ed - a_es), b_es + g * (b_ed - b_es)
        inside = ((xx - w / 2) / a) ** 2 + ((yy - h / 2) / b) ** 2 <= 1
        frames[i] = np.where(inside, 20, 200)
    v_ed = area_length_volume(math.pi * a_ed * b_ed, 2 * b_ed)
    v_es = area_length_volume(math.pi * a_es * b_es, 2 * b_es)
    ed_times = np.arange(0, n / fps, 60.0 / hr)
    return frames, ejection_fraction(v_ed, v_es), ed_times
