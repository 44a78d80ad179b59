"""`rtecho train` end to end with the real registry (skips itself while rtecho.models/synth are absent)."""

from __future__ import annotations

import importlib
import importlib.util
import json

import pytest
import torch

from rtecho.cli import main


def _has(module: str, attr: str | None = None) -> bool:
    if importlib.util.find_spec(module) is None:
        return False
    try:
        return attr is None or hasattr(importlib.import_module(module), attr)
    except ImportError:
        return False


needs_models = pytest.mark.skipif(not _has("rtecho.models"), reason="rtecho.models (registry) not present")


@needs_models
def test_train_on_folder_then_resume_then_eval(image_folder, tmp_path):
    out = tmp_path / "run"
    args = ["train", "stanet", "--data", str(image_folder), "--size", "32", "--batch-size", "4", "--quiet"]
    assert main([*args, "--epochs", "1", "--out", str(out)]) == 0
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["config"]["labels"] == ["A4C", "PLAX"]
    assert ckpt["config"]["input_size_hw"] == [32, 32]
    assert main([*args, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 2
    res = tmp_path / "eval.json"
    assert (
        main(["eval", "stanet", str(image_folder), "--checkpoint", str(out / "best.pt"), "--json", str(res)])
        == 0
    )
    assert json.loads(res.read_text())["n"] == 12


@needs_models
def test_train_rejects_bad_views_and_models(image_folder, tmp_path, capsys):
    assert main(["train", "stanet", "--synth", "2", "--views", "A4C", "NOPE", "--out", str(tmp_path)]) == 1
    assert "NOPE" in capsys.readouterr().err
    assert main(["train", "no_such_model", "--data", str(image_folder), "--out", str(tmp_path)]) == 1
    assert "no_such_model" in capsys.readouterr().err


@needs_models
@pytest.mark.skipif(not _has("rtecho.synth", "render_view"), reason="rtecho.synth.render_view not present")
def test_train_on_the_simulator(tmp_path):
    out = tmp_path / "synth"
    argv = ["train", "stanet", "--synth", "2", "--views", "A4C", "PLAX", "--size", "32", "--epochs", "1"]
    assert main([*argv, "--batch-size", "2", "--out", str(out), "--quiet"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["labels"] == ["A4C", "PLAX"] and cfg["n_train"] == 4 and "rtecho.synth" in cfg["training_data"]


@needs_models
def test_equalize_goes_from_train_into_the_exported_card(image_folder, tmp_path):
    from rtecho.runtime import load_engine
    from rtecho.runtime.preprocess import Preprocessor

    out = tmp_path / "run"
    args = ["train", "stanet", "--data", str(image_folder), "--size", "32", "--batch-size", "4"]
    assert main([*args, "--epochs", "1", "--equalize", "--quiet", "--out", str(out)]) == 0
    assert torch.load(out / "best.pt", weights_only=True)["config"]["equalize"] is True
    onnx = tmp_path / "eq.onnx"
    assert main(["export", "stanet", "--checkpoint", str(out / "best.pt"), "--out", str(onnx)]) == 0
    card = load_engine(onnx).card
    assert card.equalize is True and json.loads(onnx.with_suffix(".json").read_text())["equalize"] is True
    assert Preprocessor(card).equalize
    plain = tmp_path / "plain"
    assert main([*args, "--epochs", "1", "--quiet", "--out", str(plain)]) == 0
    assert torch.load(plain / "best.pt", weights_only=True)["config"]["equalize"] is False
