"""FP16 and INT8 (Q/DQ) variants prepared on the CPU, checked with ONNX Runtime and OpenVINO."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import onnx
import pytest

from rtecho.card import Quantisation
from rtecho.errors import EngineError
from rtecho.io import SyntheticSource
from rtecho.runtime import load_engine
from rtecho.runtime.precision import depthwise_conv_names, quantize_qdq, record_variant, to_fp16, zero_points
from rtecho.runtime.preprocess import Preprocessor
from rtecho.types import ModelCard, card_path_for


def frames(n: int, seed: int) -> list[np.ndarray]:
    """Calibration-like frames: ultrasound-like sectors, different per seed."""
    return [f.image for f in SyntheticSource(n_frames=n, size_hw=(160, 200), seed=seed)]


@pytest.fixture
def model(tiny_onnx, tmp_path):
    """A private copy of the tiny model and its card (tests write variants beside it)."""
    path = tmp_path / "tiny.onnx"
    shutil.copy(tiny_onnx, path)
    shutil.copy(card_path_for(tiny_onnx), card_path_for(path))
    return path


@pytest.fixture
def card(model):
    return ModelCard.load(card_path_for(model))


def run_ort(path, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def inputs(card, n=100, seed=7):
    pre = Preprocessor(card)
    return np.concatenate([pre(f) for f in frames(n, seed)])


def test_fp16_graph_keeps_float32_io_and_agrees(model, card, tmp_path):
    out = to_fp16(model, tmp_path / "tiny.fp16.onnx")
    m = onnx.load(str(out))
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert m.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    weights = [i for i in m.graph.initializer if i.name.endswith(".w")]
    assert weights and all(i.data_type == onnx.TensorProto.FLOAT16 for i in weights)
    x = inputs(card, 16)
    ref, half = run_ort(model, x), run_ort(out, x)
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, ref, atol=2e-2, rtol=2e-2)
    assert (half.argmax(1) == ref.argmax(1)).mean() >= 0.9


def test_fp16_refuses_subgraphs(tmp_path):
    from onnx import TensorProto, helper

    branch = helper.make_graph([], "b", [], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(g), str(tmp_path / "if.onnx"))
    with pytest.raises(EngineError, match="subgraphs"):
        to_fp16(tmp_path / "if.onnx", tmp_path / "if.fp16.onnx")


def test_qdq_default_is_symmetric_and_agrees(model, card, tmp_path):
    out = quantize_qdq(model, tmp_path / "tiny.int8.onnx", frames(64, seed=1), card)
    m = onnx.load(str(out))
    ops = {n.op_type for n in m.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    zps = zero_points(out)
    assert len(zps) >= 4
    assert all(z.dtype in (np.int8, np.int32) and not np.any(z) for z in zps.values())  # symmetric
    x = inputs(card)
    ref = run_ort(model, x)
    q = run_ort(out, x)
    agree = (q.argmax(1) == ref.argmax(1)).mean()
    assert agree >= 0.9, agree
    assert not np.allclose(q, ref)  # it really is quantised


@pytest.mark.openvino
def test_qdq_runs_on_openvino(model, card, tmp_path):
    import openvino as ov

    out = quantize_qdq(model, tmp_path / "tiny.int8.onnx", frames(64, seed=1), card)
    compiled = ov.Core().compile_model(str(out), "CPU")
    x = inputs(card, 32)
    got = compiled(x)[0]
    np.testing.assert_allclose(got, run_ort(out, x), atol=0.15)
    assert (got.argmax(1) == run_ort(model, x).argmax(1)).mean() >= 0.9


def test_tensorrt_form_has_float_biases(model, card, tmp_path):
    out = quantize_qdq(model, tmp_path / "trt.onnx", frames(16, seed=1), card, quantize_bias=False)
    zps = zero_points(out)
    assert zps and all(z.dtype == np.int8 and not np.any(z) for z in zps.values())
    x = inputs(card, 16)
    assert (run_ort(out, x).argmax(1) == run_ort(model, x).argmax(1)).mean() >= 0.8


def test_u8_activations_are_asymmetric(model, card, tmp_path):
    out = quantize_qdq(model, tmp_path / "u8.onnx", frames(32, seed=1), card, activation_type="u8")
    zps = zero_points(out)
    assert any(z.dtype == np.uint8 and np.any(z) for z in zps.values())


def test_float_tail_keeps_the_head_in_float(model, card, tmp_path):
    import onnx

    def weight_is_int8(path):  # the last compute node's weights come through a DequantizeLinear
        g = onnx.load(str(path)).graph
        made = {o for n in g.node if n.op_type == "DequantizeLinear" for o in n.output}
        last = [n for n in g.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")][-1]
        return last.input[1] in made

    full = quantize_qdq(model, tmp_path / "full.onnx", frames(16, seed=1), card)
    tail = quantize_qdq(model, tmp_path / "tail.onnx", frames(16, seed=1), card, float_tail=1)
    assert weight_is_int8(full) and not weight_is_int8(tail)
    x = inputs(card, 16)
    assert (run_ort(tail, x).argmax(1) == run_ort(model, x).argmax(1)).mean() >= 0.8
    with pytest.raises(EngineError, match="float_tail"):
        quantize_qdq(model, tmp_path / "x.onnx", frames(2, 1), card, float_tail=-1)


def test_bad_settings_and_empty_calibration(model, card, tmp_path):
    with pytest.raises(EngineError, match="activation_type"):
        quantize_qdq(model, tmp_path / "x.onnx", frames(2, 1), card, activation_type="s16")
    with pytest.raises(EngineError, match="calibration frames"):
        quantize_qdq(model, tmp_path / "x.onnx", [], card)
    assert not (tmp_path / "x.onnx").exists()


def test_depthwise_names(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=4, name="dw", pads=[1, 1, 1, 1])
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [w],
    )
    assert depthwise_conv_names(helper.make_model(g)) == ["dw"]


@pytest.mark.parametrize("backend", ["onnxruntime", pytest.param("openvino", marks=pytest.mark.openvino)])
def test_load_engine_int8_verifies_sha256(model, card, backend):
    out = quantize_qdq(model, model.with_name("tiny.int8.onnx"), frames(32, seed=1), card)
    record_variant(model, "int8", out, quantisation=Quantisation("s8"))
    recorded = ModelCard.load(card_path_for(model)).variants["int8"]
    assert recorded.file == "tiny.int8.onnx" and recorded.precision == "int8" and len(recorded.sha256) == 64
    x = inputs(card, 8)
    with load_engine(model, backend=backend, precision="int8") as engine:
        assert engine.info.settings["file"] == "tiny.int8.onnx"
        np.testing.assert_allclose(engine.infer(x), run_ort(out, x), atol=0.15)
    out.write_bytes(out.read_bytes() + b"\0")  # tampered after recording
    with pytest.raises(EngineError, match="sha256"):
        load_engine(model, backend=backend, precision="int8").open()


def test_calibrate_command_writes_variant_and_card(model, tmp_path, capsys):
    from rtecho.cli import main

    data = tmp_path / "calib"
    for view in ("A4C", "PLAX"):
        (data / view).mkdir(parents=True)
        for i, image in enumerate(frames(6, seed=len(view))):
            np.save(data / view / f"f{i}.npy", image)
    assert main(["calibrate", str(model), "--data", str(data), "--backend", "onnxruntime", "--n", "10"]) == 0
    variant = ModelCard.load(card_path_for(model)).variants["int8"]
    assert variant.quantisation.activation_type == "u8" and variant.calibration.frames == 10
    assert variant.backend == "onnxruntime" and 0.0 <= variant.check["accuracy_int8"] <= 1.0
    assert "accuracy fp32" in capsys.readouterr().out
    with load_engine(model, precision="int8") as engine:
        assert engine.info.settings["file"] == "tiny.int8.onnx"


def test_build_command_prepares_fp16(model, capsys):
    from rtecho.cli import main

    assert main(["build", str(model), "--backend", "onnxruntime", "--precision", "fp32"]) == 0
    assert "onnxruntime/fp32 ready" in capsys.readouterr().out
    # TensorRT is absent here (or there is no GPU): the FP16 graph is still prepared and recorded
    code = main(["build", str(model), "--backend", "tensorrt", "--precision", "fp16"])
    fp16 = model.with_name("tiny.fp16.onnx")
    assert fp16.is_file()
    assert ModelCard.load(card_path_for(model)).variants["fp16"].file == fp16.name
    if importlib.util.find_spec("tensorrt") is None:
        assert code == 1
        assert "rtecho[trt]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["build", str(model), "--precision", "int4"])
    assert main(["build", str(model), "--backend", "onnxruntime", "--precision", "int8"]) == 1
    assert "--calib" in capsys.readouterr().err


def test_weights_are_7bit_so_avx2_kernels_cannot_saturate(model, card, tmp_path):
    """u8 x s8 pairs summed into int16 (x86 without VNNI) saturate unless |q_weight| <= 64."""
    import onnxruntime as ort
    from onnx import numpy_helper

    out = quantize_qdq(model, tmp_path / "tiny.int8.onnx", frames(32, seed=1), card)
    weights = [numpy_helper.to_array(i) for i in onnx.load(str(out)).graph.initializer if i.data_type == 3]
    assert weights and max(int(np.abs(w.astype(np.int32)).max()) for w in weights) <= 64
    full = quantize_qdq(model, tmp_path / "full.onnx", frames(32, seed=1), card, reduce_range=False)
    weights = [numpy_helper.to_array(i) for i in onnx.load(str(full)).graph.initializer if i.data_type == 3]
    assert max(int(np.abs(w.astype(np.int32)).max()) for w in weights) > 64
    # ORT's fused int8 kernels (QLinearConv, QGemm) agree with its float Q/DQ reference path
    x = inputs(card, 16)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    plain = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(run_ort(out, x), plain.run(None, {"input": x})[0], atol=0.15)
