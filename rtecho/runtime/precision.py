"""Precision variants of an exported model, prepared on the CPU: FP16 ONNX and INT8 Q/DQ ONNX.

Precision lives in the ONNX graph, so one file serves every backend: TensorRT builds a strongly
typed network from it, ONNX Runtime and OpenVINO run it on the CPU. Variants sit beside the model
(``NAME.fp16.onnx``, ``NAME.int8.onnx``) and their sha256 is recorded in the card under
``variants[TAG]`` (:class:`rtecho.card.Variant`), so a damaged or replaced variant is refused at
load time. Which file a backend reads, and how its INT8 file is quantised, are facts of the backend
(``Engine.variant_tags``, ``Engine.quantisation``)::

    from rtecho.runtime.precision import quantize_qdq, to_fp16
    to_fp16("engines/darts2.onnx", "engines/darts2.fp16.onnx")
    quantize_qdq("engines/darts2.onnx", "engines/darts2.int8.onnx", frames, card)

INT8 is static post-training quantisation: activation ranges are the min/max over calibration
frames (run through the model's own :class:`~rtecho.runtime.preprocess.Preprocessor`); the scale of a
symmetric int8 tensor is ``s = max(|min|, |max|) / 127`` and ``q = clip(round(x / s), -128, 127)``,
zero point 0 (the only form TensorRT's ONNX parser accepts). Weights are per output channel. The
defaults are the settings that made INT8 pay on the CPU here (``benchmarks/INT8.md``).

Weights are 7-bit by default (``reduce_range``: q in [-64, 64], still int8 with zero point 0). On x86
CPUs without VNNI (AVX2 only) ONNX Runtime and OpenVINO run int8 convolutions as u8 x s8 products
summed in pairs into int16 (``vpmaddubsw``), which saturates at 32767 when full-range weights meet
large activations (255 * 127 * 2 = 64770): logits then go wrong by whole units. With 7-bit weights
a pair is at most 255 * 64 * 2 = 32640, so one file gives the same answer on every CPU.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rtecho._lazy import require
from rtecho.card import CalibrationFrames, ModelCard, Quantisation, Variant, card_path_for
from rtecho.errors import EngineError
from rtecho.runtime.model_file import sha256_file
from rtecho.runtime.preprocess import Preprocessor

FP16_MAX = 65504.0
#: (op type, input index) pairs that ONNX requires to stay float32 (sizes/scales, not data).
FP32_INPUTS: frozenset[tuple[str, int]] = frozenset({("Resize", 2), ("Upsample", 1)})
#: ONNX element types: FLOAT and FLOAT16.
_F32, _F16 = 1, 10


# -- FP16 ----------------------------------------------------------------------------------------
def to_fp16(onnx_in: str | Path, onnx_out: str | Path) -> Path:
    """Write an FP16 copy of an FP32 ONNX model whose inputs and outputs stay float32.

    Float initializers, constants and value types become float16 (values clipped to +-65504);
    a ``Cast`` after each graph input and before each graph output keeps the I/O float32, so
    callers feed and read float32 as before. Example::

        to_fp16("engines/tiny.onnx", "engines/tiny.fp16.onnx")
    """
    onnx = require("onnx", "onnx", "FP16 conversion")
    from onnx import helper, numpy_helper

    model = onnx.load(str(onnx_in))
    graph = model.graph
    if any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for n in graph.node
        for a in n.attribute
    ):
        raise EngineError(f"{onnx_in}: graphs with subgraphs (If/Loop/Scan) are not supported by to_fp16")
    keep32 = {
        n.input[i] for n in graph.node for (op, i) in FP32_INPUTS if n.op_type == op and len(n.input) > i
    }

    for init in graph.initializer:
        if init.data_type == _F32 and init.name not in keep32:
            arr = np.clip(numpy_helper.to_array(init), -FP16_MAX, FP16_MAX).astype(np.float16)
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
    for node in graph.node:
        for attr in node.attribute:
            if (
                attr.type == onnx.AttributeProto.TENSOR
                and attr.t.data_type == _F32
                and node.output[0] not in keep32
            ):
                arr = np.clip(numpy_helper.to_array(attr.t), -FP16_MAX, FP16_MAX).astype(np.float16)
                attr.t.CopyFrom(numpy_helper.from_array(arr, attr.t.name))
            elif node.op_type == "Cast" and attr.name == "to" and attr.i == _F32:
                attr.i = _F16

    casts_in, casts_out = [], []
    for value in graph.input:
        if value.type.tensor_type.elem_type == _F32 and value.name not in {i.name for i in graph.initializer}:
            half = f"{value.name}__fp16"
            for node in graph.node:
                for k, name in enumerate(node.input):
                    if name == value.name and (node.op_type, k) not in FP32_INPUTS:
                        node.input[k] = half
            casts_in.append(helper.make_node("Cast", [value.name], [half], to=_F16, name=f"{half}_cast"))
    for value in graph.output:
        if value.type.tensor_type.elem_type == _F32:
            half = f"{value.name}__fp16"
            for node in graph.node:
                for k, name in enumerate(node.output):
                    if name == value.name:
                        node.output[k] = half
                for k, name in enumerate(node.input):
                    if name == value.name:
                        node.input[k] = half
            casts_out.append(helper.make_node("Cast", [half], [value.name], to=_F32, name=f"{half}_cast"))
    nodes = casts_in + list(graph.node) + casts_out
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    try:
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise EngineError(f"FP16 conversion of {onnx_in} produced an invalid graph: {exc}") from None
    out = Path(onnx_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


# -- INT8 ----------------------------------------------------------------------------------------
class FrameReader:
    """ONNX Runtime ``CalibrationDataReader`` over uint8 frames, preprocessed from the card."""

    def __init__(self, frames: Iterable[np.ndarray], card: ModelCard, input_name: str) -> None:
        self._pre = Preprocessor(card)
        self._frames = iter(frames)
        self._input = input_name
        self.count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        frame = next(self._frames, None)
        if frame is None:
            return None
        self.count += 1
        return {self._input: self._pre(frame)}

    def __iter__(self) -> FrameReader:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        item = self.get_next()
        if item is None:
            raise StopIteration
        return item


def depthwise_conv_names(model: Any) -> list[str]:
    """Names of the grouped convolutions whose group equals their input channels (depthwise)."""
    from onnx import numpy_helper

    weights = {i.name: numpy_helper.to_array(i).shape for i in model.graph.initializer}
    names = []
    for node in model.graph.node:
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        conv = node.op_type == "Conv" and group > 1 and len(node.input) > 1 and node.input[1] in weights
        if conv and weights[node.input[1]][1] == 1:  # (Cout, Cin/group, kh, kw) with Cin/group == 1
            names.append(node.name)
    return names


def quantize_qdq(
    onnx_in: str | Path,
    onnx_out: str | Path,
    calibration_frames: Iterable[np.ndarray],
    card: ModelCard,
    *,
    per_channel: bool = True,
    activation_type: str = "s8",
    exclude_depthwise: bool = False,
    quant_format: str = "qdq",
    nodes_to_exclude: Sequence[str] = (),
    op_types: Sequence[str] | None = None,
    quantize_bias: bool = True,
    preprocess: bool = True,
    float_tail: int = 0,
    reduce_range: bool = True,
) -> Path:
    """Statically quantise an FP32 ONNX model to INT8 from uint8 calibration frames.

    ``activation_type`` is ``"s8"`` (symmetric, zero point 0: TensorRT, OpenVINO, ONNX Runtime)
    or ``"u8"`` (asymmetric; CPU only, TensorRT refuses it). Weights are symmetric s8, per output
    channel unless ``per_channel=False``. ``exclude_depthwise`` keeps depthwise convolutions in
    FP32; ``quant_format`` is ``"qdq"`` (portable) or ``"qoperator"`` (ONNX Runtime only);
    ``quantize_bias=False`` keeps biases float (TensorRT's parser refuses int32 DequantizeLinear);
    ``op_types`` limits quantisation to those op types (e.g. ``("Conv", "Gemm")``; default: all);
    ``float_tail`` keeps the last N nodes of the graph (in topological order: the classifier head, an
    attention block before it) in float, where small logit margins make INT8 noise flip the answer.
    ``reduce_range=False`` keeps full 8-bit weights: only for VNNI CPUs or TensorRT on a GPU (see the
    module docstring for why they saturate elsewhere). Example::

        frames = [np.zeros((480, 640), np.uint8)] * 8
        quantize_qdq("engines/tiny.onnx", "engines/tiny.int8.onnx", frames, card)
    """
    onnx = require("onnx", "onnx", "INT8 quantisation")
    q = require("onnxruntime.quantization", "onnx", "INT8 quantisation")
    if activation_type not in ("s8", "u8"):
        raise EngineError(f"activation_type must be 's8' or 'u8', got {activation_type!r}")
    if quant_format not in ("qdq", "qoperator"):
        raise EngineError(f"quant_format must be 'qdq' or 'qoperator', got {quant_format!r}")
    frames = list(calibration_frames)
    if not frames:
        raise EngineError("no calibration frames were given; quantisation needs at least one")
    out = Path(onnx_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rtecho-quant-") as tmp:
        src = Path(tmp) / "prepared.onnx"
        if preprocess:  # shape inference + ONNX-level folding (Conv+BN), as ORT recommends
            q.quant_pre_process(str(onnx_in), str(src), skip_symbolic_shape=True)
        else:
            src.write_bytes(Path(onnx_in).read_bytes())
        model = onnx.load(str(src))
        for k, node in enumerate(model.graph.node):  # the quantiser addresses nodes by name
            if not node.name:
                node.name = f"{node.op_type}_{k}"
        onnx.save(model, str(src))
        if float_tail < 0:
            raise EngineError(f"float_tail must be >= 0, got {float_tail}")
        exclude = list(nodes_to_exclude) + (depthwise_conv_names(model) if exclude_depthwise else [])
        exclude += (
            [n.name for n in model.graph.node[len(model.graph.node) - float_tail :]] if float_tail else []
        )
        reader = FrameReader(frames, card, model.graph.input[0].name)
        symmetric = activation_type == "s8"
        q.quantize_static(
            str(src),
            str(out),
            reader,
            quant_format=q.QuantFormat.QDQ if quant_format == "qdq" else q.QuantFormat.QOperator,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=q.QuantType.QInt8 if symmetric else q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            nodes_to_exclude=exclude or None,
            op_types_to_quantize=list(op_types) if op_types else None,
            calibrate_method=q.CalibrationMethod.MinMax,
            extra_options={
                "ActivationSymmetric": symmetric,
                "WeightSymmetric": True,
                "QuantizeBias": quantize_bias,
            },
        )
    return out


def zero_points(onnx_path: str | Path) -> dict[str, np.ndarray]:
    """Every zero point of the Q/DQ (or QOperator) nodes of a quantised model, by tensor name."""
    onnx = require("onnx", "onnx", "reading a quantised model")
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {i.name: i for i in model.graph.initializer}
    zps = {}
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            name = node.input[2]
            if name in inits:
                zps[name] = numpy_helper.to_array(inits[name])
    for name, init in inits.items():
        if name.endswith("_zero_point") and name not in zps:
            zps[name] = numpy_helper.to_array(init)
    return zps


# -- card ----------------------------------------------------------------------------------------
def record_variant(
    model_path: str | Path,
    tag: str,
    variant: str | Path,
    *,
    precision: str | None = None,
    backend: str | None = None,
    quantisation: Quantisation | None = None,
    calibration: CalibrationFrames | None = None,
    check: Mapping[str, Any] | None = None,
) -> ModelCard:
    """Record a variant file (its name, sha256 and how it was made) in the card beside ``model_path``
    under ``variants[tag]`` and save the card. ``precision`` defaults to the tag's first part
    (``int8-sym`` -> int8); an earlier record of the tag (and its measured speeds) is replaced."""
    model_path = Path(model_path)
    card = ModelCard.load(card_path_for(model_path))
    precision = precision or tag.split("-")[0]
    entry = Variant(
        file=Path(variant).name,
        sha256=sha256_file(variant),
        precision=precision,
        format="fp16" if precision == "fp16" else "qdq",
        backend=backend,
        quantisation=quantisation,
        calibration=calibration,
        check=dict(check or {}),
    )
    new = dataclasses.replace(card, variants={**card.variants, tag: entry})
    new.save(card_path_for(model_path))
    return new


def record_speed(
    model_path: str | Path, precision: str, backend: str, measured: Mapping[str, Any] | None
) -> ModelCard:
    """Record in the card whether ``precision`` measured slower than fp32 on ``backend``:
    ``measured`` (infer_ms, fp32_infer_ms, speedup) puts the backend under the ``slower_than_fp32``
    of the variant that backend reads, where :meth:`Engine.not_offered` looks; None removes it. A
    precision the backend runs from the fp32 graph (OpenVINO's bf16) or whose variant the card does
    not record is not recorded (returns the card as is)."""
    from rtecho.runtime.base import get_backend

    model_path = Path(model_path)
    card = ModelCard.load(card_path_for(model_path))
    tag = get_backend(backend).engine_class().variant_tags.get(precision)
    variant = card.variants.get(tag) if tag is not None else None
    if variant is None:
        return card
    slow = dict(variant.slower_than_fp32)
    if measured is None:
        slow.pop(backend, None)
    else:
        slow[backend] = {k: measured[k] for k in ("infer_ms", "fp32_infer_ms", "speedup") if k in measured}
    new = dataclasses.replace(
        card, variants={**card.variants, tag: dataclasses.replace(variant, slower_than_fp32=slow)}
    )
    new.save(card_path_for(model_path))
    return new
