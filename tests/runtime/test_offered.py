"""Variants a backend runs but does not offer (slower than fp32 there): the declaration, the
warning when one is asked for, and the bench's record of measured verdicts in the card."""

from __future__ import annotations

import dataclasses
import logging
import shutil

import numpy as np
import pytest

from rtecho.card import Quantisation
from rtecho.runtime import load_engine
from rtecho.runtime.ort import OrtEngine
from rtecho.runtime.precision import quantize_qdq, record_speed, record_variant
from rtecho.types import ModelCard, card_path_for
from tests.runtime.test_precision import frames


@pytest.fixture
def tiny(tiny_onnx, tmp_path):
    """A private copy of the tiny model and its card (the tests write variants beside it)."""
    path = tmp_path / "tiny.onnx"
    shutil.copy(tiny_onnx, path)
    shutil.copy(card_path_for(tiny_onnx), card_path_for(path))
    return path


def _card(path) -> ModelCard:
    return ModelCard.load(card_path_for(path))


def test_ort_does_not_offer_s8_int8_and_warns(tiny, caplog):
    out = quantize_qdq(tiny, tiny.with_name("tiny.int8.onnx"), frames(8, seed=1), _card(tiny))
    record_variant(tiny, "int8", out, quantisation=Quantisation("s8"), backend="openvino")
    assert "s8 activations" in OrtEngine.not_offered(_card(tiny), "int8")
    assert OrtEngine.not_offered(_card(tiny), "fp32") is None
    with caplog.at_level(logging.WARNING, logger="rtecho.runtime"):
        load_engine(tiny, backend="onnxruntime", precision="int8")
    [rec] = [r for r in caplog.records if r.name == "rtecho.runtime"]
    assert rec.levelno == logging.WARNING and "not offered" in rec.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rtecho.runtime"):
        load_engine(tiny, backend="onnxruntime", precision="int8", warn=False)
        load_engine(tiny, backend="onnxruntime")
    assert not caplog.records


def test_u8_int8_is_offered_until_measured_slower(tiny, caplog):
    out = quantize_qdq(
        tiny, tiny.with_name("tiny.int8.onnx"), frames(8, seed=1), _card(tiny), activation_type="u8"
    )
    record_variant(tiny, "int8", out, quantisation=Quantisation("u8"))
    assert OrtEngine.not_offered(_card(tiny), "int8") is None
    record_speed(tiny, "int8", "onnxruntime", {"infer_ms": 0.2, "fp32_infer_ms": 0.1, "speedup": 0.5})
    why = OrtEngine.not_offered(_card(tiny), "int8")
    assert "no faster than fp32" in why and "0.2 ms" in why
    assert _card(tiny).variants["int8"].sha256  # the file's record is kept
    with caplog.at_level(logging.WARNING, logger="rtecho.runtime"):
        load_engine(tiny, precision="int8")
    assert any("not offered" in r.getMessage() for r in caplog.records)
    record_speed(tiny, "int8", "onnxruntime", None)  # measured faster again
    assert OrtEngine.not_offered(_card(tiny), "int8") is None
    assert not _card(tiny).variants["int8"].slower_than_fp32
    record_speed(tiny, "bf16", "openvino", {"speedup": 0.5})  # no variant file: nothing recorded
    assert _card(tiny) == ModelCard.load(card_path_for(tiny)) and "bf16" not in _card(tiny).variants


def test_rtecho_run_warns_for_a_variant_not_offered(tiny, tmp_path, caplog):
    from rtecho.cli import main
    from tests.fixtures import make_png_folder

    out = quantize_qdq(tiny, tiny.with_name("tiny.int8.onnx"), frames(8, seed=1), _card(tiny))
    record_variant(tiny, "int8", out, quantisation=Quantisation("s8"))
    clip = make_png_folder(tmp_path / "pngs", n=3)
    with caplog.at_level(logging.WARNING):
        assert main(["run", str(clip), "--model", str(tiny), "--precision", "int8", "--no-progress"]) == 0
    assert any(r.levelno == logging.WARNING and "not offered" in r.getMessage() for r in caplog.records)


def test_shipped_int8_on_onnxruntime_is_not_offered():
    for name in ("darts1", "darts2", "stanet", "efficientnet_b0_cbam"):
        card = load_engine(name).card
        if "int8" in card.variants:
            assert OrtEngine.not_offered(card, "int8"), name
    x = np.zeros((1, 1, 128, 128), np.float32)
    with load_engine("darts2", precision="int8", warn=False) as engine:  # still runs when asked
        assert engine.infer(x).shape == (1, 13)


def test_openvino_reads_the_measured_list():
    pytest.importorskip("openvino")
    from rtecho.runtime.ov import OpenVinoEngine

    shipped = load_engine("darts2").card
    fast = dataclasses.replace(shipped.variants["int8"], slower_than_fp32={})
    card = dataclasses.replace(shipped, variants={"int8": fast})
    int8 = dataclasses.replace(fast, slower_than_fp32={"openvino": {"speedup": 0.9}})
    slow = dataclasses.replace(card, variants={"int8": int8})
    assert OpenVinoEngine.not_offered(card, "int8") is None
    assert "no faster than fp32 on openvino" in OpenVinoEngine.not_offered(slow, "int8")
