"""rtecho's ONNX export (``export_onnx``: opset 17, dynamic batch, card, parity) of the echo models,
run back through rtecho's own engine and checked against torch eager."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from rtecho.models import create_model  # noqa: E402
from rtecho.runtime import load_engine  # noqa: E402
from rtecho.runtime.export import OPSET, export_onnx  # noqa: E402
from rtecho.types import ModelCard, card_path_for  # noqa: E402


def _export_and_compare(name: str, tmp_path, size: int = 64) -> None:
    torch.manual_seed(0)
    model = create_model(name, img_size=size)
    for m in model.modules():  # BN statistics from one batch, so that the outputs depend on the input
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        model(torch.randn(4, 1, size, size))
    path = tmp_path / f"{name}.onnx"
    card = export_onnx(model, path, training_data="test: random weights")
    assert card == ModelCard.load(card_path_for(path))
    import onnx

    declared = next(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx"))
    # the card says what the file declares (the dynamo exporter may raise the requested 17 to 18)
    assert card.extra["exporter"] == "dynamo" and card.extra["opset"] == declared >= OPSET == 17
    assert card.input_size_hw == (size, size) and len(card.labels) == 13
    assert card.metrics["parity"]["max_abs_logit_diff"] < 1e-3
    rng = np.random.default_rng(1)
    with load_engine(path) as engine:  # rtecho's runtime (ONNX Runtime), as a scanner would run it
        for batch in (1, 3):  # dynamic batch: neither is the traced one
            xb = rng.normal(size=(batch, 1, size, size)).astype(np.float32)
            with torch.no_grad():
                ref = model(torch.from_numpy(xb)).numpy()
            got = engine.infer(xb)
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
