"""One backend test suite, parametrised over every backend installed here."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.errors import EngineError
from rtecho.runtime import available_backends, load_engine

BACKENDS = [
    pytest.param("onnxruntime"),
    pytest.param("openvino", marks=pytest.mark.openvino),
    pytest.param("tensorrt", marks=pytest.mark.tensorrt),
]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def test_infer_shapes_and_dtype(tiny_onnx, backend):
    with load_engine(tiny_onnx, backend=backend) as engine:
        for n in (1, 3):
            out = engine.infer(np.random.default_rng(n).random((n, 1, 128, 128), dtype=np.float32))
            assert out.shape == (n, 13)
            assert out.dtype == np.float32
            assert np.isfinite(out).all()
        assert engine.info.backend == backend
        assert engine.info.onnx_sha256 == engine.card.onnx_sha256


def test_agrees_with_onnxruntime(tiny_onnx, backend):
    x = np.random.default_rng(0).normal(size=(4, 1, 128, 128)).astype(np.float32)
    with load_engine(tiny_onnx, backend="onnxruntime") as ref, load_engine(tiny_onnx, backend=backend) as eng:
        np.testing.assert_allclose(eng.infer(x), ref.infer(x), atol=1e-4, rtol=1e-4)
        # the logits depend on the input (a model that ignores it would pass the check above)
        assert np.abs(ref.infer(x[:1]) - ref.infer(x[1:2])).max() > 1e-3


def test_rejects_wrong_input(tiny_onnx, backend):
    with load_engine(tiny_onnx, backend=backend) as engine:
        with pytest.raises(EngineError, match="float32"):
            engine.infer(np.zeros((1, 1, 128, 128), np.float64))
        with pytest.raises(EngineError, match="shape"):
            engine.infer(np.zeros((1, 3, 128, 128), np.float32))
        with pytest.raises(EngineError, match="shape"):
            engine.infer(np.zeros((1, 128, 128), np.float32))


def test_not_open(tiny_onnx, backend):
    engine = load_engine(tiny_onnx, backend=backend)
    with pytest.raises(EngineError, match="not open"):
        engine.infer(np.zeros((1, 1, 128, 128), np.float32))
    with engine:
        with engine:  # re-entrant
            engine.infer(np.zeros((1, 1, 128, 128), np.float32))
        assert engine.is_open
    assert not engine.is_open


def test_corrupt_model_is_refused(tiny_onnx, backend, tmp_path):
    import shutil

    from rtecho.runtime import sha256_file
    from rtecho.types import ModelCard, card_path_for

    bad = tmp_path / "bad.onnx"
    data = tiny_onnx.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated: a damaged download or copy
    shutil.copy(card_path_for(tiny_onnx), card_path_for(bad))
    with pytest.raises(EngineError, match="does not match its model card"):
        load_engine(bad, backend=backend)
    # a card that vouches for the damaged bytes: the backend itself must refuse them cleanly
    card = ModelCard.load(card_path_for(tiny_onnx))
    ModelCard.from_dict(card.to_dict() | {"onnx_sha256": sha256_file(bad)}).save(card_path_for(bad))
    engine = load_engine(bad, backend=backend)
    with pytest.raises(EngineError, match="cannot load"):
        engine.open()


def test_available_backends_include_default():
    assert "onnxruntime" in available_backends()
