"""torch -> ONNX export: card fields, parity with torch, and the exported file runs in rtecho."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from rtecho.errors import EngineError  # noqa: E402
from rtecho.runtime import load_engine  # noqa: E402
from rtecho.runtime.export import export_onnx  # noqa: E402
from rtecho.types import ModelCard, card_path_for  # noqa: E402


@pytest.mark.parametrize("name,size", [("darts1", 64), ("stanet", 48)])
def test_export_parity_and_card(name, size, tmp_path):
    from rtecho.models import create_model

    torch.manual_seed(0)
    model = create_model(name, img_size=size)
    out = tmp_path / f"{name}.onnx"
    card = export_onnx(
        model, out, training_data="test: random weights", metrics={"acc": 0.5}, save_torch=True
    )
    assert card == ModelCard.load(card_path_for(out))
    assert card.input_size_hw == (size, size) and card.channels == 1 and len(card.labels) == 13
    assert card.params and card.flops and card.onnx_sha256 and card.rtecho_version
    par = card.metrics["parity"]
    assert par["max_abs_logit_diff"] < 1e-3 and par["argmax_agreement"] == 1.0
    if name.startswith("darts"):
        assert card.genotype and "normal" in card.genotype
    x = np.random.default_rng(1).normal(size=(3, 1, size, size)).astype(np.float32)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    with load_engine(out) as engine:  # dynamic batch: 3 works although export traced 2
        np.testing.assert_allclose(engine.infer(x), ref, atol=1e-3)
    with load_engine(out, backend="torch") as engine:  # the reference backend, rebuilt from the card
        np.testing.assert_allclose(engine.infer(x), ref, atol=1e-5)
        assert engine.info.settings["weights"] == f"{name}.pt"
    out.with_suffix(".pt").unlink()
    with pytest.raises(EngineError, match="no torch weights"):
        load_engine(out, backend="torch").open()
    with load_engine(out, backend="torch", allow_random=True) as engine:
        assert engine.info.settings["weights"].startswith("random")


def test_export_needs_registry_model(tmp_path):
    with pytest.raises(EngineError, match="create_model"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")
