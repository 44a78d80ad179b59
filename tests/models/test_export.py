"""ONNX export (opset 17, dynamic batch) of the echo models, checked against torch with ONNX Runtime."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from rtecho.models import create_model  # noqa: E402


def _export_and_compare(name: str, tmp_path, size: int = 64) -> None:
    torch.manual_seed(0)
    model = create_model(name, img_size=size)
    x = torch.randn(4, 1, size, size)
    for m in model.modules():  # BN statistics from one batch, so that the outputs depend on the input
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        model(x)
    model.eval()
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x,),
            str(path),
            opset_version=17,
            input_names=["input"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
            dynamo=True,
            verbose=False,
        )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        xb = torch.randn(batch, 1, size, size)
        with torch.no_grad():
            ref = model(xb).numpy()
        got = sess.run(None, {"input": xb.numpy()})[0]
        assert got.shape == (batch, 13)
        assert np.ptp(ref, axis=1).max() > 1e-3
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)


def test_onnx_export_darts2(tmp_path):
    # normal + reduction cell: every op family, FactorizedReduce, the stride-4 stem
    _export_and_compare("darts2", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["darts1", "stanet", "uiac", "efficientnet_b0_cbam"])
def test_onnx_export_other_models(name, tmp_path):
    _export_and_compare(name, tmp_path)
