"""LV segmenters: registry entries with a segmentation task, shapes, size limits, export with a card."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rtecho.models import create_model  # noqa: E402
from rtecho.models.stats import count_flops, count_params  # noqa: E402

SEGMENTERS = ["lvseg_aspp", "lvseg_unet"]


@pytest.mark.parametrize("name", SEGMENTERS)
def test_segmenter_config_shape_and_budget(name):
    m = create_model(name).eval()
    cfg = m.config
    assert (cfg.task, cfg.labels, cfg.input_size_hw, cfg.channels) == (
        "segmentation",
        ("background", "LV"),
        (112, 112),
        1,
    )
    with torch.no_grad():
        assert m(torch.zeros(2, 1, 112, 112)).shape == (2, 2, 112, 112)
        assert m(torch.zeros(1, 1, 96, 128)).shape == (1, 2, 96, 128)  # any size: logits at the input size
    assert count_params(m) <= 2_000_000
    assert count_flops(m, (112, 112)) <= 200e6  # the 5 ms p99 CPU budget (benchmarks/seg_check.py)


def test_classifiers_keep_their_task():
    assert create_model("stanet").config.task == "classification"


def test_segmenter_logits_depend_on_the_input():
    torch.manual_seed(0)
    m = create_model("lvseg_unet").eval()
    with torch.no_grad():
        a = m(torch.zeros(1, 1, 112, 112))
        b = m(torch.randn(1, 1, 112, 112))
    assert not torch.allclose(a, b)


def test_export_writes_a_segmentation_card_and_the_engine_gives_pixel_logits(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from rtecho.runtime import load_engine
    from rtecho.runtime.export import export_onnx

    torch.manual_seed(0)
    model = create_model("lvseg_aspp")
    card = export_onnx(model, tmp_path / "seg.onnx", training_data="SIMULATED test")
    assert card.task == "segmentation" and card.labels == ("background", "LV")
    assert card.metrics["parity"]["max_abs_logit_diff"] < 1e-3
    x = np.random.default_rng(0).normal(size=(2, 1, 112, 112)).astype(np.float32)
    with load_engine(tmp_path / "seg.onnx") as engine:
        out = engine.infer(x)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    assert out.shape == (2, 2, 112, 112)
    np.testing.assert_allclose(out, ref, atol=1e-3)
