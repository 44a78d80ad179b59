from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtecho.errors import EngineError, MissingExtraError, ModelCardError
from rtecho.runtime import (
    BackendSpec,
    available_backends,
    list_backends,
    load_engine,
    register_backend,
    unregister_backend,
)
from rtecho.runtime.tiny import build_tiny_classifier
from rtecho.types import ModelCard, card_path_for


def test_registry_has_every_backend():
    assert {"onnxruntime", "openvino", "tensorrt", "torch", "serve"} <= set(list_backends())
    assert "serve" not in available_backends()  # remote: needs a running service, never a default


def test_unknown_backend_and_precision(tiny_onnx):
    with pytest.raises(EngineError, match="unknown backend 'cuda'"):
        load_engine(tiny_onnx, backend="cuda")
    with pytest.raises(EngineError, match="unknown precision"):
        load_engine(tiny_onnx, precision="fp8")
    with pytest.raises(EngineError, match="does not support precision 'fp16'"):
        load_engine(tiny_onnx, backend="onnxruntime", precision="fp16")


def test_missing_int8_variant_is_explained(tiny_onnx):
    engine = load_engine(tiny_onnx, precision="int8")
    with pytest.raises(EngineError, match="no int8 variant"):
        engine.open()


def test_backend_not_installed_names_extra(tiny_onnx):
    register_backend(BackendSpec("fake", "rtecho.nope", "Nope", "rtecho_missing_pkg_xyz", "fakeextra"))
    try:
        with pytest.raises(MissingExtraError, match=r'pip install "rtecho\[fakeextra\]"'):
            load_engine(tiny_onnx, backend="fake")
    finally:
        unregister_backend("fake")
    assert "fake" not in list_backends()


def test_missing_file_and_card(tmp_path, tiny_onnx):
    with pytest.raises(EngineError, match="not found"):
        load_engine(tmp_path / "nothing.onnx")
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(tiny_onnx.read_bytes())
    with pytest.raises(EngineError, match="model card"):
        load_engine(lonely)
    card_path_for(lonely).write_text("{not json")
    with pytest.raises(EngineError, match="not valid JSON"):
        load_engine(lonely)


def test_model_by_name_from_engine_dir(tmp_path, monkeypatch, tiny_onnx):
    build_tiny_classifier(tmp_path / "mini.onnx", name="mini")
    monkeypatch.setenv("RTECHO_ENGINES", str(tmp_path))
    with load_engine("mini") as engine:
        assert engine.card.name == "mini"
    with pytest.raises(EngineError, match="known model names"):
        load_engine("no-such-model")


def test_tiny_builder_is_deterministic_and_marked_untrained(tmp_path):
    a = build_tiny_classifier(tmp_path / "a.onnx", seed=3)
    b = build_tiny_classifier(tmp_path / "b.onnx", seed=3)
    c = build_tiny_classifier(tmp_path / "c.onnx", seed=4)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    card = ModelCard.load(card_path_for(a))
    assert card.trained is False and "UNTRAINED" in card.training_data


def test_shipped_tiny_model_loads():
    with load_engine("tiny-untrained") as engine:
        assert engine.infer(np.zeros((1, 1, 128, 128), np.float32)).shape == (1, 13)


def test_model_card_validation(tmp_path):
    good = dict(name="m", architecture="a", labels=["A2C", "A4C"], input_size_hw=[64, 64])
    ModelCard.from_dict(good)
    for bad, msg in [
        ({"labels": ["A2C", "XYZ"]}, "unknown view label"),
        ({"labels": ["A2C"]}, "at least two"),
        ({"channels": 2}, "channels"),
        ({"mean": [0.1, 0.2]}, "mean has 2 values"),
        ({"std": [0.0]}, "std must be positive"),
        ({"onnx_sha256": "abc"}, "sha256"),
        ({"bogus": 1}, "unknown field"),
    ]:
        with pytest.raises(ModelCardError, match=msg):
            ModelCard.from_dict(good | bad)
    with pytest.raises(ModelCardError, match="incomplete"):
        ModelCard.from_dict({"name": "m"})


def test_card_task_segmentation_takes_non_view_labels_classification_does_not():
    from rtecho.types import ModelCard

    seg = ModelCard(
        name="s",
        architecture="unet",
        labels=("background", "LV"),
        input_size_hw=(112, 112),
        task="segmentation",
    )
    assert ModelCard.from_dict(seg.to_dict()).task == "segmentation"
    with pytest.raises(ModelCardError, match="unknown view label"):
        ModelCard(name="c", architecture="x", labels=("background", "LV"), input_size_hw=(112, 112))
    with pytest.raises(ModelCardError, match="task must be one of"):
        ModelCard(name="c", architecture="x", labels=("A4C", "A2C"), input_size_hw=(112, 112), task="detect")


def test_a_variant_file_finds_its_card_and_its_sha256_is_checked(tmp_path, caplog):
    import shutil

    from rtecho.runtime import open_model

    engines = Path(__file__).resolve().parents[2] / "engines"
    found = open_model(engines / "darts1.int8.onnx")
    assert found.path == engines / "darts1.onnx" and found.variant[0] == "int8"
    with load_engine(engines / "darts1.int8.onnx", backend="onnxruntime", warn=False) as engine:
        assert engine.precision == "int8" and engine.info.settings["file"] == "darts1.int8.onnx"
        assert engine.infer(np.zeros((1, 1, 128, 128), np.float32)).shape == (1, 13)
    with pytest.raises(EngineError, match="is the int8 variant of 'darts1'"):
        load_engine(engines / "darts1.int8.onnx", precision="fp32")
    for name in ("darts1.json", "darts1.int8.onnx"):
        shutil.copy(engines / name, tmp_path / name)
    damaged = tmp_path / "darts1.int8.onnx"
    damaged.write_bytes(damaged.read_bytes() + b"\0")
    with pytest.raises(EngineError, match="does not match the int8 variant in darts1.json"):
        load_engine(damaged)
    stray = tmp_path / "darts1.fp16.onnx"
    stray.write_bytes(b"not a model")
    with pytest.raises(EngineError, match="not a variant recorded in darts1.json"):
        load_engine(stray)


def test_rtecho_run_takes_a_variant_file(tmp_path, capsys):
    from rtecho.cli import main
    from tests.fixtures import make_png_folder

    engines = Path(__file__).resolve().parents[2] / "engines"
    clip, log = make_png_folder(tmp_path / "pngs", n=3), tmp_path / "log.jsonl"
    argv = [
        "run",
        str(clip),
        "--model",
        str(engines / "darts1.int8.onnx"),
        "--jsonl",
        str(log),
        "--no-progress",
    ]
    assert main([*argv, "--backend", "onnxruntime"]) == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 3 and {r["backend"] for r in rows} == {"onnxruntime/int8"}
    assert {r["model"] for r in rows} == {"darts1"}
