"""Model card sections (variants, calibration): typed, validated on load with one-line errors, the
layout before them still loads, and the JSON round-trips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rtecho.card import CalibrationFrames, ConfidenceCalibration, ModelCard, Quantisation, Variant
from rtecho.errors import ModelCardError

BASE = {"name": "m", "architecture": "cnn", "labels": ["A2C", "A4C"], "input_size_hw": [64, 64]}
SHA = "ab" * 32
INT8 = {
    "file": "m.int8.onnx",
    "sha256": SHA,
    "precision": "int8",
    "format": "qdq",
    "backend": "openvino",
    "quantisation": {"activation_type": "s8", "per_channel": True, "float_tail": 3},
    "calibration": {"set": "calibration/x", "frames": 20, "seed": 0},
}
ENGINES = Path(__file__).resolve().parents[1] / "engines"


def test_sections_are_typed_and_round_trip(tmp_path):
    card = ModelCard.from_dict(BASE | {"variants": {"int8": INT8}, "calibration": {"temperature": 0.8}})
    v = card.variants["int8"]
    assert isinstance(v, Variant) and isinstance(v.quantisation, Quantisation)
    assert isinstance(v.calibration, CalibrationFrames) and v.calibration.frames == 20
    assert v.quantisation.kwargs()["float_tail"] == 3 and v.quantisation.op_types is None
    assert (
        isinstance(card.calibration, ConfidenceCalibration) and card.calibration.entropy_threshold == math.inf
    )
    saved = json.loads(card.save(tmp_path / "m.json").read_text())
    assert saved["variants"]["int8"]["sha256"] == SHA and saved["calibration"]["entropy_threshold"] is None
    assert ModelCard.load(tmp_path / "m.json") == card
    assert card.variant_for_file("m.int8.onnx") == ("int8", v) and card.variant_for_file("m.onnx") is None


@pytest.mark.parametrize(
    ("section", "bad", "message"),
    [
        ("variant", {"sha256": "abc"}, "sha256 is not a sha256"),
        ("variant", {"precision": "int4"}, "precision must be one of"),
        ("variant", {"file": "../elsewhere/m.onnx"}, "file name beside the model"),
        ("variant", {"quantisation": None}, "needs its quantisation"),
        ("variant", {"quantisation": {"activation_type": "u4"}}, "activation_type must be"),
        ("variant", {"quantisation": {"float_tail": -1}}, "float_tail must be"),
        ("variant", {"calibration": {"set": "x", "frames": 0}}, "positive count"),
        ("variant", {"colour": "red"}, r"unknown field\(s\) \['colour'\]"),
        ("calibration", {"temperature": -1.0}, "temperature must be positive"),
        ("calibration", {"temperature": "hot"}, "temperature must be positive"),
        ("calibration", {"conf_threshold": 1.5}, r"conf_threshold must be in \[0, 1\]"),
        ("calibration", {"threshold": 0.5}, "unknown field"),
    ],
)
def test_bad_sections_are_one_line_errors(section, bad, message):
    d = BASE | (
        {"variants": {"int8": INT8 | bad}}
        if section == "variant"
        else {"calibration": {"temperature": 1.0} | bad}
    )
    with pytest.raises(ModelCardError, match=message) as err:
        ModelCard.from_dict(d)
    assert "\n" not in str(err.value) and str(err.value).startswith("model card 'm'")


def test_old_layout_loads_into_the_sections():
    old_variant = {
        "file": "m.int8.onnx", "sha256": SHA, "format": "qdq", "activations": "u8", "weights": "s8",
        "per_channel": False, "symmetric_activations": False, "tuned_for": "onnxruntime", "op_types": "all",
        "float_tail_nodes": 2, "calibration": {"set": "c", "frames": 5, "method": "minmax"},
        "slower_than_fp32": {"openvino": {"speedup": 0.9}},
    }  # fmt: skip
    fp16 = {"file": "m.fp16.onnx", "sha256": SHA, "format": "fp16", "io": "float32"}
    extra = {
        "model_name": "x",
        "variants": {"int8": old_variant, "fp16": fp16},
        "calibration": {"temperature": 2.0},
    }
    card = ModelCard.from_dict(BASE | {"extra": extra})
    assert card.extra == {"model_name": "x"} and card.calibration.temperature == 2.0
    v = card.variants["int8"]
    assert (v.precision, v.backend, v.quantisation.activation_type, v.quantisation.per_channel) == (
        "int8",
        "onnxruntime",
        "u8",
        False,
    )
    assert v.quantisation.reduce_range is None and v.quantisation.float_tail == 2  # not recorded then
    assert v.slower_than_fp32 == {"openvino": {"speedup": 0.9}}
    assert card.variants["fp16"].precision == "fp16" and card.variants["fp16"].quantisation is None
    with pytest.raises(ModelCardError, match="unknown field"):
        ModelCard.from_dict(BASE | {"extra": {"variants": {"int8": old_variant | {"bogus": 1}}}})


def test_sections_do_not_hide_in_extra():
    with pytest.raises(ModelCardError, match="belong in the card's own sections"):
        ModelCard(
            name="m",
            architecture="a",
            labels=("A2C", "A4C"),
            input_size_hw=(64, 64),
            extra={"calibration": {}},
        )


@pytest.mark.parametrize("path", sorted(ENGINES.glob("*.json")), ids=lambda p: p.stem)
def test_shipped_cards_are_in_the_typed_layout(path):
    raw = json.loads(path.read_text())
    assert "variants" not in raw["extra"] and "calibration" not in raw["extra"]
    card = ModelCard.load(path)
    if card.task == "classification":  # a segmenter's card has no confidence calibration
        assert card.calibration is not None and card.calibration.temperature > 0
    assert card.to_dict() == raw  # saving changes nothing: the file is what the card writes


def test_equalize_round_trips_and_is_written_only_when_set(tmp_path):
    base = {"name": "m", "architecture": "a", "labels": ("A2C", "A4C"), "input_size_hw": (64, 64)}
    card = ModelCard(**base, equalize=True)
    assert card.to_dict()["equalize"] is True
    assert ModelCard.load(card.save(tmp_path / "m.json")) == card
    plain = ModelCard(**base)
    assert "equalize" not in plain.to_dict() and ModelCard.from_dict(plain.to_dict()).equalize is False
    with pytest.raises(ModelCardError, match="equalize must be true or false"):
        ModelCard(**base, equalize="yes")
